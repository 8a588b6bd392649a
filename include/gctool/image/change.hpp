// Dockerfile instructions applied to an image configuration: `image import --change 'CMD ["sh"]'`.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/text.hpp"
#include "gctool/image/config.hpp"

namespace gctool::image {

namespace detail {

// Words separated by blanks; double quotes group and are removed, as a shell would.
inline std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> words;
  std::string word;
  bool quoted = false;
  bool in_word = false;
  for (char c : s) {
    if (c == '"') {
      quoted = !quoted;
      in_word = true;
    } else if (!quoted && std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quoted) {
    throw_invalid("unterminated quote in \"{}\"", s);
  }
  if (in_word) {
    words.push_back(std::move(word));
  }
  return words;
}

// CMD/ENTRYPOINT: the exec form (a JSON array of strings) or the shell form.
inline std::vector<std::string> command_form(std::string_view args) {
  if (args.starts_with('[')) {
    try {
      return nlohmann::json::parse(args).get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception&) {
      // Docker, too, takes a malformed array for the shell form.
    }
  }
  return {"/bin/sh", "-c", std::string(args)};
}

// KEY=VALUE pairs (ENV, LABEL); the old form "ENV KEY VALUE" is one pair.
inline std::vector<std::pair<std::string, std::string>> pairs(std::string_view keyword,
                                                              std::string_view args) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto words = split_words(args);
  if (!words.empty() && words.front().find('=') == std::string::npos) {
    const auto space = args.find_first_of(" \t");
    if (space == std::string_view::npos) {
      throw_invalid("{} needs KEY=VALUE", keyword);
    }
    out.emplace_back(std::string(args.substr(0, space)), std::string(trim(args.substr(space + 1))));
    return out;
  }
  for (const auto& word : words) {
    const auto eq = word.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw_invalid("{} needs KEY=VALUE, not \"{}\"", keyword, word);
    }
    out.emplace_back(word.substr(0, eq), word.substr(eq + 1));
  }
  return out;
}

}  // namespace detail

// Applies one instruction ("CMD ...", "ENTRYPOINT", "ENV", "WORKDIR", "USER", "LABEL", "EXPOSE",
// "STOPSIGNAL"; keywords case-insensitive) and returns the new configuration. Throws an
// invalid-input Error naming the instruction when it is unknown or malformed.
inline ImageConfig apply_change(ImageConfig config, std::string_view instruction) {
  instruction = trim(instruction);
  const auto space = instruction.find_first_of(" \t");
  std::string keyword(instruction.substr(0, space));
  std::transform(keyword.begin(), keyword.end(), keyword.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  const std::string_view args =
      space == std::string_view::npos ? std::string_view() : trim(instruction.substr(space));
  if (args.empty()) {
    throw_invalid("{} needs an argument: \"{}\"", keyword, instruction);
  }
  if (keyword == "CMD") {
    config.cmd = detail::command_form(args);
  } else if (keyword == "ENTRYPOINT") {
    config.entrypoint = detail::command_form(args);
  } else if (keyword == "ENV") {
    for (const auto& [key, value] : detail::pairs(keyword, args)) {
      std::erase_if(config.env, [&](const std::string& e) { return e.starts_with(key + "="); });
      config.env.push_back(key + "=" + value);
    }
  } else if (keyword == "LABEL") {
    for (const auto& [key, value] : detail::pairs(keyword, args)) {
      config.labels[key] = value;
    }
  } else if (keyword == "WORKDIR") {
    config.working_dir = std::string(args);
  } else if (keyword == "USER") {
    config.user = std::string(args);
  } else if (keyword == "STOPSIGNAL") {
    config.stop_signal = std::string(args);
  } else if (keyword == "EXPOSE") {
    for (auto port : detail::split_words(args)) {
      if (port.find('/') == std::string::npos) {
        port += "/tcp";
      }
      if (std::find(config.exposed_ports.begin(), config.exposed_ports.end(), port) ==
          config.exposed_ports.end()) {
        config.exposed_ports.push_back(port);
      }
    }
  } else {
    throw_invalid(
        "unsupported --change instruction \"{}\" (CMD, ENTRYPOINT, ENV, WORKDIR, USER, "
        "LABEL, EXPOSE, STOPSIGNAL)",
        keyword);
  }
  return config;
}

}  // namespace gctool::image
