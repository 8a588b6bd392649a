#include "gctool/build/dockerfile.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/text.hpp"

namespace gctool::build {
namespace {

constexpr std::array kKeywords = {"FROM",   "RUN",        "CMD",        "LABEL", "MAINTAINER",
                                  "EXPOSE", "ENV",        "ADD",        "COPY",  "ENTRYPOINT",
                                  "VOLUME", "USER",       "WORKDIR",    "ARG",   "ONBUILD",
                                  "SHELL",  "STOPSIGNAL", "HEALTHCHECK"};

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// `# name=value` at the top of the file.
std::optional<std::pair<std::string, std::string>> directive(std::string_view line) {
  line = trim(line);
  if (!line.starts_with('#')) {
    return std::nullopt;
  }
  line = trim(line.substr(1));
  const auto eq = line.find('=');
  if (eq == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view name = trim(line.substr(0, eq));
  if (name.empty() || !std::all_of(name.begin(), name.end(), name_char)) {
    return std::nullopt;
  }
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::pair{lower, std::string(trim(line.substr(eq + 1)))};
}

struct HeredocMarker {
  std::string name;
  bool strip_tabs = false;
  bool quoted = false;
  std::size_t begin = 0;  // of "<<" in the args
  std::size_t end = 0;
};

std::vector<HeredocMarker> heredoc_markers(std::string_view args) {
  std::vector<HeredocMarker> out;
  std::size_t pos = 0;
  while ((pos = args.find("<<", pos)) != std::string_view::npos) {
    HeredocMarker m;
    m.begin = pos;
    std::size_t i = pos + 2;
    if (i < args.size() && args[i] == '-') {
      m.strip_tabs = true;
      ++i;
    }
    char quote = 0;
    if (i < args.size() && (args[i] == '"' || args[i] == '\'')) {
      quote = args[i++];
      m.quoted = true;
    }
    const std::size_t start = i;
    while (i < args.size() && name_char(args[i])) {
      ++i;
    }
    if (i == start || std::isdigit(static_cast<unsigned char>(args[start]))) {
      pos += 2;
      continue;
    }
    m.name = std::string(args.substr(start, i - start));
    if (quote != 0) {
      if (i >= args.size() || args[i] != quote) {
        pos += 2;
        continue;
      }
      ++i;
    }
    m.end = i;
    out.push_back(std::move(m));
    pos = i;
  }
  return out;
}

}  // namespace

void throw_at(int line, std::string_view message) {
  throw_invalid("Dockerfile:{}: {}", line, message);
}

std::optional<std::string> Instruction::flag(std::string_view name) const {
  std::optional<std::string> value;
  for (const auto& f : flags) {
    const std::string_view body = std::string_view(f).substr(2);
    if (body == name) {
      value = "true";
    } else if (body.starts_with(name) && body.size() > name.size() && body[name.size()] == '=') {
      value = std::string(body.substr(name.size() + 1));
    }
  }
  return value;
}

std::vector<std::string> Instruction::flag_values(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& f : flags) {
    const std::string_view body = std::string_view(f).substr(2);
    if (body.starts_with(name) && body.size() > name.size() && body[name.size()] == '=') {
      out.emplace_back(body.substr(name.size() + 1));
    }
  }
  return out;
}

Dockerfile parse_dockerfile(std::string_view text) {
  std::vector<std::string> lines;
  for (std::size_t pos = 0; pos < text.size();) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      nl = text.size();
    }
    std::string line(text.substr(pos, nl - pos));
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    lines.push_back(std::move(line));
    pos = nl + 1;
  }
  Dockerfile df;
  std::size_t i = 0;
  // Parser directives: only before anything else, each at most once.
  for (bool seen_escape = false; i < lines.size(); ++i) {
    const auto d = directive(lines[i]);
    if (!d) {
      break;
    }
    if (d->first == "escape") {
      if (seen_escape) {
        throw_at(static_cast<int>(i + 1), "only one escape parser directive can be used");
      }
      if (d->second != "\\" && d->second != "`") {
        throw_at(static_cast<int>(i + 1),
                 fmt::format("invalid escape token '{}': must be ` or \\", d->second));
      }
      df.escape = d->second.front();
      seen_escape = true;
    } else if (d->first == "syntax") {
      df.syntax = d->second;
    } else if (d->first != "check") {
      break;  // an unknown directive is a comment, and ends the directives
    }
  }
  const char esc = df.escape;
  while (i < lines.size()) {
    const std::string_view first = trim(lines[i]);
    if (first.empty() || first.starts_with('#')) {
      ++i;
      continue;
    }
    Instruction ins;
    ins.line = static_cast<int>(i + 1);
    std::string logical;
    while (i < lines.size()) {
      std::string_view part = lines[i++];
      while (!part.empty() && std::isspace(static_cast<unsigned char>(part.back()))) {
        part.remove_suffix(1);
      }
      if (!part.empty() && part.back() == esc) {
        logical += part.substr(0, part.size() - 1);
        // Comment lines inside a continued instruction are dropped, as BuildKit does.
        while (i < lines.size() && trim(lines[i]).starts_with('#')) {
          ++i;
        }
        continue;
      }
      logical += part;
      break;
    }
    const std::string_view body = trim(logical);
    std::size_t k = 0;
    while (k < body.size() && !is_blank(body[k])) {
      ++k;
    }
    ins.keyword = upper(body.substr(0, k));
    if (std::find(kKeywords.begin(), kKeywords.end(), ins.keyword) == kKeywords.end()) {
      throw_at(ins.line, fmt::format("unknown instruction: {}", body.substr(0, k)));
    }
    std::string_view rest = trim(body.substr(k));
    ins.original = fmt::format("{} {}", ins.keyword, rest);
    const bool takes_flags = ins.keyword == "FROM" || ins.keyword == "RUN" ||
                             ins.keyword == "COPY" || ins.keyword == "ADD" ||
                             ins.keyword == "HEALTHCHECK";
    while (takes_flags && rest.starts_with("--")) {
      std::size_t e = 0;
      while (e < rest.size() && !is_blank(rest[e])) {
        ++e;
      }
      ins.flags.emplace_back(rest.substr(0, e));
      rest = trim(rest.substr(e));
    }
    ins.args = std::string(rest);
    if (ins.keyword == "RUN" || ins.keyword == "COPY" || ins.keyword == "ADD") {
      const auto markers = heredoc_markers(ins.args);
      std::string raw_lines;
      for (const auto& m : markers) {
        Heredoc doc{m.name, "", !m.quoted};
        bool closed = false;
        while (i < lines.size()) {
          std::string_view l = lines[i++];
          raw_lines += fmt::format("{}\n", l);
          if (m.strip_tabs) {
            while (l.starts_with('\t')) {
              l.remove_prefix(1);
            }
          }
          if (l == m.name) {
            closed = true;
            break;
          }
          doc.content += fmt::format("{}\n", l);
        }
        if (!closed) {
          throw_at(ins.line, fmt::format("unterminated heredoc <<{}", m.name));
        }
        ins.heredocs.push_back(std::move(doc));
      }
      if (ins.keyword == "RUN" && !markers.empty()) {
        // A lone heredoc is the script; otherwise the shell reads the heredocs itself.
        if (markers.size() == 1 && trim(ins.args).size() == markers[0].end - markers[0].begin) {
          ins.args = ins.heredocs[0].content;
        } else {
          ins.args = fmt::format("{}\n{}", ins.args, raw_lines);
        }
      }
    }
    if (ins.args.starts_with('[') && ins.heredocs.empty()) {
      try {
        const auto j = nlohmann::json::parse(ins.args);
        ins.exec_args = j.get<std::vector<std::string>>();
        ins.exec_form = true;
      } catch (const nlohmann::json::exception&) {
        // Not a JSON array of strings: the shell form, as Docker takes it.
      }
    }
    const bool needs_args = ins.keyword != "CMD" && ins.keyword != "ENTRYPOINT";
    if (needs_args && ins.args.empty() && !ins.exec_form) {
      throw_at(ins.line, fmt::format("{} requires at least one argument", ins.keyword));
    }
    df.instructions.push_back(std::move(ins));
  }
  if (df.instructions.empty()) {
    throw_invalid("the Dockerfile (size {} B) has no instructions", text.size());
  }
  return df;
}

namespace {

// BuildKit's shell lexer over one text; with split, unquoted blanks separate words (and so do
// blanks in unquoted expansions).
class Lexer {
 public:
  Lexer(std::string_view text, const Lookup& lookup, char escape, bool split, bool raw = false)
      : text_(text), lookup_(lookup), escape_(escape), split_(split), raw_(raw) {}

  std::vector<std::string> run() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (raw_ && c != '$') {
        ++pos_;
        raw(c);
      } else if (c == escape_) {
        ++pos_;
        if (pos_ < text_.size()) {
          raw(text_[pos_++]);
        } else {
          raw(c);
        }
      } else if (c == '\'') {
        ++pos_;
        const auto end = text_.find('\'', pos_);
        if (end == std::string_view::npos) {
          throw_invalid("unexpected end of statement while looking for matching single-quote");
        }
        in_word_ = true;
        word_ += text_.substr(pos_, end - pos_);
        pos_ = end + 1;
      } else if (c == '"') {
        ++pos_;
        in_word_ = true;
        double_quoted();
      } else if (c == '$') {
        ++pos_;
        unquoted(dollar());
      } else {
        ++pos_;
        unquoted(std::string(1, c));
      }
    }
    if (in_word_ || !split_) {
      words_.push_back(std::move(word_));
    }
    return std::move(words_);
  }

 private:
  void raw(char c) {
    in_word_ = true;
    word_ += c;
  }
  void unquoted(const std::string& s) {
    for (char c : s) {
      if (split_ && std::isspace(static_cast<unsigned char>(c))) {
        if (in_word_) {
          words_.push_back(std::move(word_));
          word_.clear();
          in_word_ = false;
        }
      } else {
        raw(c);
      }
    }
  }

  void double_quoted() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return;
      }
      if (c == escape_ && pos_ + 1 < text_.size()) {
        const char next = text_[pos_ + 1];
        if (next == '"' || next == '$' || next == escape_) {
          word_ += next;
          pos_ += 2;
          continue;
        }
      }
      if (c == '$') {
        ++pos_;
        word_ += dollar();
        continue;
      }
      word_ += c;
      ++pos_;
    }
    throw_invalid("unexpected end of statement while looking for matching double-quote");
  }

  std::string name() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && name_char(text_[pos_])) {
      ++pos_;
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  // After '$': the expansion, or "$" when no name follows.
  std::string dollar() {
    if (pos_ >= text_.size()) {
      return "$";
    }
    if (text_[pos_] != '{') {
      const std::string n = name();
      return n.empty() ? "$" : lookup_(n).value_or("");
    }
    ++pos_;
    const std::string n = name();
    if (n.empty()) {
      throw_invalid("bad substitution: \"{}\"", text_);
    }
    if (pos_ >= text_.size()) {
      throw_invalid("missing '}}' in \"{}\"", text_);
    }
    if (text_[pos_] == '}') {
      ++pos_;
      return lookup_(n).value_or("");
    }
    bool colon = false;
    if (text_[pos_] == ':') {
      colon = true;
      ++pos_;
    }
    if (pos_ >= text_.size() || (text_[pos_] != '-' && text_[pos_] != '+' && text_[pos_] != '?')) {
      throw_invalid(
          "unsupported modifier in \"{}\" (${{VAR:-word}}, ${{VAR:+word}}, "
          "${{VAR:?message}} and their forms without ':')",
          text_);
    }
    const char mod = text_[pos_++];
    // The word up to the matching '}', itself expanded.
    int depth = 1;
    const std::size_t start = pos_;
    while (pos_ < text_.size()) {
      if (text_[pos_] == escape_) {
        pos_ += 2;
        continue;
      }
      if (text_[pos_] == '{') {
        ++depth;
      } else if (text_[pos_] == '}' && --depth == 0) {
        break;
      }
      ++pos_;
    }
    if (pos_ >= text_.size()) {
      throw_invalid("missing '}}' in \"{}\"", text_);
    }
    const std::string_view word_text = text_.substr(start, pos_ - start);
    ++pos_;
    const auto value = lookup_(n);
    const bool set = value && (!colon || !value->empty());
    const auto word = [&] { return expand_word(word_text, lookup_, escape_); };
    switch (mod) {
      case '-':
        return set ? *value : word();
      case '+':
        return set ? word() : std::string();
      default:
        if (!set) {
          const std::string msg = word();
          throw_invalid("{}: {}", n, msg.empty() ? "is not allowed to be unset" : msg);
        }
        return *value;
    }
  }

  std::string_view text_;
  const Lookup& lookup_;
  char escape_;
  bool split_;
  bool raw_;  // quotes and escapes are plain characters (heredocs)
  std::size_t pos_ = 0;
  std::string word_;
  bool in_word_ = false;
  std::vector<std::string> words_;
};

// Splits at blanks outside quotes, keeping quotes and escapes for the lexer.
std::vector<std::string> raw_words(std::string_view s, char escape) {
  std::vector<std::string> out;
  std::string word;
  char quote = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == escape && i + 1 < s.size() && quote != '\'') {
      word += c;
      word += s[++i];
    } else if (quote != 0) {
      word += c;
      if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      word += c;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (!word.empty()) {
        out.push_back(std::move(word));
        word.clear();
      }
    } else {
      word += c;
    }
  }
  if (!word.empty()) {
    out.push_back(std::move(word));
  }
  return out;
}

}  // namespace

std::string expand_word(std::string_view word, const Lookup& lookup, char escape) {
  return Lexer(word, lookup, escape, false).run().front();
}

std::string expand_heredoc(std::string_view text, const Lookup& lookup) {
  return Lexer(text, lookup, '\\', false, true).run().front();
}

std::vector<std::string> expand_words(std::string_view text, const Lookup& lookup, char escape) {
  return Lexer(text, lookup, escape, true).run();
}

std::vector<std::pair<std::string, std::optional<std::string>>> parse_key_values(
    std::string_view keyword, std::string_view args, const Lookup& lookup, char escape,
    bool allow_bare) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  const auto words = raw_words(args, escape);
  if (words.empty()) {
    throw_invalid("{} requires at least one argument", keyword);
  }
  if (!allow_bare && words.front().find('=') == std::string::npos) {
    // The old form: "ENV KEY value with blanks".
    const auto space = args.find_first_of(" \t");
    if (space == std::string_view::npos) {
      throw_invalid("{} requires KEY=VALUE, not \"{}\"", keyword, args);
    }
    out.emplace_back(std::string(args.substr(0, space)),
                     expand_word(trim(args.substr(space + 1)), lookup, escape));
    return out;
  }
  for (const auto& w : words) {
    const auto eq = w.find('=');
    if (eq == 0) {
      throw_invalid("{} has an empty name in \"{}\"", keyword, w);
    }
    if (eq == std::string::npos) {
      if (!allow_bare) {
        throw_invalid("{} requires KEY=VALUE, not \"{}\"", keyword, w);
      }
      out.emplace_back(expand_word(w, lookup, escape), std::nullopt);
    } else {
      out.emplace_back(expand_word(w.substr(0, eq), lookup, escape),
                       expand_word(w.substr(eq + 1), lookup, escape));
    }
  }
  return out;
}

}  // namespace gctool::build
