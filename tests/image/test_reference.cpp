#include <catch2/catch.hpp>

#include "gctool/core/error.hpp"
#include "gctool/image/change.hpp"
#include "gctool/image/reference.hpp"

using gctool::image::apply_change;
using gctool::image::ImageConfig;
using gctool::image::parse_reference;
using gctool::image::Reference;

TEST_CASE("references split into name and tag, latest by default") {
  CHECK(parse_reference("busybox") == Reference{"busybox", "latest"});
  CHECK(parse_reference("busybox:1.36") == Reference{"busybox", "1.36"});
  CHECK(parse_reference("localhost/bb:latest") == Reference{"localhost/bb", "latest"});
  CHECK(parse_reference("localhost:5000/bb") == Reference{"localhost:5000/bb", "latest"});
  CHECK(parse_reference("localhost:5000/bb:v1") == Reference{"localhost:5000/bb", "v1"});
  CHECK(parse_reference("a/b").str() == "a/b:latest");
}

TEST_CASE("malformed references are refused") {
  for (const char* bad : {"", "Busybox", "bb:", ":tag", "bb:-x", "a b", "/bb", "bb/", "a//b"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_reference(bad), gctool::Error);
  }
}

TEST_CASE("references follow Docker's grammar: no path tricks, no control characters") {
  for (const char* bad : {"../../../etc/evil:1",
                          "..",
                          "a/../b",
                          "a/./b",
                          "./a",
                          "a..b",
                          "a._b",
                          "a.",
                          "_a",
                          "-a",
                          "a-",
                          "a___b",
                          "bb:.x",
                          "bb:x\ny",
                          "b\nb",
                          "bb\t",
                          "bb:1\x7f",
                          "localhost:/a",
                          "local_host:5000/a",
                          "-reg.io/a",
                          "reg.io:50a0/a",
                          "reg..io/a",
                          "a/B",
                          "bb@x"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_reference(bad), Catch::Contains("invalid reference format"));
  }
  for (const char* good :
       {"a", "a.b", "a_b", "a__b", "a---b", "a-b.c_d", "docker.io/library/busybox:1.36",
        "Reg.Example.com:5000/team/app:V1_2", "localhost/a", "[::1]:5000/a:b", "a/b/c:_x"}) {
    INFO(good);
    CHECK_NOTHROW(parse_reference(good));
  }
  CHECK(parse_reference("reg.io:5000/a/b:v1") == Reference{"reg.io:5000/a/b", "v1"});
}

TEST_CASE("flag --change instructions update the image configuration") {
  ImageConfig c;
  c = apply_change(c, R"(CMD ["/bin/echo", "hi"])");
  CHECK(c.cmd == std::vector<std::string>{"/bin/echo", "hi"});
  c = apply_change(c, "entrypoint /bin/sh");
  CHECK(c.entrypoint == std::vector<std::string>{"/bin/sh", "-c", "/bin/sh"});
  c = apply_change(c, "ENV A=1 B=\"two words\"");
  c = apply_change(c, "ENV A 3");
  CHECK(c.env == std::vector<std::string>{"B=two words", "A=3"});
  c = apply_change(c, "WORKDIR /srv");
  c = apply_change(c, "USER nobody");
  c = apply_change(c, "LABEL x=y");
  c = apply_change(c, "EXPOSE 80 53/udp");
  c = apply_change(c, "STOPSIGNAL SIGINT");
  CHECK(c.working_dir == "/srv");
  CHECK(c.user == "nobody");
  CHECK(c.labels.at("x") == "y");
  CHECK(c.exposed_ports == std::vector<std::string>{"80/tcp", "53/udp"});
  CHECK(c.stop_signal == "SIGINT");
  CHECK_THROWS_WITH(apply_change(c, "RUN rm -rf /"), Catch::Contains("unsupported"));
  CHECK_THROWS_AS(apply_change(c, "CMD"), gctool::Error);
}

TEST_CASE("image configuration round-trips through Docker's JSON") {
  ImageConfig c;
  c.cmd = {"sh"};
  c.env = {"PATH=/bin"};
  c.exposed_ports = {"80/tcp"};
  c.labels = {{"a", "b"}};
  const nlohmann::json j = c;
  CHECK(j.at("Cmd") == nlohmann::json({"sh"}));
  CHECK(j.at("ExposedPorts").contains("80/tcp"));
  CHECK(j.get<ImageConfig>() == c);
  CHECK(nlohmann::json::parse(R"({"Cmd": null, "Env": null})").get<ImageConfig>() == ImageConfig{});
}
