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
  CHECK(render("{{.Config.Labels.nothing}}") == "<no value>");
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
  // As Docker's structs: a field that is not there is an error, a map key that is not, no value.
  CHECK_THROWS_WITH(render("{{.Config.Nothing}}"), Contains("can't evaluate field Nothing"));
  CHECK_THROWS_WITH(render("{{if .Id}}x"), Contains("unexpected EOF"));
  CHECK_THROWS_WITH(render("{{end}}"), Contains("unexpected {{end}}"));
  CHECK_THROWS_WITH(render("{{range .Id}}{{end}}"), Contains("range can't iterate over abc123"));
  CHECK_THROWS_WITH(render("{{$nope}}"), Contains("undefined variable"));
  CHECK_THROWS_WITH(render("{{eq .Id 1}}"), Contains("incompatible types for comparison"));
  CHECK_NOTHROW(gctool::check_template("{{range .X}}{{.Y}}{{end}}"));
  CHECK_THROWS_AS(gctool::check_template("{{range .X}}"), gctool::Error);
}

// Docker's documented examples (docs/reference/commandline/inspect.md, format.md, ps.md).
const nlohmann::json kContainer = nlohmann::json::parse(R"({
  "Id": "abc123", "Name": "/web", "LogPath": "/var/log/x.log",
  "Config": {"Image": "busybox", "Labels": {"com.example.a": "1"}, "Cmd": ["sh", "-c", "true"]},
  "State": {"Status": "running", "Running": true, "ExitCode": 0},
  "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2", "MacAddress": "02:42"},
                                   "other": {"IPAddress": "10.1.0.5", "MacAddress": "02:43"}}},
  "Mounts": [{"Source": "/a", "Destination": "/data"}, {"Source": "/b", "Destination": "/c"}]
})");

TEST_CASE("Docker's documented inspect and format examples", "[core]") {
  const auto r = [](std::string_view t) { return render_template(t, kContainer); };
  CHECK(r("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}") == "172.17.0.210.1.0.5");
  CHECK(r("{{range .NetworkSettings.Networks}}{{.MacAddress}} {{end}}") == "02:42 02:43 ");
  CHECK(r("{{.LogPath}}") == "/var/log/x.log");
  CHECK(r("{{.Config.Image}}") == "busybox");
  CHECK(r("{{json .Config}}").starts_with("{\"Cmd\":[\"sh\",\"-c\",\"true\"]"));
  CHECK(
      r("{{range $p, $conf := .NetworkSettings.Networks}}{{$p}} -> {{$conf.IPAddress}}\n{{end}}") ==
      "bridge -> 172.17.0.2\nother -> 10.1.0.5\n");
  CHECK(r("{{(index .NetworkSettings.Networks \"other\").IPAddress}}") == "10.1.0.5");
  CHECK(r("{{join .Config.Cmd \", \"}}") == "sh, -c, true");
  CHECK(r("{{split \"a:b:c\" \":\"}}") == "[a b c]");
  CHECK(r("{{lower \"HeLLo\"}} {{upper .Name}} {{title \"hello world\"}}") ==
        "hello /WEB Hello World");
  CHECK(r("{{truncate .Id 3}}|{{truncate .Id 30}}") == "abc|abc123");
  CHECK(r("{{pad .Id 2 1}}|") == "  abc123 |");
  CHECK(r("{{if eq .State.Status \"running\"}}up{{else}}down{{end}}") == "up");
  CHECK(r("{{if not .State.Running}}a{{else if eq .State.ExitCode 0}}b{{else}}c{{end}}") == "b");
  CHECK(r("{{with .State}}{{.Status}}{{end}}{{with .Config.Labels.x}}x{{else}}none{{end}}") ==
        "runningnone");
  CHECK(r("{{and .State.Running .Name}} {{or .Config.Labels.x \"dflt\"}} {{not 0}}") ==
        "/web dflt true");
  CHECK(r("{{if and (gt (len .Mounts) 1) (lt .State.ExitCode 1)}}two{{end}}") == "two");
  CHECK(r("{{ne 1 2}} {{le 2 2}} {{ge 1 2}} {{eq .Name \"/x\" \"/web\"}}") ==
        "true true false true");
  CHECK(r("{{printf \"%-6s|%5d|%.2f|%q|%v\" .Config.Image 42 3.14159 .Name .State.Running}}") ==
        "busybox|   42|3.14|\"/web\"|true");
  CHECK(r("{{printf \"%s-%s\" .Name}}") == "/web-%!s(MISSING)");
  CHECK(r("{{range $i, $m := .Mounts}}{{$i}}:{{$m.Source}}->{{.Destination}} {{end}}") ==
        "0:/a->/data 1:/b->/c ");
  CHECK(r("{{range .Config.Labels.x}}x{{else}}empty{{end}}") == "empty");
  CHECK(r("{{$n := .Name}}{{with .State}}{{$n}} {{.Status}} {{$.Id}}{{end}}") ==
        "/web running abc123");
  CHECK(r("{{.Name | printf \"%s!\" | upper}}") == "/WEB!");
  CHECK(r("{{index .Config.Labels \"com.example.a\"}}{{/* a comment */}}") == "1");
  CHECK(r("{{print 1 2 \"a\" \"b\"}}") == "1 2ab");
}
