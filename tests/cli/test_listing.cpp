// The list verbs as Docker users script them: ps, images, network ls and volume ls with
// --filter, --format (templates, \t, the table directive) and -q; bad filters and templates
// are one line with exit 125.
#include <catch2/catch.hpp>

#include "container_support.hpp"

using gctool::test::TestRoot;
using gctool::test::unique_name;

namespace {

int count_lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("ps filters, limits and formats as docker ps", "[root]") {
  TestRoot root;
  const auto a = unique_name("lsa");
  const auto b = unique_name("lsb");
  const auto c = unique_name("lsc");
  const auto vol = unique_name("lsv");
  REQUIRE(root.run({"run", "--name", a, "--network", "none", "busybox", "true"}).exit_code == 0);
  REQUIRE(root.run({"run", "--name", b, "--network", "none", "-v", vol + ":/data", "busybox", "sh",
                    "-c", "echo hi > /data/x; echo abc > /file; exit 3"})
              .exit_code == 3);
  REQUIRE(root.run({"run", "-d", "--name", c, "--network", "none", "busybox", "sleep", "30"})
              .exit_code == 0);
  const auto names = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "ps");
    args.insert(args.end(), {"--format", "{{.Names}}"});
    const auto out = root.run(args);
    CHECK(out.exit_code == 0);
    return out.out;
  };
  CHECK(names({}) == c + "\n");
  CHECK(names({"-a"}) == c + "\n" + b + "\n" + a + "\n");
  // A status filter lists stopped containers without -a, as Docker's.
  CHECK(names({"--filter", "status=exited"}) == b + "\n" + a + "\n");
  CHECK(names({"-f", "status=running"}) == c + "\n");
  CHECK(names({"-a", "--filter", "exited=3"}) == b + "\n");
  CHECK(names({"-a", "--filter", "exited=0", "--filter", "exited=3"}) == b + "\n" + a + "\n");
  CHECK(names({"-a", "--filter", "name=" + b}) == b + "\n");
  CHECK(names({"-a", "--filter", "name=^/lsa"}) == a + "\n");
  const auto id_a = root.run({"inspect", "-f", "{{.Id}}", a}).out.substr(0, 8);
  CHECK(names({"-a", "--filter", "id=" + id_a}) == a + "\n");
  CHECK(names({"-a", "--filter", "ancestor=busybox"}) == c + "\n" + b + "\n" + a + "\n");
  CHECK(names({"-a", "--filter", "ancestor=nosuch"}).empty());
  CHECK(names({"-a", "--filter", "network=none"}) == c + "\n" + b + "\n" + a + "\n");
  CHECK(names({"-a", "--filter", "network=bridge"}).empty());
  CHECK(names({"-a", "--filter", "volume=" + vol}) == b + "\n");
  CHECK(names({"-a", "--filter", "volume=/data"}) == b + "\n");
  CHECK(names({"-a", "--filter", "before=" + b}) == a + "\n");
  CHECK(names({"-a", "--filter", "since=" + a}) == c + "\n" + b + "\n");
  CHECK(names({"-a", "--filter", "label=nosuch"}).empty());
  CHECK(names({"-n", "2"}) == c + "\n" + b + "\n");
  CHECK(names({"-l"}) == c + "\n");
  // -q prints IDs, full ones with --no-trunc.
  const auto quiet = root.run({"ps", "-aq", "--no-trunc", "--filter", "name=" + a});
  CHECK(quiet.out.size() == 65);
  // -s: what the container wrote, and with its image.
  const auto size = root.run({"ps", "-a", "-s", "--filter", "name=" + b, "--format", "{{.Size}}"});
  CHECK_THAT(size.out, Catch::Matches("[0-9.]+k?B \\(virtual [0-9.]+[kM]B\\)\n"));
  CHECK(root.run({"ps", "-s", "-l"}).out.find("   SIZE\n") != std::string::npos);
  // \t is a tab; the table directive adds a header and aligns the columns as Docker's tabwriter.
  CHECK(root.run({"ps", "--format", "{{.Names}}\\t{{.State}}"}).out == c + "\trunning\n");
  const auto table = root.run({"ps", "-a", "--filter", "name=" + a, "--format",
                               "table {{.Names}}\\t{{.State}}\\t{{.Status}}"});
  const auto pad = std::string(a.size() + 3 - 5, ' ');
  CHECK_THAT(table.out, Catch::StartsWith("NAMES" + pad + "STATE     STATUS\n" + a +
                                          "   exited    Exited (0) "));
  CHECK(count_lines(table.out) == 2);
  // json: one object a line.
  const auto json = root.run({"ps", "-a", "--format", "json"});
  REQUIRE(count_lines(json.out) == 3);
  CHECK(nlohmann::json::parse(json.out.substr(0, json.out.find('\n')))["Names"] == c);
  // Bad input: one line, exit 125, nothing printed.
  for (const auto& bad :
       std::vector<std::vector<std::string>>{{"ps", "--filter", "nosuch=1"},
                                             {"ps", "--filter", "status"},
                                             {"ps", "--filter", "status=sleeping"},
                                             {"ps", "--filter", "exited=x"},
                                             {"ps", "--format", "{{.Nosuch}}"},
                                             {"ps", "--format", "{{range .Names}}"},
                                             {"ps", "--filter", "before=nosuch"}}) {
    const auto out = root.run(bad);
    INFO(out.err);
    // A container that does not exist is Docker's daemon error, exit 1.
    CHECK(out.exit_code == (bad.back() == "before=nosuch" ? 1 : 125));
    CHECK(out.out.empty());
    CHECK(count_lines(out.err) == 1);
  }
  CHECK(root.run({"ps", "--filter", "nosuch=1"}).err == "gctool: invalid filter 'nosuch'\n");
  CHECK(root.run({"rm", "-f", a, b, c}).exit_code == 0);
  CHECK(root.run({"volume", "rm", vol}).exit_code == 0);
  CHECK(root.leaks().empty());
}

TEST_CASE("images, network ls and volume ls take --filter, --format and -q", "[root]") {
  TestRoot root;
  const auto vol = unique_name("lsvol");
  const auto net = unique_name("lsnet");
  REQUIRE(root.run({"volume", "create", vol}).exit_code == 0);
  REQUIRE(root.run({"network", "create", "--subnet", "10.231.7.0/24", net}).exit_code == 0);
  // images
  CHECK(root.run({"images", "--format", "{{.Repository}}:{{.Tag}}"}).out == "busybox:latest\n");
  CHECK(root.run({"images", "--filter", "reference=busy*", "-q"}).out.size() == 13);
  CHECK(root.run({"images", "--filter", "dangling=true", "-q"}).out.empty());
  CHECK(root.run({"images", "nosuch"}).out == "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n");
  CHECK_THAT(root.run({"images", "--format", "table {{.Repository}}\\t{{.Tag}}"}).out,
             Catch::Equals("REPOSITORY   TAG\nbusybox      latest\n"));
  CHECK(root.run({"images", "--filter", "dangling=maybe"}).exit_code == 125);
  // network ls
  CHECK(root.run({"network", "ls", "--filter", "name=" + net, "--format", "{{.Name}} {{.Driver}}"})
            .out == net + " bridge\n");
  CHECK(root.run({"network", "ls", "-q", "--filter", "name=" + net}).out.size() == 13);
  CHECK(root.run({"network", "ls", "--filter", "driver=macvlan", "-q"}).out.empty());
  CHECK(root.run({"network", "ls", "--filter", "type=custom", "--format", "{{.Name}}"}).out ==
        net + "\n");
  CHECK(root.run({"network", "ls", "--filter", "bogus=1"}).exit_code == 125);
  // volume ls: Docker's tabwriter pads DRIVER to its minimum width of 10.
  CHECK(root.run({"volume", "ls"}).out == "DRIVER    VOLUME NAME\nlocal     " + vol + "\n");
  CHECK(root.run({"volume", "ls", "--filter", "dangling=true", "-q"}).out == vol + "\n");
  CHECK(root.run({"volume", "ls", "--filter", "name=nosuch", "-q"}).out.empty());
  CHECK(root.run({"volume", "ls", "--format", "{{.Name}}: {{.Mountpoint}}"}).out ==
        vol + ": " + root.root() + "/volumes/" + vol + "/_data\n");
  const auto bad = root.run({"volume", "ls", "--format", "{{.Name"});
  CHECK(bad.exit_code == 125);
  CHECK(count_lines(bad.err) == 1);
  CHECK(root.run({"volume", "rm", vol}).exit_code == 0);
  CHECK(root.run({"network", "rm", net}).exit_code == 0);
  CHECK(root.leaks().empty());
}
