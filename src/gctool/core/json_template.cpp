#include "gctool/core/json_template.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

#include "gctool/core/error.hpp"

namespace gctool {
namespace {

using nlohmann::json;

// Go's %v of a decoded JSON value.
void print_value(std::string& out, const json& value, bool top) {
  switch (value.type()) {
    case json::value_t::string:
      out += value.get_ref<const std::string&>();
      break;
    case json::value_t::null:
    case json::value_t::discarded:
      out += top ? "<no value>" : "<nil>";
      break;
    case json::value_t::array: {
      out += '[';
      for (std::size_t i = 0; i < value.size(); ++i) {
        out += i == 0 ? "" : " ";
        print_value(out, value[i], false);
      }
      out += ']';
      break;
    }
    case json::value_t::object: {
      out += "map[";
      bool first = true;
      for (const auto& [key, item] : value.items()) {
        out += first ? "" : " ";
        first = false;
        out += key;
        out += ':';
        print_value(out, item, false);
      }
      out += ']';
      break;
    }
    default:
      out += value.dump();
  }
}

std::string to_text(const json& value) {
  std::string out;
  print_value(out, value, true);
  return out;
}

// One word of an action: a quoted string literal, or anything else up to a space or '|'.
struct Word {
  std::string text;
  bool quoted = false;
};

// An action split into pipeline stages of words.
std::vector<std::vector<Word>> split_action(std::string_view action) {
  std::vector<std::vector<Word>> stages(1);
  std::size_t i = 0;
  while (i < action.size()) {
    const char c = action[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '|') {
      stages.emplace_back();
      ++i;
    } else if (c == '"' || c == '`') {
      Word word{"", true};
      const char quote = c;
      for (++i; i < action.size() && action[i] != quote; ++i) {
        if (quote == '"' && action[i] == '\\' && i + 1 < action.size()) {
          const char next = action[++i];
          word.text += next == 'n' ? '\n' : next == 't' ? '\t' : next;
        } else {
          word.text += action[i];
        }
      }
      if (i == action.size()) {
        throw_invalid("template: unterminated quoted string in \"{{{{{}}}}}\"", action);
      }
      ++i;
      stages.back().push_back(std::move(word));
    } else {
      const auto end = action.find_first_of(" \t|", i);
      stages.back().push_back({std::string(action.substr(i, end - i)), false});
      i = end == std::string_view::npos ? action.size() : end;
    }
  }
  if (std::any_of(stages.begin(), stages.end(), [](const auto& s) { return s.empty(); })) {
    throw_invalid("template: missing value in \"{{{{{}}}}}\"", action);
  }
  return stages;
}

// ".A.B" looked up in data; a missing key is null, as Go's map lookup gives <no value>.
json lookup(std::string_view path, const json& data) {
  const json* node = &data;
  std::size_t pos = 1;
  while (pos < path.size()) {
    const auto end = std::min(path.find('.', pos), path.size());
    const std::string key(path.substr(pos, end - pos));
    if (!node->is_object()) {
      if (node->is_null()) {
        return nullptr;
      }
      throw_invalid("template: can't evaluate field {} in a {}", key, node->type_name());
    }
    const auto it = node->find(key);
    if (it == node->end()) {
      return nullptr;
    }
    node = &*it;
    pos = end + 1;
  }
  return *node;
}

json argument(const Word& word, const json& data) {
  if (word.quoted) {
    return word.text;
  }
  if (word.text.starts_with('.')) {
    return lookup(word.text, data);
  }
  long long number = 0;
  const auto* first = word.text.data();
  const auto* last = first + word.text.size();
  if (auto [ptr, ec] = std::from_chars(first, last, number); ec == std::errc() && ptr == last) {
    return number;
  }
  if (word.text == "true" || word.text == "false") {
    return word.text == "true";
  }
  throw_invalid("template: function \"{}\" not defined", word.text);
}

json call(const std::string& name, const std::vector<json>& args) {
  const auto want = [&](std::size_t n) {
    if (args.size() != n) {
      throw_invalid("template: wrong number of args for {}: want {} got {}", name, n, args.size());
    }
  };
  if (name == "json") {
    want(1);
    return args[0].dump();
  }
  if (name == "len") {
    want(1);
    if (args[0].is_string()) {
      return args[0].get_ref<const std::string&>().size();
    }
    if (!args[0].is_array() && !args[0].is_object()) {
      throw_invalid("template: len of {}", args[0].type_name());
    }
    return args[0].size();
  }
  if (name == "upper" || name == "lower") {
    want(1);
    auto text = to_text(args[0]);
    for (auto& c : text) {
      c = static_cast<char>(name == "upper" ? std::toupper(static_cast<unsigned char>(c))
                                            : std::tolower(static_cast<unsigned char>(c)));
    }
    return text;
  }
  if (name == "join") {
    want(2);
    if (!args[0].is_array() && !args[0].is_null()) {
      throw_invalid("template: join of {}", args[0].type_name());
    }
    std::string out;
    const auto separator = to_text(args[1]);
    for (std::size_t i = 0; i < args[0].size(); ++i) {
      out += (i == 0 ? "" : separator) + to_text(args[0][i]);
    }
    return out;
  }
  if (name == "index") {
    if (args.size() < 2) {
      throw_invalid("template: wrong number of args for index: want at least 2 got {}",
                    args.size());
    }
    json value = args[0];
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (value.is_object() && args[i].is_string()) {
        const auto it = value.find(args[i].get<std::string>());
        value = it == value.end() ? json(nullptr) : *it;
      } else if (value.is_array() && args[i].is_number_integer()) {
        const auto n = args[i].get<long long>();
        if (n < 0 || static_cast<std::size_t>(n) >= value.size()) {
          throw_invalid("template: index out of range: {}", n);
        }
        value = value[static_cast<std::size_t>(n)];
      } else if (value.is_null()) {
        return nullptr;
      } else {
        throw_invalid("template: can't index {} with {}", value.type_name(), args[i].dump());
      }
    }
    return value;
  }
  throw_invalid("template: function \"{}\" not defined", name);
}

json evaluate(std::string_view action, const json& data) {
  json result;
  bool have_result = false;
  for (const auto& stage : split_action(action)) {
    const auto& head = stage.front();
    const bool is_function = !head.quoted && !head.text.starts_with('.') &&
                             !std::isdigit(static_cast<unsigned char>(head.text[0])) &&
                             head.text != "true" && head.text != "false";
    if (!is_function) {
      if (stage.size() != 1 || have_result) {
        throw_invalid("template: can't give argument to non-function {}", head.text);
      }
      result = argument(head, data);
    } else {
      std::vector<json> args;
      for (std::size_t i = 1; i < stage.size(); ++i) {
        args.push_back(argument(stage[i], data));
      }
      if (have_result) {
        args.push_back(std::move(result));
      }
      result = call(head.text, args);
    }
    have_result = true;
  }
  return result;
}

}  // namespace

std::string render_template(std::string_view tmpl, const json& data) {
  std::string out;
  std::size_t pos = 0;
  while (pos < tmpl.size()) {
    const auto open = tmpl.find("{{", pos);
    if (open == std::string_view::npos) {
      out += tmpl.substr(pos);
      break;
    }
    std::string_view text = tmpl.substr(pos, open - pos);
    const auto close = tmpl.find("}}", open + 2);
    if (close == std::string_view::npos) {
      throw_invalid("template: unclosed action in \"{}\"", tmpl);
    }
    std::string_view action = tmpl.substr(open + 2, close - open - 2);
    pos = close + 2;
    // "{{- " and " -}}" trim the white space next to the action, as in Go.
    if (action.starts_with("- ")) {
      action.remove_prefix(2);
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
      }
    }
    if (action.ends_with(" -")) {
      action.remove_suffix(2);
      while (pos < tmpl.size() && std::isspace(static_cast<unsigned char>(tmpl[pos]))) {
        ++pos;
      }
    }
    out += text;
    print_value(out, evaluate(action, data), true);
  }
  return out;
}

}  // namespace gctool
