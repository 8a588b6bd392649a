// The Dockerfile format as BuildKit reads it: parser directives (`# escape=`, `# syntax=`),
// comments, line continuations, heredocs, instruction flags and the JSON (exec) form; and the
// variable expansion BuildKit's shell lexer applies to the arguments of most instructions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gctool::build {

// `<<EOF` after RUN, COPY or ADD: the lines up to the terminator.
struct Heredoc {
  std::string name;     // the terminator word ("EOF")
  std::string content;  // the lines, each with its '\n'
  bool expand = true;   // false when the terminator was quoted (<<"EOF", <<'EOF')
};

struct Instruction {
  std::string keyword;             // upper case: "RUN"
  std::vector<std::string> flags;  // "--from=build", as written (before expansion)
  std::string args;                // the rest, continuations joined, flags removed
  bool exec_form = false;          // args is a JSON array of strings
  std::vector<std::string> exec_args;
  std::vector<Heredoc> heredocs;
  int line = 0;          // 1-based line of the keyword
  std::string original;  // "RUN make" with continuations joined, for progress and history

  // The value of flag --name ("--name=value"), nullopt when absent; "--name" alone is "true".
  std::optional<std::string> flag(std::string_view name) const;
  std::vector<std::string> flag_values(std::string_view name) const;
};

struct Dockerfile {
  std::vector<Instruction> instructions;
  char escape = '\\';
  std::optional<std::string> syntax;  // `# syntax=` as given (ignored: gctool is its own frontend)
};

// The error for a Dockerfile at a line: what() is "Dockerfile:LINE: message".
[[noreturn]] void throw_at(int line, std::string_view message);

// Parses a Dockerfile. Throws an invalid-input Error "Dockerfile:N: ..." for an unknown
// instruction, a bad flag or JSON form, an unterminated heredoc, or a file without instructions.
Dockerfile parse_dockerfile(std::string_view text);

// What a variable name resolves to during expansion; nullopt when unset.
using Lookup = std::function<std::optional<std::string>(const std::string&)>;

// BuildKit's word processing: quotes removed ('...' literal, "..." expanded), the escape
// character escapes the next one, $VAR and ${VAR} expanded, with the modifiers ${VAR:-word},
// ${VAR-word}, ${VAR:+word}, ${VAR+word}, ${VAR:?msg}, ${VAR?msg}. Throws an invalid-input Error
// (without a line; callers add it) for a malformed reference or a ${VAR?msg} on an unset VAR.
std::string expand_word(std::string_view word, const Lookup& lookup, char escape = '\\');

// The variables of a heredoc's text expanded; quotes and escapes are kept as written.
std::string expand_heredoc(std::string_view text, const Lookup& lookup);

// The same, then split into words at unquoted blanks (COPY sources, EXPOSE, VOLUME, ...).
std::vector<std::string> expand_words(std::string_view text, const Lookup& lookup,
                                      char escape = '\\');

// ENV, LABEL, ARG arguments: "K=V K2=\"v 2\"" (or the old "K V" form for ENV and LABEL) as
// (key, expanded value) pairs; with allow_bare (ARG), a word without '=' is a key without value.
std::vector<std::pair<std::string, std::optional<std::string>>> parse_key_values(
    std::string_view keyword, std::string_view args, const Lookup& lookup, char escape,
    bool allow_bare);

}  // namespace gctool::build
