#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/json_template.hpp"

using Catch::Matchers::Contains;
using gctool::render_template;

namespace {

const nlohmann::json kData = nlohmann::json::parse(R"({
  "Id": "abc123",
  "Name": "/web",
  "State": {"Status": "running", "Pid": 42, "Running": true, "Error": ""},
  "Config": {"Cmd": ["sleep", "10"], "Labels": {"a.b": "x"}, "Env": null},
  "Mounts": []
})");

std::string render(std::string_view tmpl) {
  return render_template(tmpl, kData);
}

}  // namespace

TEST_CASE("fields print as Go prints them", "[core]") {
  CHECK(render("{{.Id}}") == "abc123");
  CHECK(render("{{ .State.Status }}/{{.State.Pid}}/{{.State.Running}}") == "running/42/true");
  CHECK(render("{{.Config.Cmd}}") == "[sleep 10]");
  CHECK(render("{{.Config.Labels}}") == "map[a.b:x]");
  CHECK(render("{{.Config.Env}}") == "<no value>");
  CHECK(render("{{.Config.Nothing}}") == "<no value>");
  CHECK(render("id={{.Id}} name={{.Name}}\n") == "id=abc123 name=/web\n");
  CHECK(render("plain text") == "plain text");
}

TEST_CASE("functions and pipelines", "[core]") {
  CHECK(render("{{json .Config.Cmd}}") == R"(["sleep","10"])");
  CHECK(render("{{json .State.Error}}") == R"("")");
  CHECK(render(R"({{index .Config.Labels "a.b"}})") == "x");
  CHECK(render("{{index .Config.Cmd 1}}") == "10");
  CHECK(render("{{len .Config.Cmd}} {{len .Mounts}}") == "2 0");
  CHECK(render(R"({{join .Config.Cmd " "}})") == "sleep 10");
  CHECK(render("{{.State.Status | upper}}") == "RUNNING");
  CHECK(render("{{.}}").starts_with("map[Config:map["));
}

TEST_CASE("trim markers remove the white space next to the action", "[core]") {
  CHECK(render("a  {{- .Id -}}  b") == "aabc123b");
}

TEST_CASE("bad templates are invalid input naming the problem", "[core]") {
  CHECK_THROWS_WITH(render("{{.Id"), Contains("unclosed action"));
  CHECK_THROWS_WITH(render("{{nosuch .Id}}"), Contains("function \"nosuch\" not defined"));
  CHECK_THROWS_WITH(render("{{.State.Status.Deep}}"), Contains("can't evaluate field Deep"));
  CHECK_THROWS_WITH(render("{{index .Config.Cmd 5}}"), Contains("index out of range"));
  CHECK_THROWS_WITH(render(R"({{index .Id "x"}})"), Contains("can't index"));
  CHECK_THROWS_WITH(render("{{}}"), Contains("missing value"));
  CHECK_THROWS_AS(render("{{json}}"), gctool::Error);
}
