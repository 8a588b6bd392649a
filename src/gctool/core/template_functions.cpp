#include "template_functions.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "gctool/core/error.hpp"

namespace gctool::tmpl {
namespace {

using nlohmann::json;

constexpr std::array kFunctions{"and",    "or",      "not",      "eq",   "ne",    "lt",
                                "le",     "gt",      "ge",       "len",  "index", "print",
                                "printf", "println", "json",     "join", "split", "lower",
                                "upper",  "title",   "truncate", "pad"};

void want(std::string_view name, const std::vector<json>& args, std::size_t n) {
  if (args.size() != n) {
    throw_invalid("template: wrong number of args for {}: want {} got {}", name, n, args.size());
  }
}

const std::string& text_arg(std::string_view name, const json& arg) {
  if (!arg.is_string()) {
    throw_invalid("template: {}: wrong type for value; expected string; got {}", name,
                  arg.type_name());
  }
  return arg.get_ref<const std::string&>();
}

long long int_arg(std::string_view name, const json& arg) {
  if (!arg.is_number_integer()) {
    throw_invalid("template: {}: wrong type for value; expected int; got {}", name,
                  arg.type_name());
  }
  return arg.get<long long>();
}

// Go's basic comparison: numbers by value, strings, bools; anything else cannot be compared.
int compare(std::string_view name, const json& a, const json& b, bool ordered) {
  if (a.is_number() && b.is_number()) {
    const double x = a.get<double>();
    const double y = b.get<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    const auto& x = a.get_ref<const std::string&>();
    const auto& y = b.get_ref<const std::string&>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (!ordered && a.is_boolean() && b.is_boolean()) {
    return a == b ? 0 : 1;
  }
  if (!ordered && a.is_null() && b.is_null()) {
    return 0;
  }
  if (a.type() != b.type() && !(a.is_number() && b.is_number())) {
    throw_invalid("template: error calling {}: incompatible types for comparison", name);
  }
  throw_invalid("template: error calling {}: invalid type for comparison", name);
}

// Go's Sprint: a space between operands when neither is a string.
std::string sprint(const std::vector<json>& args, bool spaces) {
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i > 0 && (spaces || (!args[i - 1].is_string() && !args[i].is_string()))) {
      out += ' ';
    }
    print_value(out, args[i], false);
  }
  return out;
}

// Go's Sprintf for the verbs templates use: %v %s %d %q %f %x %t %%, flags -+0 and space,
// width and precision.
std::string sprintf(const std::string& format, const std::vector<json>& args) {
  std::string out;
  std::size_t next = 0;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    std::string spec = "{:";
    std::size_t j = i + 1;
    bool left = false;
    bool zero = false;
    bool plus = false;
    for (; j < format.size() && std::string_view("-+0 #").find(format[j]) != std::string::npos;
         ++j) {
      left = left || format[j] == '-';
      zero = zero || format[j] == '0';
      plus = plus || format[j] == '+';
    }
    std::string width;
    for (; j < format.size() && std::isdigit(static_cast<unsigned char>(format[j])); ++j) {
      width += format[j];
    }
    std::string precision;
    if (j < format.size() && format[j] == '.') {
      for (++j; j < format.size() && std::isdigit(static_cast<unsigned char>(format[j])); ++j) {
        precision += format[j];
      }
      precision.insert(0, precision.empty() ? ".0" : ".");
    }
    if (j == format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    const char verb = format[j];
    i = j;
    if (verb == '%') {
      out += '%';
      continue;
    }
    if (next >= args.size()) {
      out += fmt::format("%!{}(MISSING)", verb);
      continue;
    }
    const json& arg = args[next++];
    std::string text;
    if ((verb == 'd' || verb == 'x') && arg.is_number_integer()) {
      const auto n = arg.get<long long>();
      const auto digits = verb == 'd' ? fmt::format("{}", n) : fmt::format("{:x}", n);
      text = fmt::format("{}{}", plus && n >= 0 ? "+" : "", digits);
    } else if (verb == 'f' && arg.is_number()) {
      text = fmt::format(fmt::runtime("{:" + (precision.empty() ? ".6" : precision) + "f}"),
                         arg.get<double>());
    } else if (verb == 'q' && arg.is_string()) {
      text = arg.dump();
    } else if (verb == 'x' && arg.is_string()) {
      for (const unsigned char c : arg.get_ref<const std::string&>()) {
        text += fmt::format("{:02x}", c);
      }
    } else if (verb == 's' || verb == 'v' || (verb == 't' && arg.is_boolean())) {
      print_value(text, arg, false);
      if (!precision.empty() && verb == 's') {
        text = text.substr(0, std::stoul(precision.substr(1)));
      }
    } else {
      text = fmt::format("%!{}({})", verb, to_text(arg));
    }
    const std::size_t w = width.empty() ? 0 : std::stoul(width);
    if (text.size() < w) {
      const std::string pad(w - text.size(), zero && !left ? '0' : ' ');
      text = left ? text + pad : pad + text;
    }
    out += text;
  }
  if (next < args.size()) {
    out += "%!(EXTRA ";
    for (std::size_t k = next; k < args.size(); ++k) {
      out += fmt::format("{}{}={}", k == next ? "" : ", ", args[k].type_name(), to_text(args[k]));
    }
    out += ")";
  }
  return out;
}

json index(const std::vector<json>& args) {
  if (args.size() < 2) {
    throw_invalid("template: wrong number of args for index: want at least 2 got {}", args.size());
  }
  json value = args[0];
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (value.is_object() && args[i].is_string()) {
      const auto it = value.find(args[i].get<std::string>());
      value = it == value.end() ? json(nullptr) : *it;
    } else if (value.is_array() && args[i].is_number_integer()) {
      const auto n = args[i].get<long long>();
      if (n < 0 || static_cast<std::size_t>(n) >= value.size()) {
        throw_invalid("template: error calling index: index out of range: {}", n);
      }
      value = value[static_cast<std::size_t>(n)];
    } else if (value.is_null()) {
      return nullptr;
    } else {
      throw_invalid("template: error calling index: can't index {} with {}", value.type_name(),
                    args[i].dump());
    }
  }
  return value;
}

std::string change_case(std::string text, bool upper) {
  for (auto& c : text) {
    c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c))
                                : std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

// strings.Title: the first letter of each word upper-cased.
std::string title(std::string text) {
  bool start = true;
  for (auto& c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (start && std::isalpha(u)) {
      c = static_cast<char>(std::toupper(u));
    }
    start = !(std::isalnum(u) || c == '_' || c == '\'' || u >= 0x80);
  }
  return text;
}

}  // namespace

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
  print_value(out, value, false);
  return out;
}

bool truth(const json& value) {
  switch (value.type()) {
    case json::value_t::boolean:
      return value.get<bool>();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return value.get<double>() != 0;
    case json::value_t::string:
    case json::value_t::array:
    case json::value_t::object:
      return !value.empty();
    default:
      return false;
  }
}

bool is_function(std::string_view name) {
  return std::find(kFunctions.begin(), kFunctions.end(), name) != kFunctions.end();
}

json call_function(std::string_view name, const std::vector<json>& args) {
  if (name == "not") {
    want(name, args, 1);
    return !truth(args[0]);
  }
  if (name == "eq") {
    if (args.size() < 2) {
      throw_invalid("template: wrong number of args for eq: want at least 2 got {}", args.size());
    }
    return std::any_of(args.begin() + 1, args.end(),
                       [&](const json& b) { return compare(name, args[0], b, false) == 0; });
  }
  if (name == "ne" || name == "lt" || name == "le" || name == "gt" || name == "ge") {
    want(name, args, 2);
    const int c = compare(name, args[0], args[1], name != "ne");
    return name == "ne"   ? c != 0
           : name == "lt" ? c < 0
           : name == "le" ? c <= 0
           : name == "gt" ? c > 0
                          : c >= 0;
  }
  if (name == "len") {
    want(name, args, 1);
    if (args[0].is_string()) {
      return args[0].get_ref<const std::string&>().size();
    }
    if (!args[0].is_array() && !args[0].is_object()) {
      throw_invalid("template: error calling len: len of {}", args[0].type_name());
    }
    return args[0].size();
  }
  if (name == "index") {
    return index(args);
  }
  if (name == "print" || name == "println") {
    return sprint(args, name == "println") + (name == "println" ? "\n" : "");
  }
  if (name == "printf") {
    if (args.empty()) {
      throw_invalid("template: wrong number of args for printf: want at least 1 got 0");
    }
    return sprintf(text_arg(name, args[0]), std::vector<json>(args.begin() + 1, args.end()));
  }
  if (name == "json") {
    want(name, args, 1);
    return args[0].dump();
  }
  if (name == "join") {
    want(name, args, 2);
    if (!args[0].is_array() && !args[0].is_null()) {
      throw_invalid("template: error calling join: join of {}", args[0].type_name());
    }
    std::string out;
    const auto& separator = text_arg(name, args[1]);
    for (std::size_t i = 0; i < args[0].size(); ++i) {
      out += (i == 0 ? "" : separator) + to_text(args[0][i]);
    }
    return out;
  }
  if (name == "split") {
    want(name, args, 2);
    const auto& text = text_arg(name, args[0]);
    const auto& separator = text_arg(name, args[1]);
    json parts = json::array();
    if (separator.empty()) {
      for (const char c : text) {
        parts.push_back(std::string(1, c));
      }
      return parts;
    }
    std::size_t pos = 0;
    for (auto at = text.find(separator); at != std::string::npos; at = text.find(separator, pos)) {
      parts.push_back(text.substr(pos, at - pos));
      pos = at + separator.size();
    }
    parts.push_back(text.substr(pos));
    return parts;
  }
  if (name == "upper" || name == "lower") {
    want(name, args, 1);
    return change_case(to_text(args[0]), name == "upper");
  }
  if (name == "title") {
    want(name, args, 1);
    return title(to_text(args[0]));
  }
  if (name == "truncate") {
    want(name, args, 2);
    const auto& text = text_arg(name, args[0]);
    const auto n = std::max(int_arg(name, args[1]), 0LL);
    return text.size() < static_cast<std::size_t>(n) ? text : text.substr(0, n);
  }
  if (name == "pad") {
    want(name, args, 3);
    const auto& text = text_arg(name, args[0]);
    if (text.empty()) {
      return text;
    }
    const auto before = std::max(int_arg(name, args[1]), 0LL);
    const auto after = std::max(int_arg(name, args[2]), 0LL);
    return std::string(before, ' ') + text + std::string(after, ' ');
  }
  throw_invalid("template: function \"{}\" not defined", name);
}

}  // namespace gctool::tmpl
