// `gctool build` end to end, as root: multi-stage builds with every instruction, the layer cache,
// bad Dockerfiles, failing and cancelled steps, and that nothing is left behind.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "container_support.hpp"
#include "image_support.hpp"
#include "registry_support.hpp"

using namespace gctool::test;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

// The build's step lines "#N [stage i/n] TEXT" mapped to how they ended: "CACHED" or "DONE".
std::map<std::string, std::string> step_results(const std::string& progress) {
  std::map<std::string, std::string> titles;
  std::map<std::string, std::string> out;
  std::istringstream in(progress);
  const std::regex header(R"(^#(\d+) \[[^\]]+\] (.*)$)");
  const std::regex end(R"(^#(\d+) (CACHED|DONE .*)$)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, header)) {
      titles[m[1]] = m[2];
    } else if (std::regex_match(line, m, end) && titles.contains(m[1])) {
      out[titles[m[1]]] = m[2].str().substr(0, 6) == "CACHED" ? "CACHED" : "DONE";
    }
  }
  return out;
}

std::size_t image_count(const TestRoot& root) {
  const auto ls = root.run({"image", "ls", "-q"});
  return static_cast<std::size_t>(std::count(ls.out.begin(), ls.out.end(), '\n'));
}

std::set<std::string> builder_temps(const TestRoot& root) {
  return directory_entries(fs::path(root.root()) / "builder" / "tmp");
}

// No container, build directory, mount or cgroup is left.
void check_nothing_left(const TestRoot& root) {
  CHECK(root.run({"ps", "-a", "-q"}).out.empty());
  CHECK(builder_temps(root).empty());
  CHECK(root.leaks().empty());
}

const char* kFullDockerfile = R"DF(# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS builder
ARG GREETING=hello
ENV BUILD_DIR=/build
WORKDIR $BUILD_DIR
COPY --chmod=755 app/ ./app/
COPY data.txt notes/*.md ./
ADD files.tar.gz /build/unpacked/
RUN --mount=type=cache,target=/cache echo "$GREETING from $(pwd)" > greeting.txt \
    && echo x >> /cache/count
RUN <<EOF
echo heredoc > /build/heredoc.txt
EOF
RUN touch /build/intermediate-only

FROM busybox
LABEL org.example.name="demo app" version=1
MAINTAINER someone
ENV APP_HOME=/app \
    PATH=/app/bin:/usr/bin:/bin
WORKDIR /app
COPY --from=builder /build/greeting.txt /build/heredoc.txt /build/app/ /app/bin/
COPY --from=builder --chown=1000:1000 /build/unpacked/ /app/unpacked/
COPY <<EOF /app/config.txt
home=${APP_HOME}
EOF
RUN echo 'appuser:x:1000:1000::/app:/bin/sh' >> /etc/passwd
USER appuser
EXPOSE 8080 53/udp
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s CMD ["true"]
SHELL ["/bin/sh", "-c"]
ONBUILD RUN echo onbuild
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/bin/greeting.txt"]
)DF";

void make_full_context(const fs::path& ctx) {
  write(ctx / "Dockerfile", kFullDockerfile);
  write(ctx / "app" / "run.sh", "#!/bin/sh\necho run\n");
  write(ctx / "data.txt", "data\n");
  write(ctx / "notes" / "a.md", "a\n");
  write(ctx / "notes" / "b.md", "b\n");
  write(ctx / "notes" / "c.txt", "not copied\n");
  TarBuilder tar(TarBuilder::Compression::gzip);
  tar.dir("inner").file("inner/inner.txt", "inner\n");
  write(ctx / "files.tar.gz", tar.finish());
}

}  // namespace

TEST_CASE("a multi-stage build with every instruction gives the image Docker would",
          "[root][build]") {
  TestRoot root;
  TempDir ctx("gct-build-ctx");
  make_full_context(ctx.path());
  const auto built = root.run({"build", "--network", "none", "-t", "demo:1", ctx.str()});
  INFO(built.err);
  REQUIRE(built.exit_code == 0);
  CHECK(built.err.find("WARNING: the syntax directive") != std::string::npos);

  const auto run = root.run({"run", "--rm", "--network", "none", "demo:1"});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "hello from /build\n");
  const auto look =
      root.run({"run", "--rm", "--network", "none", "demo:1",
                "id -u; pwd; echo $APP_HOME; ls /app/bin; cat /app/config.txt; "
                "test -e /build || echo no-build; cat /app/unpacked/inner/inner.txt; "
                "stat -c %u /app/unpacked/inner/inner.txt; stat -c %a /app/bin/run.sh"});
  CHECK(look.exit_code == 0);
  CHECK(look.out ==
        "1000\n/app\n/app\ngreeting.txt\nheredoc.txt\nrun.sh\nhome=/app\nno-build\ninner\n"
        "1000\n755\n");

  const auto inspect = nlohmann::json::parse(root.run({"image", "inspect", "demo:1"}).out).at(0);
  const auto& c = inspect.at("Config");
  CHECK(c.at("Cmd") == nlohmann::json({"cat /app/bin/greeting.txt"}));
  CHECK(c.at("Entrypoint") == nlohmann::json({"/bin/sh", "-c"}));
  CHECK(c.at("WorkingDir") == "/app");
  CHECK(c.at("User") == "appuser");
  CHECK(c.at("Env") == nlohmann::json({"PATH=/app/bin:/usr/bin:/bin", "APP_HOME=/app"}));
  CHECK(c.at("ExposedPorts") == nlohmann::json({{"8080/tcp", nlohmann::json::object()},
                                                {"53/udp", nlohmann::json::object()}}));
  CHECK(c.at("Labels") == nlohmann::json({{"org.example.name", "demo app"}, {"version", "1"}}));
  CHECK(c.at("Volumes") == nlohmann::json({{"/data", nlohmann::json::object()}}));
  CHECK(c.at("StopSignal") == "SIGTERM");
  CHECK(c.at("Healthcheck").at("Test") == nlohmann::json({"CMD", "true"}));
  CHECK(c.at("Healthcheck").at("Interval") == 30'000'000'000LL);
  CHECK(c.at("OnBuild") == nlohmann::json({"RUN echo onbuild"}));
  CHECK(inspect.at("Author") == "someone");

  // --target: only the first stage runs; its files are in the result.
  const auto first = root.run({"build", "--network", "none", "--progress", "plain", "--target",
                               "builder", "-t", "first", ctx.str()});
  REQUIRE(first.exit_code == 0);
  CHECK(first.err.find("[stage-1") == std::string::npos);
  const auto files = root.run({"run", "--rm", "--network", "none", "first", "ls", "/build"});
  CHECK(files.out ==
        "a.md\napp\nb.md\ndata.txt\ngreeting.txt\nheredoc.txt\nintermediate-only\n"
        "unpacked\n");
  CHECK(root.leaks().empty());
  CHECK(builder_temps(root).empty());
}

TEST_CASE("the cache: unchanged rebuilds run nothing, a change reruns from its step",
          "[root][build]") {
  TestRoot root;
  TempDir ctx("gct-build-ctx");
  write(ctx.path() / "Dockerfile",
        "FROM busybox\n"
        "COPY a.txt /a.txt\n"
        "RUN cat /a.txt > /copy.txt\n"
        "COPY b.txt /b.txt\n"
        "ARG V=1\n"
        "RUN echo $V > /v.txt\n"
        "RUN date +%s%N > /stamp\n");
  write(ctx.path() / "a.txt", "a\n");
  write(ctx.path() / "b.txt", "b\n");
  const std::vector<std::string> build = {"build", "--network", "none", "-t", "c", ctx.str()};
  const auto cold = root.run(build);
  REQUIRE(cold.exit_code == 0);
  const std::string id = cold.out;

  const auto warm = root.run(build);
  REQUIRE(warm.exit_code == 0);
  CHECK(warm.out == id);  // the same image, as BuildKit gives
  auto steps = step_results(warm.err);
  REQUIRE(steps.size() == 6);
  for (const auto& [title, how] : steps) {
    if (title.rfind("FROM", 0) != 0) {
      CHECK(how == "CACHED");
    }
  }

  // Touching a file without changing it keeps the cache (content, not mtimes).
  fs::last_write_time(ctx.path() / "b.txt", fs::file_time_type::clock::now());
  CHECK(root.run(build).out == id);

  // A mode is content: a file made executable is copied again.
  fs::permissions(ctx.path() / "a.txt", fs::perms::owner_exec, fs::perm_options::add);
  steps = step_results(root.run(build).err);
  CHECK(steps["COPY a.txt /a.txt"] == "DONE");
  CHECK(root.run({"run", "--rm", "--network", "none", "c", "stat", "-c", "%a", "/a.txt"}).out ==
        "744\n");

  write(ctx.path() / "b.txt", "changed\n");
  steps = step_results(root.run(build).err);
  CHECK(steps["COPY a.txt /a.txt"] == "CACHED");
  CHECK(steps["RUN cat /a.txt > /copy.txt"] == "CACHED");
  CHECK(steps["COPY b.txt /b.txt"] == "DONE");
  CHECK(steps["RUN echo $V > /v.txt"] == "DONE");
  CHECK(steps["RUN date +%s%N > /stamp"] == "DONE");

  auto with_arg = build;
  with_arg.insert(with_arg.begin() + 1, {"--build-arg", "V=2"});
  const auto changed = root.run(with_arg);
  steps = step_results(changed.err);
  CHECK(steps["COPY b.txt /b.txt"] == "CACHED");
  CHECK(steps["RUN cat /a.txt > /copy.txt"] == "CACHED");
  CHECK(steps["RUN echo $V > /v.txt"] == "DONE");
  CHECK(steps["RUN date +%s%N > /stamp"] == "DONE");
  CHECK(root.run({"run", "--rm", "--network", "none", "c", "cat", "/v.txt"}).out == "2\n");

  // --no-cache runs everything; builder prune empties the cache.
  auto no_cache = build;
  no_cache.insert(no_cache.begin() + 1, "--no-cache");
  for (const auto& [title, how] : step_results(root.run(no_cache).err)) {
    CHECK(how == "DONE");
  }
  CHECK(root.run({"builder", "prune", "-f"}).exit_code == 0);
  CHECK(directory_entries(fs::path(root.root()) / "builder" / "cache").empty());
  for (const auto& [title, how] : step_results(root.run(build).err)) {
    CHECK(how == "DONE");
  }
  CHECK(root.leaks().empty());
}

TEST_CASE("the cache sees an edit that keeps a copied file's size and mtime", "[root][build]") {
  TestRoot root;
  TempDir ctx("gct-build-ctx");
  write(ctx.path() / "Dockerfile", "FROM busybox\nCOPY a.txt /a.txt\n");
  const fs::path file = ctx.path() / "a.txt";
  write(file, "one\n");
  // Older than the build by more than the settling time: its digest is remembered.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const std::vector<std::string> build = {"build", "--network", "none", "-t", "e", ctx.str()};
  REQUIRE(root.run(build).exit_code == 0);
  REQUIRE(fs::exists(fs::path(root.root()) / "builder" / "file-hashes"));
  CHECK(step_results(root.run(build).err)["COPY a.txt /a.txt"] == "CACHED");

  const auto mtime = fs::last_write_time(file);
  write(file, "two\n");
  fs::last_write_time(file, mtime);
  CHECK(step_results(root.run(build).err)["COPY a.txt /a.txt"] == "DONE");
  CHECK(root.run({"run", "--rm", "--network", "none", "e", "cat", "/a.txt"}).out == "two\n");
  CHECK(root.leaks().empty());
}

TEST_CASE("COPY layers are deterministic and .dockerignore is honoured", "[root][build]") {
  TestRoot root;
  TempDir ctx("gct-build-ctx");
  write(ctx.path() / "Dockerfile", "FROM busybox\nCOPY . /src/\n");
  write(ctx.path() / ".dockerignore", "*.log\nsecret/\n!secret/keep.txt\n# comment\n");
  write(ctx.path() / "main.c", "int main;\n");
  write(ctx.path() / "debug.log", "log\n");
  write(ctx.path() / "secret" / "key", "key\n");
  write(ctx.path() / "secret" / "keep.txt", "keep\n");
  const auto first = root.run({"build", "-q", "--network", "none", ctx.str()});
  REQUIRE(first.exit_code == 0);
  const auto ls = root.run(
      {"run", "--rm", "--network", "none", first.out.substr(0, 71), "find", "/src", "-type", "f"});
  CHECK(ls.out.find("/src/main.c") != std::string::npos);
  CHECK(ls.out.find("/src/secret/keep.txt") != std::string::npos);
  CHECK(ls.out.find("debug.log") == std::string::npos);
  CHECK(ls.out.find("/src/secret/key\n") == std::string::npos);
  const auto layers = [&](const std::string& out) {
    return nlohmann::json::parse(root.run({"image", "inspect", out.substr(0, 71)}).out)
        .at(0)
        .at("RootFS")
        .at("Layers");
  };
  const auto again = root.run({"build", "-q", "--no-cache", "--network", "none", ctx.str()});
  REQUIRE(again.exit_code == 0);
  CHECK(layers(first.out) == layers(again.out));

  // The same context as a tar on stdin.
  TarBuilder tar;
  tar.file("Dockerfile", "FROM busybox\nCOPY x /x\n").file("x", "from tar\n");
  const auto piped =
      root.run({"build", "-q", "--network", "none", "-t", "piped", "-"}, tar.finish());
  INFO(piped.err);
  REQUIRE(piped.exit_code == 0);
  CHECK(root.run({"run", "--rm", "--network", "none", "piped", "cat", "/x"}).out == "from tar\n");
  CHECK(builder_temps(root).empty());
}

TEST_CASE("bad input: one line naming the Dockerfile line, exit 1, nothing stored",
          "[root][build]") {
  TestRoot root;
  TempDir ctx("gct-build-ctx");
  TempDir outside("gct-build-out");
  write(outside.path() / "secret", "secret\n");
  write(ctx.path() / "present.txt", "x\n");
  fs::create_symlink(outside.path() / "secret", ctx.path() / "abs-link");
  fs::create_symlink("../../../../../../../../../" + (outside.path() / "secret").string(),
                     ctx.path() / "rel-link");
  const std::size_t images = image_count(root);
  // Images the store lacks are pulled: from a loopback port nothing listens on.
  const std::string nowhere = fmt::format("127.0.0.1:{}/nowhere", free_loopback_port());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"FROM busybox\nRUN true\nFOO bar\n", "Dockerfile:3: unknown instruction: FOO"},
      {"FROM busybox\nCOPY missing.txt /x\n", "Dockerfile:2: COPY: missing.txt: not found"},
      {"FROM busybox\n\nCOPY ../present.txt /x\n",
       "Dockerfile:3: COPY: ../present.txt: forbidden path outside the build context"},
      {"FROM busybox\nCOPY abs-link /x\n", "Dockerfile:2: COPY: abs-link: forbidden path"},
      {"FROM busybox\nCOPY rel-link /x\n", "Dockerfile:2: COPY: rel-link: forbidden path"},
      {"FROM busybox\nENV A=${B\n", "Dockerfile:2: ENV: missing '}'"},
      {"FROM busybox\nARG X\nRUN true\nWORKDIR ${X:?must be given}\n",
       "Dockerfile:4: WORKDIR: X: must be given"},
      {"FROM busybox\nCOPY --from=" + nowhere + " /x /x\n",
       "Dockerfile:2: COPY --from=" + nowhere + ": no stage or image named " + nowhere +
           ": cannot reach registry"},
      {"FROM busybox\nADD http://example.com/x /x\n",
       "Dockerfile:2: ADD: http://example.com/x: "
       "URLs are not supported"},
      {"FROM " + nowhere + "\n", "Dockerfile:1: FROM " + nowhere + ": cannot reach registry"},
  };
  for (const auto& [dockerfile, message] : cases) {
    write(ctx.path() / "Dockerfile", dockerfile);
    const auto r = root.run({"build", "--network", "none", "-q", "-t", "bad", ctx.str()});
    INFO(dockerfile);
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    const auto last = r.err.substr(r.err.rfind("gctool: "));
    CHECK(last.rfind("gctool: " + message, 0) == 0);
    CHECK(std::count(last.begin(), last.end(), '\n') == 1);
  }
  write(ctx.path() / "Dockerfile", "FROM busybox AS a\n");
  const auto target = root.run({"build", "--target", "b", ctx.str()});
  CHECK(target.exit_code == 1);
  CHECK(target.err == "gctool: target stage \"b\" could not be found\n");
  CHECK(root.run({"build", "--network", "mars", ctx.str()}).exit_code == 125);
  CHECK(image_count(root) == images);
  CHECK(root.run({"image", "ls", "bad"}).out.find("bad") == std::string::npos);
  CHECK(builder_temps(root).empty());
  CHECK(root.leaks().empty());
}

TEST_CASE("a failing RUN shows its output and leaves no container, mount or file",
          "[root][build]") {
  TestRoot root;
  TempDir ctx("gct-build-ctx");
  write(ctx.path() / "Dockerfile",
        "FROM busybox\nRUN echo ok > /ok\nRUN echo some output; echo to stderr >&2; exit 3\n");
  const std::size_t images = image_count(root);
  const auto r = root.run({"build", "--network", "none", "-t", "broken", ctx.str()});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("some output") != std::string::npos);
  CHECK(r.err.find("to stderr") != std::string::npos);
  CHECK(r.err.find("gctool: Dockerfile:3: RUN: process \"/bin/sh -c echo some output; echo to "
                   "stderr >&2; exit 3\" did not complete successfully: exit code: 3\n") !=
        std::string::npos);
  // The first RUN is in the cache (one untagged image keeps its layer); no image "broken".
  CHECK(image_count(root) == images + 1);
  CHECK(root.run({"ps", "-a", "-q"}).out.empty());
  CHECK(builder_temps(root).empty());
  CHECK(root.leaks().empty());
}

TEST_CASE("a build killed by SIGINT or SIGTERM releases its running step", "[root][build]") {
  TestRoot root;
  TempDir ctx("gct-build-ctx");
  for (const int sig : {SIGINT, SIGTERM}) {
    write(ctx.path() / "Dockerfile",
          fmt::format("FROM busybox\nRUN echo {} > /marker; sleep 60\n", sig));
    Background build(root, {"build", "--network", "none", ctx.str()});
    // Wait for the step's container to run.
    REQUIRE(wait_until(
        [&] {
          return !root.run({"ps", "-q"}).out.empty();
        },
        std::chrono::seconds(20)));
    const auto started = std::chrono::steady_clock::now();
    ::kill(build.pid(), sig);
    CHECK(build.wait() == 128 + sig);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
    CHECK(root.run({"ps", "-a", "-q"}).out.empty());
    CHECK(builder_temps(root).empty());
    CHECK(root.leaks().empty());
  }
}

namespace {

// A RUN that leaves its mark in the cache mount both stages share and waits (up to 30 s) for the
// other stage's mark: one after the other, the first stage to run would fail.
std::string meeting_step(const std::string& me, const std::string& other) {
  return fmt::format(
      "RUN --mount=type=cache,id=meet,target=/meet sh -c 'touch /meet/{0}; i=0; "
      "while [ ! -e /meet/{1} ]; do i=$((i+1)); [ $i -lt 300 ] || exit 7; sleep 0.1; done; "
      "echo {0} met {1} > /{0}.txt'\n",
      me, other);
}

}  // namespace

TEST_CASE("independent stages build at the same time, with the cache keys of one at a time",
          "[root][build]") {
  TestRoot root;
  TempDir ctx("gct-build-ctx");
  write(ctx.path() / "Dockerfile",
        "FROM busybox AS left\n" + meeting_step("left", "right") + "FROM busybox AS right\n" +
            meeting_step("right", "left") +
            "FROM busybox\nCOPY --from=left /left.txt /\nCOPY --from=right /right.txt /\n"
            "CMD [\"cat\", \"/left.txt\", \"/right.txt\"]\n");
  const auto started = std::chrono::steady_clock::now();
  const auto built =
      root.run({"build", "--network", "none", "--progress", "plain", "-t", "met", ctx.str()});
  INFO(built.err);
  REQUIRE(built.exit_code == 0);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(25));
  CHECK(root.run({"run", "--rm", "--network", "none", "met"}).out ==
        "left met right\nright met left\n");
  // The progress stays readable: every line belongs to a step, every step has one header and
  // one end, and the numbers of the steps that ran at once do not collide.
  std::map<std::string, int> headers;
  std::map<std::string, int> ends;
  std::istringstream in(built.err);
  const std::regex any(R"(^#(\d+) (.*)$)");
  const std::regex header(R"(^#(\d+) (\[[^\]]+\] .*|exporting to image)$)");
  const std::regex end(R"(^#(\d+) (CACHED|DONE \d+\.\ds)$)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    INFO(line);
    CHECK(std::regex_match(line, m, any));
    if (std::regex_match(line, m, header)) {
      ++headers[m[1]];
    } else if (std::regex_match(line, m, end)) {
      ++ends[m[1]];
    }
  }
  CHECK(headers.size() == 8);  // three FROM, two RUN, two COPY, the export
  CHECK(headers == ends);
  for (const auto& [number, count] : headers) {
    CHECK(count == 1);
  }
  std::string run_left = meeting_step("left", "right");
  std::string run_right = meeting_step("right", "left");
  run_left.pop_back();
  run_right.pop_back();
  CHECK(step_results(built.err)[run_left] == "DONE");
  CHECK(step_results(built.err)[run_right] == "DONE");
  // Built by a worker, found by a build of that stage alone (which would wait 30 s and fail if
  // it ran the step): the keys are the ones of a build one stage at a time.
  const auto one = root.run({"build", "--network", "none", "--target", "left", ctx.str()});
  INFO(one.err);
  CHECK(one.exit_code == 0);
  CHECK(step_results(one.err)[run_left] == "CACHED");
  const auto again = root.run({"build", "--network", "none", "-t", "met", ctx.str()});
  CHECK(again.exit_code == 0);
  CHECK(again.out == built.out);
  for (const auto& [title, result] : step_results(again.err)) {
    INFO(title);
    CHECK((result == "CACHED" || title == "FROM busybox"));
  }
  check_nothing_left(root);
}

TEST_CASE("a failing stage stops the stage building beside it and leaves nothing",
          "[root][build]") {
  TestRoot root;
  TempDir ctx("gct-build-ctx");
  write(ctx.path() / "Dockerfile",
        "FROM busybox AS slow\n"
        "RUN --mount=type=cache,id=meet,target=/meet sh -c 'touch /meet/slow; sleep 60'\n"
        "FROM busybox AS broken\n"
        "RUN --mount=type=cache,id=meet,target=/meet sh -c 'i=0; while [ ! -e /meet/slow ]; "
        "do i=$((i+1)); [ $i -lt 300 ] || exit 7; sleep 0.1; done; echo failing; exit 5'\n"
        "FROM busybox\nCOPY --from=slow /etc/passwd /a\nCOPY --from=broken /etc/passwd /b\n");
  const std::size_t images = image_count(root);
  const auto started = std::chrono::steady_clock::now();
  const auto r = root.run({"build", "--network", "none", "-t", "never", ctx.str()});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(20));
  CHECK(r.err.find(" failing\n") != std::string::npos);
  const auto last = r.err.substr(r.err.rfind("gctool: "));
  CHECK(last.rfind("gctool: Dockerfile:4: RUN: process \"/bin/sh -c sh -c 'i=0;", 0) == 0);
  CHECK(last.find("exit code: 5\n") != std::string::npos);
  CHECK(image_count(root) == images);
  check_nothing_left(root);

  // A signal to the build stops both stages the same way.
  write(ctx.path() / "Dockerfile",
        "FROM busybox AS one\nRUN sleep 61\nFROM busybox AS two\nRUN sleep 62\n"
        "FROM busybox\nCOPY --from=one /etc/passwd /a\nCOPY --from=two /etc/passwd /b\n");
  Background build(root, {"build", "--network", "none", ctx.str()});
  REQUIRE(wait_until(
      [&] {
        const auto ps = root.run({"ps", "-q"}).out;
        return std::count(ps.begin(), ps.end(), '\n') == 2;
      },
      std::chrono::seconds(20)));
  const auto signalled = std::chrono::steady_clock::now();
  ::kill(build.pid(), SIGTERM);
  CHECK(build.wait() == 128 + SIGTERM);
  CHECK(std::chrono::steady_clock::now() - signalled < std::chrono::seconds(10));
  CHECK(image_count(root) == images);
  check_nothing_left(root);
}

TEST_CASE("build -t records an image tag event for each tag, as Docker", "[root][build]") {
  TestRoot root;
  TempDir ctx("gct-build-ctx");
  write(ctx.path() / "Dockerfile", "FROM busybox\nLABEL tagged=yes\n");
  const auto since = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count() -
                                    1);
  const auto r =
      root.run({"build", "--network", "none", "-t", "evbuild:v1", "-t", "evbuild2:v2", ctx.str()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto id = r.out.substr(0, r.out.find('\n'));
  const auto until = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count() +
                                    1);
  const auto events =
      root.run({"events", "--since", since, "--until", until, "--filter", "type=image", "--filter",
                "event=tag", "--format", "{{.Action}} {{.ID}} {{.Actor.Attributes.name}}"});
  CHECK(events.out == "tag " + id + " evbuild:v1\ntag " + id + " evbuild2:v2\n");
  CHECK(root.leaks().empty());
}
