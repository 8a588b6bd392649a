// Usage lines that name the positional arguments, as Docker's (`gctool run [OPTIONS] IMAGE
// [COMMAND] [ARG...]`), for --help, `gctool help VERB` and error messages.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

namespace gctool::tool {

// "run [OPTIONS] IMAGE [COMMAND] [ARG...]" without the leading "gctool ".
std::string usage_line(const CLI::App* app);

// CLI11's help with usage_line() as its Usage line; set on the root before verbs are added.
std::shared_ptr<CLI::Formatter> usage_formatter();

}  // namespace gctool::tool
