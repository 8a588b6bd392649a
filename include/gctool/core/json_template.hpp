// Go's text/template over JSON, as far as Docker users write it in `--format` and `inspect -f`:
//   {{.State.Status}}  {{json .Config}}  {{index .Config.Labels "a.b"}}  {{.Name | upper}}
//   {{range .Mounts}}{{.Source}} {{end}}  {{range $k, $v := .NetworkSettings.Networks}}..{{end}}
//   {{if eq .State.Status "running"}}up{{else if .State.Restarting}}..{{else}}down{{end}}
//   {{with .State}}{{.Pid}}{{end}}  {{$n := .Name}}  {{printf "%-10s|" .Name}}  {{- trim -}}
// Functions: Go's and, or, not, eq, ne, lt, le, gt, ge, len, index, slice, print, printf,
// println, and Docker's json, join, split, lower, upper, title, truncate, pad.
// Values print as Go prints them: strings bare, a missing map key as <no value>, arrays as
// [a b], objects as map[k:v] with sorted keys. A missing field of an object whose keys are all
// Go field names (capitalised) is an error, as for Docker's structs; objects reached through a
// map-typed field (Labels, Networks, Ports, Options...) give <no value> instead. Any problem is an
// invalid-input Error naming it.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gctool {

std::string render_template(std::string_view tmpl, const nlohmann::json& data);

// Checks a template without data: syntax errors and unknown functions throw as render would.
void check_template(std::string_view tmpl);

}  // namespace gctool
