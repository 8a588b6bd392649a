// The values and functions of json_template.cpp: how Go prints a value, its truth, and the
// functions templates call (Go's builtins and Docker's additions).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace gctool::tmpl {

// Go's %v of a decoded JSON value; `top` prints null as <no value>, nested null as <nil>.
void print_value(std::string& out, const nlohmann::json& value, bool top);
std::string to_text(const nlohmann::json& value);

// Go's truth: false, 0, null and empty strings, arrays and objects are false.
bool truth(const nlohmann::json& value);

bool is_function(std::string_view name);

// Calls a function other than and/or (which the executor evaluates lazily).
nlohmann::json call_function(std::string_view name, const std::vector<nlohmann::json>& args);

}  // namespace gctool::tmpl
