// Go's text/template, parsed into a small tree and run over JSON (see json_template.hpp).
#include "gctool/core/json_template.hpp"

#include <cctype>
#include <charconv>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "gctool/core/error.hpp"
#include "template_functions.hpp"

namespace gctool {
namespace {

using nlohmann::json;
using tmpl::print_value;
using tmpl::truth;

// ---- tokens of an action -------------------------------------------------------------------

enum class Tok { ident, field, var, literal, lparen, rparen, pipe, declare, assign, comma };

struct Token {
  explicit Token(Tok k, std::string t = {}, std::vector<std::string> c = {}, json l = {})
      : kind(k), text(std::move(t)), chain(std::move(c)), literal(std::move(l)) {}
  Tok kind;
  std::string text;                // ident or variable name ("$", "$x")
  std::vector<std::string> chain;  // .A.B after a field, variable or ')'
  json literal;
};

bool ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

std::vector<std::string> read_chain(std::string_view s, std::size_t& i) {
  std::vector<std::string> chain;
  while (i < s.size() && s[i] == '.' && i + 1 < s.size() && ident_char(s[i + 1])) {
    std::size_t end = i + 1;
    while (end < s.size() && ident_char(s[end])) {
      ++end;
    }
    chain.emplace_back(s.substr(i + 1, end - i - 1));
    i = end;
  }
  return chain;
}

std::string quoted(std::string_view s, std::size_t& i, std::string_view action) {
  const char quote = s[i];
  std::string text;
  for (++i; i < s.size() && s[i] != quote; ++i) {
    if (quote == '"' && s[i] == '\\' && i + 1 < s.size()) {
      const char next = s[++i];
      text += next == 'n' ? '\n' : next == 't' ? '\t' : next == 'r' ? '\r' : next;
    } else {
      text += s[i];
    }
  }
  if (i == s.size()) {
    throw_invalid("template: unterminated quoted string in \"{{{{{}}}}}\"", action);
  }
  ++i;
  return text;
}

std::vector<Token> lex(std::string_view s) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '|') {
      tokens.push_back(Token{Tok::pipe});
      ++i;
    } else if (c == '(') {
      tokens.push_back(Token{Tok::lparen});
      ++i;
    } else if (c == ')') {
      ++i;
      tokens.push_back(Token{Tok::rparen, "", read_chain(s, i)});
    } else if (c == ',') {
      tokens.push_back(Token{Tok::comma});
      ++i;
    } else if (c == ':' && i + 1 < s.size() && s[i + 1] == '=') {
      tokens.push_back(Token{Tok::declare});
      i += 2;
    } else if (c == '=') {
      tokens.push_back(Token{Tok::assign});
      ++i;
    } else if (c == '"' || c == '`') {
      tokens.push_back(Token{Tok::literal, "", {}, quoted(s, i, s)});
    } else if (c == '.') {
      auto chain = read_chain(s, i);
      if (chain.empty()) {
        ++i;  // "." alone: the dot
      }
      tokens.push_back(Token{Tok::field, "", std::move(chain)});
    } else if (c == '$') {
      std::size_t end = i + 1;
      while (end < s.size() && ident_char(s[end])) {
        ++end;
      }
      Token t{Tok::var, std::string(s.substr(i, end - i))};
      i = end;
      t.chain = read_chain(s, i);
      tokens.push_back(std::move(t));
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+') {
      std::size_t end = i + 1;
      while (end < s.size() &&
             (std::isalnum(static_cast<unsigned char>(s[end])) || s[end] == '.')) {
        ++end;
      }
      const std::string number(s.substr(i, end - i));
      json value = json::parse(number, nullptr, false);
      if (value.is_discarded() || !value.is_number()) {
        throw_invalid("template: bad number syntax: \"{}\"", number);
      }
      tokens.push_back(Token{Tok::literal, "", {}, std::move(value)});
      i = end;
    } else if (ident_char(c)) {
      std::size_t end = i;
      while (end < s.size() && ident_char(s[end])) {
        ++end;
      }
      tokens.push_back(Token{Tok::ident, std::string(s.substr(i, end - i))});
      i = end;
    } else {
      throw_invalid("template: unexpected \"{}\" in \"{{{{{}}}}}\"", c, s);
    }
  }
  return tokens;
}

// ---- the tree -------------------------------------------------------------------------------

struct Pipeline;

struct Operand {
  enum class Kind { field, var, literal, function, pipeline };
  explicit Operand(Kind k, std::string n = {}, std::vector<std::string> c = {}, json l = {})
      : kind(k), name(std::move(n)), chain(std::move(c)), literal(std::move(l)) {}
  Kind kind;
  std::string name;                // variable or function
  std::vector<std::string> chain;  // fields after it
  json literal;
  std::shared_ptr<Pipeline> sub;
};

struct Command {
  std::vector<Operand> operands;
};

struct Pipeline {
  std::vector<std::string> declare;  // $x := ... or $i, $e := ... (range)
  bool assign = false;               // $x = ... (an existing variable)
  std::vector<Command> commands;
};

struct Node {
  enum class Kind { text, action, if_, range, with };
  explicit Node(Kind k, std::string t = {}) : kind(k), text(std::move(t)) {}
  Kind kind;
  std::string text;
  Pipeline pipeline;
  std::vector<Node> body;
  std::vector<Node> otherwise;
};

// One {{action}} or text between them.
struct Item {
  Item(bool t, std::string s, std::vector<Token> k = {})
      : is_text(t), text(std::move(s)), tokens(std::move(k)) {}
  bool is_text;
  std::string text;  // text, or the action's source
  std::vector<Token> tokens;
};

std::vector<Item> split_items(std::string_view t) {
  std::vector<Item> items;
  std::size_t pos = 0;
  bool trim_next = false;
  while (pos <= t.size()) {
    const auto open = t.find("{{", pos);
    std::string_view text = t.substr(pos, open == std::string_view::npos ? t.npos : open - pos);
    if (trim_next) {
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
      }
    }
    if (open == std::string_view::npos) {
      items.push_back(Item{true, std::string(text)});
      break;
    }
    const auto close = t.find("}}", open + 2);
    if (close == std::string_view::npos) {
      throw_invalid("template: unclosed action in \"{}\"", t);
    }
    std::string_view action = t.substr(open + 2, close - open - 2);
    // "{{- " and " -}}" trim the white space next to the action, as in Go.
    if (action.starts_with("- ") || action == "-") {
      action.remove_prefix(1);
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
      }
    }
    trim_next = action.ends_with(" -");
    if (trim_next) {
      action.remove_suffix(1);
    }
    items.push_back(Item{true, std::string(text)});
    const auto trimmed = action.find_first_not_of(" \t\r\n");
    if (trimmed != std::string_view::npos && action.substr(trimmed).starts_with("/*")) {
      pos = close + 2;  // a comment
      continue;
    }
    items.push_back(Item{false, std::string(action), lex(action)});
    pos = close + 2;
  }
  return items;
}

class Parser {
 public:
  explicit Parser(std::vector<Item> items) : items_(std::move(items)) {}

  std::vector<Node> parse() {
    auto [list, stop] = parse_list();
    if (stop != nullptr) {
      throw_invalid("template: unexpected {{{{{}}}}}", stop->text);
    }
    return list;
  }

 private:
  // Nodes up to an {{else ...}} or {{end}}, which is returned (nullptr at the end of input).
  std::pair<std::vector<Node>, const Item*> parse_list() {
    std::vector<Node> list;
    while (next_ < items_.size()) {
      const Item& item = items_[next_++];
      if (item.is_text) {
        if (!item.text.empty()) {
          list.push_back(Node{Node::Kind::text, item.text});
        }
        continue;
      }
      if (item.tokens.empty()) {
        throw_invalid("template: missing value in \"{{{{{}}}}}\"", item.text);
      }
      const auto& head = item.tokens.front();
      if (head.kind == Tok::ident && (head.text == "end" || head.text == "else")) {
        return {std::move(list), &item};
      }
      if (head.kind == Tok::ident &&
          (head.text == "if" || head.text == "range" || head.text == "with")) {
        list.push_back(control(item, 0));
        continue;
      }
      if (head.kind == Tok::ident &&
          (head.text == "define" || head.text == "template" || head.text == "block" ||
           head.text == "break" || head.text == "continue")) {
        throw_invalid("template: {{{{{}}}}} is not supported", head.text);
      }
      Node node{Node::Kind::action};
      node.pipeline = pipeline(item, 0, item.tokens.size());
      list.push_back(std::move(node));
    }
    return {std::move(list), nullptr};
  }

  // {{if|range|with PIPELINE}} starting at tokens[at], through its {{end}}.
  Node control(const Item& item, std::size_t at) {
    const auto& word = item.tokens[at].text;
    Node node{word == "if"      ? Node::Kind::if_
              : word == "range" ? Node::Kind::range
                                : Node::Kind::with};
    if (at + 1 == item.tokens.size()) {
      throw_invalid("template: missing value for {}", word);
    }
    node.pipeline = pipeline(item, at + 1, item.tokens.size());
    auto [body, stop] = parse_list();
    node.body = std::move(body);
    if (stop == nullptr) {
      throw_invalid("template: unexpected EOF: {{{{{}}}}} has no {{{{end}}}}", word);
    }
    if (stop->tokens.front().text == "else") {
      if (stop->tokens.size() > 1) {
        // {{else if ...}} / {{else with ...}}: a nested node that ends with ours.
        const auto& next = stop->tokens[1];
        if (next.kind != Tok::ident || (next.text != "if" && next.text != "with")) {
          throw_invalid("template: unexpected \"{}\" after else", next.text);
        }
        node.otherwise.push_back(control(*stop, 1));
        return node;
      }
      auto [otherwise, end] = parse_list();
      node.otherwise = std::move(otherwise);
      if (end == nullptr || end->tokens.front().text != "end") {
        throw_invalid("template: expected {{{{end}}}} after {{{{else}}}} of {}", word);
      }
    }
    if (stop->tokens.front().text == "end" && stop->tokens.size() > 1) {
      throw_invalid("template: unexpected \"{}\" in end", stop->tokens[1].text);
    }
    return node;
  }

  Pipeline pipeline(const Item& item, std::size_t from, std::size_t to) {
    const auto& t = item.tokens;
    Pipeline p;
    // $x := ..., $x = ..., $i, $e := ...
    if (to - from >= 2 && t[from].kind == Tok::var && t[from].chain.empty()) {
      if (t[from + 1].kind == Tok::declare || t[from + 1].kind == Tok::assign) {
        p.declare.push_back(t[from].text);
        p.assign = t[from + 1].kind == Tok::assign;
        from += 2;
      } else if (to - from >= 4 && t[from + 1].kind == Tok::comma && t[from + 2].kind == Tok::var &&
                 t[from + 3].kind == Tok::declare) {
        p.declare = {t[from].text, t[from + 2].text};
        from += 4;
      }
    }
    Command command;
    for (std::size_t i = from; i < to; ++i) {
      const auto& tok = t[i];
      switch (tok.kind) {
        case Tok::pipe:
          if (command.operands.empty()) {
            throw_invalid("template: missing value in \"{{{{{}}}}}\"", item.text);
          }
          p.commands.push_back(std::move(command));
          command = {};
          break;
        case Tok::field:
          command.operands.push_back(Operand{Operand::Kind::field, "", tok.chain});
          break;
        case Tok::var:
          command.operands.push_back(Operand{Operand::Kind::var, tok.text, tok.chain});
          break;
        case Tok::literal:
          command.operands.push_back(Operand{Operand::Kind::literal, "", {}, tok.literal});
          break;
        case Tok::ident:
          if (tok.text == "true" || tok.text == "false") {
            command.operands.push_back(Operand{Operand::Kind::literal, "", {}, tok.text == "true"});
          } else if (tok.text == "nil") {
            command.operands.push_back(Operand{Operand::Kind::literal, "", {}, nullptr});
          } else if (tmpl::is_function(tok.text)) {
            command.operands.push_back(Operand{Operand::Kind::function, tok.text});
          } else {
            throw_invalid("template: function \"{}\" not defined", tok.text);
          }
          break;
        case Tok::lparen: {
          int depth = 1;
          std::size_t close = i + 1;
          for (; close < to; ++close) {
            depth += t[close].kind == Tok::lparen ? 1 : t[close].kind == Tok::rparen ? -1 : 0;
            if (depth == 0) {
              break;
            }
          }
          if (close == to) {
            throw_invalid("template: unclosed left paren in \"{{{{{}}}}}\"", item.text);
          }
          Operand sub(Operand::Kind::pipeline, "", t[close].chain);
          sub.sub = std::make_shared<Pipeline>(pipeline(item, i + 1, close));
          command.operands.push_back(std::move(sub));
          i = close;
          break;
        }
        default:
          throw_invalid("template: unexpected token in \"{{{{{}}}}}\"", item.text);
      }
    }
    if (command.operands.empty()) {
      throw_invalid("template: missing value in \"{{{{{}}}}}\"", item.text);
    }
    p.commands.push_back(std::move(command));
    return p;
  }

  std::vector<Item> items_;
  std::size_t next_ = 0;
};

// ---- running it -----------------------------------------------------------------------------

// Fields whose Docker type is a map: a missing key there is <no value>, not an error.
bool map_field(std::string_view key) {
  static const std::set<std::string_view> kMaps{
      "Labels",      "Networks",   "Ports",   "Options", "ExposedPorts", "Volumes",
      "Annotations", "DriverOpts", "Sysctls", "Tmpfs",   "StorageOpt",   "Containers"};
  return kMaps.contains(key);
}

// An object whose keys are all Go field names stands for a struct.
bool looks_like_struct(const json& object, std::string_view via) {
  if (map_field(via) || object.empty()) {
    return false;
  }
  for (const auto& [key, value] : object.items()) {
    if (key.empty() || !std::isupper(static_cast<unsigned char>(key[0]))) {
      return false;
    }
  }
  return true;
}

// A value and the field name it was reached through (for looks_like_struct).
struct Value {
  json data;
  std::string via;
};

class Runner {
 public:
  explicit Runner(const json& root) { vars_.push_back({"$", {root, ""}}); }

  void run(const std::vector<Node>& list, const Value& dot, std::string& out) {
    for (const auto& node : list) {
      switch (node.kind) {
        case Node::Kind::text:
          out += node.text;
          break;
        case Node::Kind::action: {
          auto value = pipeline(node.pipeline, dot);
          if (node.pipeline.declare.empty()) {
            print_value(out, value.data, true);
          }
          break;
        }
        case Node::Kind::if_:
        case Node::Kind::with: {
          const auto mark = vars_.size();
          auto value = pipeline(node.pipeline, dot);
          if (truth(value.data)) {
            run(node.body, node.kind == Node::Kind::with ? value : dot, out);
          } else {
            run(node.otherwise, dot, out);
          }
          vars_.resize(mark);
          break;
        }
        case Node::Kind::range:
          range(node, dot, out);
          break;
      }
    }
  }

 private:
  void range(const Node& node, const Value& dot, std::string& out) {
    const auto mark = vars_.size();
    Pipeline p = node.pipeline;
    const auto names = p.declare;
    p.declare.clear();
    const auto value = pipeline(p, dot);
    const auto& data = value.data;
    if (!data.is_array() && !data.is_object() && !data.is_null()) {
      throw_invalid("template: range can't iterate over {}", tmpl::to_text(data));
    }
    if (data.empty()) {
      run(node.otherwise, dot, out);
      return;
    }
    std::size_t i = 0;
    for (auto it = data.begin(); it != data.end(); ++it, ++i) {
      const Value element{*it, data.is_object() ? value.via : ""};
      vars_.resize(mark);
      if (names.size() == 2) {
        vars_.push_back({names[0], {data.is_object() ? json(it.key()) : json(i), ""}});
        vars_.push_back({names[1], element});
      } else if (names.size() == 1) {
        vars_.push_back({names[0], element});
      }
      run(node.body, element, out);
    }
    vars_.resize(mark);
  }

  Value pipeline(const Pipeline& p, const Value& dot) {
    std::optional<Value> piped;
    for (const auto& command : p.commands) {
      piped = this->command(command, dot, piped);
    }
    if (!p.declare.empty()) {
      if (p.assign) {
        variable(p.declare[0]) = *piped;
      } else {
        vars_.push_back({p.declare[0], *piped});
      }
    }
    return *piped;
  }

  Value command(const Command& c, const Value& dot, const std::optional<Value>& piped) {
    const auto& head = c.operands.front();
    if (head.kind != Operand::Kind::function) {
      if (c.operands.size() > 1 || piped) {
        throw_invalid("template: can't give argument to non-function {}", describe(head));
      }
      return operand(head, dot);
    }
    // and/or stop at the first argument that decides, as Go's do.
    if (head.name == "and" || head.name == "or") {
      if (c.operands.size() + (piped ? 1 : 0) < 2) {
        throw_invalid("template: wrong number of args for {}: want at least 1 got 0", head.name);
      }
      Value result{nullptr, ""};
      for (std::size_t i = 1; i <= c.operands.size(); ++i) {
        if (i == c.operands.size() && !piped) {
          break;
        }
        result = i < c.operands.size() ? operand(c.operands[i], dot) : *piped;
        if (truth(result.data) != (head.name == "and")) {
          break;
        }
      }
      return result;
    }
    std::vector<json> args;
    for (std::size_t i = 1; i < c.operands.size(); ++i) {
      args.push_back(operand(c.operands[i], dot).data);
    }
    if (piped) {
      args.push_back(piped->data);
    }
    return {tmpl::call_function(head.name, args), ""};
  }

  Value operand(const Operand& o, const Value& dot) {
    switch (o.kind) {
      case Operand::Kind::field:
        return fields(dot, o.chain, o);
      case Operand::Kind::var:
        return fields(variable(o.name), o.chain, o);
      case Operand::Kind::literal:
        return {o.literal, ""};
      case Operand::Kind::pipeline:
        return fields(pipeline(*o.sub, dot), o.chain, o);
      case Operand::Kind::function:
        return {tmpl::call_function(o.name, {}), ""};
    }
    return {nullptr, ""};
  }

  Value fields(Value value, const std::vector<std::string>& chain, const Operand& o) {
    for (const auto& key : chain) {
      if (value.data.is_null()) {
        return {nullptr, key};
      }
      if (!value.data.is_object()) {
        throw_invalid("template: at <{}>: can't evaluate field {} in type {}", describe(o), key,
                      value.data.type_name());
      }
      const auto it = value.data.find(key);
      if (it == value.data.end()) {
        if (looks_like_struct(value.data, value.via)) {
          throw_invalid("template: at <{}>: can't evaluate field {}", describe(o), key);
        }
        return {nullptr, key};
      }
      value = {*it, key};
    }
    return value;
  }

  Value& variable(const std::string& name) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
      if (it->first == name) {
        return it->second;
      }
    }
    throw_invalid("template: undefined variable \"{}\"", name);
  }

  static std::string describe(const Operand& o) {
    std::string text = o.kind == Operand::Kind::var        ? o.name
                       : o.kind == Operand::Kind::function ? o.name
                                                           : "";
    for (const auto& key : o.chain) {
      text += "." + key;
    }
    return text.empty() ? "." : text;
  }

  std::vector<std::pair<std::string, Value>> vars_;
};

std::vector<Node> parse(std::string_view t) {
  return Parser(split_items(t)).parse();
}

}  // namespace

std::string render_template(std::string_view tmpl, const json& data) {
  const auto tree = parse(tmpl);
  std::string out;
  Runner(data).run(tree, {data, ""}, out);
  return out;
}

void check_template(std::string_view tmpl) {
  parse(tmpl);
}

}  // namespace gctool
