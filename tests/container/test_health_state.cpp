// Health check scheduling as Docker 25+ does it (the start interval while starting within the
// start period), and the settings gctool-supervisor receives on its command line.
#include <catch2/catch.hpp>

#include "gctool/container/health.hpp"
#include "gctool/container/monitor.hpp"

using namespace gctool::container;
using namespace std::chrono_literals;

TEST_CASE("the start interval applies while starting within the start period") {
  HealthSettings settings;
  settings.interval = 30s;
  settings.start_period = 10s;
  settings.start_interval = 1s;
  settings.retries = 2;
  const auto t0 = std::chrono::steady_clock::now();
  HealthState state(settings, t0);
  CHECK(state.next_interval(t0) == 1s);
  CHECK(state.next_interval(t0 + 11s) == 30s);  // the start period is over
  state.record({"", "", 1, "no"}, t0 + 2s);     // a failure within it does not count
  CHECK(state.status() == "starting");
  CHECK(state.next_interval(t0 + 2s) == 1s);
  state.record({"", "", 0, "ok"}, t0 + 3s);  // healthy: the interval from now on
  CHECK(state.status() == "healthy");
  CHECK(state.next_interval(t0 + 3s) == 30s);

  // Docker's default start interval is 5s; with no start period it never applies.
  const HealthSettings defaults = health_settings(gctool::image::Healthcheck{{"CMD", "true"}});
  CHECK(defaults.start_interval == 5s);
  HealthState plain(defaults, t0);
  CHECK(plain.next_interval(t0) == defaults.interval);
}

TEST_CASE("a --health-start-interval flag merges over the image's StartInterval") {
  gctool::image::Healthcheck image{{"CMD-SHELL", "true"}};
  image.start_interval = 2'000'000'000;
  HealthFlags flags;
  CHECK(merge_healthcheck(image, flags)->start_interval == 2'000'000'000);
  flags.start_interval = "250ms";
  CHECK(merge_healthcheck(image, flags)->start_interval == 250'000'000);
  CHECK(health_settings(*merge_healthcheck(image, flags)).start_interval == 250ms);
  flags.start_interval = "soon";
  CHECK_THROWS_WITH(check_health_flags(flags),
                    "invalid argument \"soon\" for \"--health-start-interval\" flag: time: "
                    "invalid duration");
}

TEST_CASE("gctool-supervisor gets the health settings and the event actor unchanged") {
  MonitorArgs args;
  args.pidfd = 3;
  args.log_path = "/x/log";
  args.exit_command = {"/bin/gctool", "__supervise-exited"};
  args.health.interval = 200ms;
  args.health.timeout = 1s;
  args.health.start_period = 10s;
  args.health.start_interval = 100ms;
  args.health.retries = 4;
  args.health.command = {"/bin/gctool", "__health-exec", "/root", "abc"};
  args.health.state_file = "/x/health.json";
  args.health.events_root = "/root";
  args.health.actor = {"container", "", "abc", {{"name", "web"}, {"tier", "a, b"}}};
  auto words = args.to_argv("gctool-supervisor");
  std::vector<const char*> argv;
  for (const auto& word : words) {
    argv.push_back(word.c_str());
  }
  const auto parsed = MonitorArgs::parse(static_cast<int>(argv.size()), argv.data());
  CHECK(parsed.health.interval == 200ms);
  CHECK(parsed.health.start_interval == 100ms);
  CHECK(parsed.health.start_period == 10s);
  CHECK(parsed.health.retries == 4);
  CHECK(parsed.health.command == args.health.command);
  CHECK(parsed.health.events_root == "/root");
  CHECK(parsed.health.actor.type == "container");
  CHECK(parsed.health.actor.id == "abc");
  CHECK(parsed.health.actor.attributes == args.health.actor.attributes);
}
