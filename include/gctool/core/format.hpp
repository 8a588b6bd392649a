// fmt with the formatters for standard types that messages name: std::filesystem::path prints
// quoted ("/x/config.json"), as error contexts want it. The file APIs include this, so code that
// passes their paths to check() or throw_errno() can format them.
#pragma once

#include <fmt/format.h>
#include <fmt/std.h>
