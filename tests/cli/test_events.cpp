// `events` as Docker's: a container's life, image, network and volume changes in Docker's line
// format or a template, filtered, between --since and --until; without --until it follows until
// interrupted; bad input is one line with exit 125.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <future>
#include <regex>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "container_support.hpp"

using gctool::test::TestRoot;
using gctool::test::unique_name;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

std::string unix_now(int offset_seconds = 0) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return std::to_string(now.count() + offset_seconds);
}

// Now as a Unix time with nanoseconds ("1700000000.123456789"), as --since takes it: events of
// the test's setup (importing busybox) come before it.
std::string precise_now() {
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return fmt::format("{}.{:09}", now / 1'000'000'000, now % 1'000'000'000);
}

// The actions of `events` between since and now, with the extra arguments.
std::vector<std::string> actions(const TestRoot& root, const std::string& since,
                                 std::vector<std::string> extra) {
  std::vector<std::string> args = {"events",    "--since",  since,        "--until",
                                   unix_now(1), "--format", "{{.Action}}"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto result = root.run(args);
  INFO(result.err);
  CHECK(result.exit_code == 0);
  return lines_of(result.out);
}

}  // namespace

TEST_CASE("events shows a container's life in Docker's format, filtered and templated", "[root]") {
  TestRoot root;
  const auto since = precise_now();
  const auto name = unique_name("ev");
  REQUIRE(root.run({"run", "--name", name, "--network", "none", "--label", "tier=web", "busybox",
                    "sh", "-c", "exit 3"})
              .exit_code == 3);
  const auto id = root.inspect(name)["Id"].get<std::string>();
  REQUIRE(root.run({"rm", name}).exit_code == 0);

  const auto plain = root.run(
      {"events", "--since", since, "--until", unix_now(1), "--filter", "container=" + name});
  INFO(plain.err);
  REQUIRE(plain.exit_code == 0);
  const auto lines = lines_of(plain.out);
  REQUIRE(lines.size() == 4);
  const std::string stamp = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)";
  const std::string attrs = "image=busybox, name=" + name + ", tier=web";
  CHECK(std::regex_match(lines[0],
                         std::regex(stamp + " container create " + id + " \\(" + attrs + "\\)")));
  CHECK(std::regex_match(lines[1],
                         std::regex(stamp + " container start " + id + " \\(" + attrs + "\\)")));
  CHECK(std::regex_match(
      lines[2], std::regex(stamp + " container die " + id + " \\(exitCode=3, " + attrs + "\\)")));
  CHECK(std::regex_match(lines[3],
                         std::regex(stamp + " container destroy " + id + " \\(" + attrs + "\\)")));

  // {{json .}}: Docker's message, one a line.
  const auto json = root.run({"events", "--since", since, "--until", unix_now(1), "--filter",
                              "container=" + id.substr(0, 12), "--format", "{{json .}}"});
  const auto messages = lines_of(json.out);
  REQUIRE(messages.size() == 4);
  const auto start = nlohmann::json::parse(messages[1]);
  CHECK(start["Type"] == "container");
  CHECK(start["Action"] == "start");
  CHECK(start["status"] == "start");
  CHECK(start["id"] == id);
  CHECK(start["from"] == "busybox");
  CHECK(start["Actor"]["ID"] == id);
  CHECK(start["Actor"]["Attributes"]["name"] == name);
  CHECK(start["time"] == start["timeNano"].get<std::int64_t>() / 1'000'000'000);
  CHECK(root.run({"events", "--since", since, "--until", unix_now(1), "--filter",
                  "container=" + name, "--format", "json"})
            .out == json.out);

  // Templates with Docker's field names.
  const auto tmpl =
      root.run({"events", "--since", since, "--until", unix_now(1), "--filter", "event=die",
                "--format", "{{.Type}} {{.Status}} {{.From}} {{.Actor.Attributes.exitCode}}"});
  CHECK(tmpl.out == "container die busybox 3\n");
  CHECK(actions(root, since, {"--filter", "label=tier=web"}) ==
        std::vector<std::string>{"create", "start", "die", "destroy"});
  CHECK(actions(root, since, {"--filter", "image=busybox", "--filter", "event=create"}) ==
        std::vector<std::string>{"create"});
  CHECK(actions(root, since, {"--filter", "label=tier=db"}).empty());
  CHECK(actions(root, since, {"--filter", "type=volume"}).empty());
  // --until before the events: none of them.
  CHECK(root.run({"events", "--since", since, "--until", since, "--filter", "container=" + name})
            .out.empty());

  // Bad input: one line, exit 125.
  for (const auto& bad :
       std::vector<std::vector<std::string>>{{"--filter", "colour=red"},
                                             {"--filter", "type=bogus"},
                                             {"--filter", "noequals"},
                                             {"--since", "yesterday"},
                                             {"--until", "soon"},
                                             {"--format", "{{.Action"},
                                             {"--since", unix_now(), "--until", unix_now(-100)}}) {
    std::vector<std::string> args = {"events"};
    args.insert(args.end(), bad.begin(), bad.end());
    const auto result = root.run(args);
    INFO(bad.back());
    CHECK(result.exit_code == 125);
    CHECK(result.out.empty());
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  }
  CHECK(root.leaks().empty());
}

TEST_CASE("events reports image, volume and network changes", "[root]") {
  TestRoot root;
  const auto since = precise_now();
  const auto tag = unique_name("evimg") + ":v1";
  const auto volume = unique_name("evvol");
  const auto network = unique_name("evnet");
  REQUIRE(root.run({"tag", "busybox", tag}).exit_code == 0);
  REQUIRE(root.run({"rmi", tag}).exit_code == 0);
  REQUIRE(root.run({"volume", "create", volume}).exit_code == 0);
  const auto name = unique_name("evv");
  REQUIRE(root.run({"run", "--rm", "--name", name, "--network", "none", "-v", volume + ":/data",
                    "busybox", "true"})
              .exit_code == 0);
  REQUIRE(root.run({"volume", "rm", volume}).exit_code == 0);
  const auto created = root.run({"network", "create", network});
  INFO(created.err);
  REQUIRE(created.exit_code == 0);
  const auto network_id = lines_of(created.out).at(0);
  REQUIRE(root.run({"network", "rm", network}).exit_code == 0);

  const auto images =
      root.run({"events", "--since", since, "--until", unix_now(1), "--filter", "type=image",
                "--format", "{{.Action}} {{.Actor.Attributes.name}} {{.ID}}"});
  const auto image_id = root.image_id();
  CHECK(images.out == "tag " + tag + " " + image_id + "\nuntag " + tag + " " + image_id + "\n");
  CHECK(actions(root, since, {"--filter", "image=" + tag}) ==
        std::vector<std::string>{"tag", "untag"});

  const auto volumes = root.run(
      {"events", "--since", since, "--until", unix_now(1), "--filter", "volume=" + volume,
       "--format", "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.destination}}"});
  CHECK(volumes.out == "volume create " + volume + " <no value>\nvolume mount " + volume +
                           " /data\nvolume destroy " + volume + " <no value>\n");
  CHECK(actions(root, since, {"--filter", "container=" + name}) ==
        std::vector<std::string>{"create", "start", "die", "destroy"});

  const auto networks = root.run(
      {"events", "--since", since, "--until", unix_now(1), "--filter", "network=" + network});
  const auto lines = lines_of(networks.out);
  REQUIRE(lines.size() == 2);
  CHECK(
      lines[0].ends_with(" network create " + network_id + " (name=" + network + ", type=bridge)"));
  CHECK(lines[1].ends_with(" network destroy " + network_id + " (name=" + network +
                           ", type=bridge)"));
  CHECK(root.leaks().empty());
}

TEST_CASE("events follows new events until --until, or until interrupted", "[root]") {
  TestRoot root;
  const auto name = unique_name("evf");
  // Started before the container: it shows events as they come, and ends at --until.
  // --since as well: a follower slow to start (a loaded machine) still misses nothing.
  const auto since = precise_now();
  auto follower = std::async(std::launch::async, [&] {
    return root.run({"events", "--since", since, "--until", unix_now(5), "--filter",
                     "container=" + name, "--format", "{{.Action}}"});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  const auto begun = std::chrono::steady_clock::now();
  REQUIRE(
      root.run({"run", "--rm", "--name", name, "--network", "none", "busybox", "true"}).exit_code ==
      0);
  const auto result = follower.get();
  INFO(result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out == "create\nstart\ndie\ndestroy\n");
  // It waited for --until rather than ending with the last event.
  CHECK(std::chrono::steady_clock::now() - begun > std::chrono::seconds(1));

  // Without --until it keeps following until a signal ends it.
  gctool::test::Background events(root, {"events"});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  int status = 0;
  CHECK(::waitpid(events.pid(), &status, WNOHANG) == 0);
  ::kill(events.pid(), SIGINT);
  CHECK(events.wait() == 128 + SIGINT);
  CHECK(root.leaks().empty());
}
