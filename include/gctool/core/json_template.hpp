// The part of Go's text/template that `docker inspect --format` users rely on, over JSON:
//   {{.}}  {{.State.Status}}  {{json .Config}}  {{index .Config.Labels "a.b"}}  {{len .Mounts}}
//   {{upper .Name}}  {{lower .Name}}  {{join .Config.Cmd " "}}
// Values print as Go prints them: strings bare, null as <no value>, arrays as [a b], objects as
// map[k:v] with sorted keys. Anything else is an invalid-input Error naming the action.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gctool {

std::string render_template(std::string_view tmpl, const nlohmann::json& data);

}  // namespace gctool
