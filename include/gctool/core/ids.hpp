// Container identity: random 64-hex IDs, their 12-character short form, and Docker-style names.
#pragma once

#include <string>
#include <string_view>

namespace gctool {

// 64 lowercase hex digits from getrandom(2). The short form is never all digits, so it cannot be
// taken for a number (a pid, an index).
std::string random_id();

// The first 12 characters (all of id when shorter): what `ps` shows.
std::string short_id(std::string_view id);

// Whether id is a full ID as random_id makes: 64 lowercase hex digits.
bool valid_id(std::string_view id);

// A name such as "eager_lovelace" for a container started without --name.
std::string random_name();

// Docker's rule for container and network names, [a-zA-Z0-9][a-zA-Z0-9_.-]+, with at most 128
// characters so that a name always fits in a file name.
bool valid_name(std::string_view name);

}  // namespace gctool
