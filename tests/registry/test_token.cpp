// Docker's token authentication: a docker-registry on loopback that trusts the tokens of a token
// server the test runs (tests/support/token_server.hpp). login, push and pull get Bearer tokens
// for the scopes they need; a token the registry refuses, wrong credentials and a token server
// that is down are each one line.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "image_support.hpp"
#include "registry_support.hpp"
#include "token_server.hpp"

namespace fs = std::filesystem;
using gctool::test::run_program;
using gctool::test::TempDir;
using gctool::test::TestRegistry;
using gctool::test::TokenServer;

namespace {

gctool::test::RunResult run_gctool(const std::vector<std::string>& args,
                                   const std::string& input = "") {
  return gctool::test::gctool(args, input);
}

int count_lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// A failed command: exit 1, one line naming why, nothing in the store.
void check_refused(const gctool::test::RunResult& r, const TempDir& root, const std::string& why) {
  INFO(r.out + r.err);
  CHECK(r.exit_code == 1);
  CHECK(count_lines(r.err) == 1);
  CHECK_THAT(r.err, Catch::StartsWith("gctool: ") && Catch::Contains(why));
  CHECK(run_gctool({"--root", root.str(), "image", "ls", "-q"}).out.empty());
  CHECK(gctool::test::store_temporaries(root.path()).empty());
}

}  // namespace

TEST_CASE("behind a token server: login, push and pull with Bearer tokens; refusals are one line",
          "[root][registry]") {
  TokenServer tokens("tester", "s3cret");
  TestRegistry reg(TestRegistry::TokenAuth{tokens.realm(), tokens.certificate()});
  TempDir tmp;
  TempDir root;
  TempDir other;
  const std::string authfile = (tmp.path() / "auth.json").string();
  const std::string ref = reg.host() + "/team/bb:1";
  const std::string id = gctool::test::import_busybox(root.path(), ref);

  // Without a login the token grants nothing: the registry asks for authentication.
  const auto anonymous = run_gctool({"--root", root.str(), "push", "--authfile", authfile, ref});
  INFO(anonymous.err);
  CHECK(anonymous.exit_code == 1);
  CHECK(count_lines(anonymous.err) == 1);
  CHECK_THAT(anonymous.err, Catch::Contains("authentication required"));

  // The token server refuses a wrong password; nothing is stored.
  const auto wrong =
      run_gctool({"login", "--authfile", authfile, "-u", "tester", "-p", "wrong", reg.host()});
  CHECK(wrong.exit_code == 1);
  CHECK(count_lines(wrong.err) == 1);
  CHECK_THAT(wrong.err, Catch::Contains("incorrect username or password"));
  CHECK(!fs::exists(authfile));

  const auto login =
      run_gctool({"login", "--authfile", authfile, "-u", "tester", "--password-stdin", reg.host()},
                 "s3cret\n");
  INFO(login.err);
  REQUIRE(login.exit_code == 0);
  CHECK(login.out == "Login Succeeded\n");
  // A relative --authfile is a file of the current directory.
  const auto relative =
      run_program({"sh", "-c",
                   fmt::format("cd {} && {} login --authfile rel.json -u tester -p s3cret {}",
                               tmp.str(), GCTOOL_BINARY, reg.host())});
  INFO(relative.err);
  CHECK(relative.exit_code == 0);
  CHECK(fs::exists(tmp.path() / "rel.json"));

  const auto push = run_gctool({"--root", root.str(), "push", "--authfile", authfile, ref});
  INFO(push.err);
  REQUIRE(push.exit_code == 0);
  const auto at = push.out.find("1: digest: ");
  REQUIRE(at != std::string::npos);
  const std::string digest = push.out.substr(at + 11, 71);
  // The push asked the token server for pull and push on its repository, as the user.
  const auto requests = tokens.requests();
  CHECK(std::find(requests.begin(), requests.end(), "tester repository:team/bb:pull,push") !=
        requests.end());

  // skopeo, with the same credentials, sees what was pushed.
  const auto inspect = run_program(
      {"skopeo", "inspect", "--tls-verify=false", "--creds", "tester:s3cret", "docker://" + ref});
  INFO(inspect.err);
  REQUIRE(inspect.exit_code == 0);
  CHECK(nlohmann::json::parse(inspect.out)["Digest"] == digest);

  // Pulled into another store with the login's token, and run.
  const auto pull = run_gctool({"--root", other.str(), "pull", "--authfile", authfile, ref});
  INFO(pull.err);
  REQUIRE(pull.exit_code == 0);
  CHECK_THAT(pull.out, Catch::Contains("Digest: " + digest));
  const auto later = tokens.requests();
  CHECK(std::find(later.begin() + static_cast<long>(requests.size()), later.end(),
                  "tester repository:team/bb:pull") != later.end());
  const auto run = run_gctool(
      {"--root", other.str(), "run", "--rm", "--network", "none", ref, "echo", "via token"});
  CHECK(run.out == "via token\n");
  CHECK(run_gctool({"--root", other.str(), "image", "inspect", "-f", "{{.Id}}", ref}).out ==
        id + "\n");

  // Anonymous pull: refused, store untouched.
  TempDir empty;
  check_refused(run_gctool({"--root", empty.str(), "pull", "--authfile",
                            (tmp.path() / "none.json").string(), ref}),
                empty, "authentication required");

  // The token server signs with a key the registry does not trust: the token is refused.
  gctool::test::write_bytes(tokens.mode(), "foreign\n");
  check_refused(run_gctool({"--root", empty.str(), "pull", "--authfile", authfile, ref}), empty,
                "the token from " + tokens.realm() + " was refused");

  // The token server is down.
  tokens.stop();
  check_refused(run_gctool({"--root", empty.str(), "pull", "--authfile", authfile, ref}), empty,
                "token server");
}
