#include <catch2/catch.hpp>

#include <map>

#include "gctool/build/dockerfile.hpp"
#include "gctool/core/error.hpp"

using namespace gctool;
using namespace gctool::build;

namespace {

Lookup vars(std::map<std::string, std::string> m) {
  return [m](const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    return it == m.end() ? std::nullopt : std::optional(it->second);
  };
}

std::string error_of(std::string_view text) {
  try {
    parse_dockerfile(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("continuations, comments and case are handled as BuildKit does") {
  const auto df = parse_dockerfile(
      "# a comment\n"
      "from busybox AS base\n"
      "\n"
      "RUN echo a \\\n"
      "# dropped comment\n"
      "    && echo b\n"
      "  cmd [\"sh\", \"-c\", \"x\"]\n");
  REQUIRE(df.instructions.size() == 3);
  CHECK(df.instructions[0].keyword == "FROM");
  CHECK(df.instructions[0].args == "busybox AS base");
  CHECK(df.instructions[0].line == 2);
  CHECK(df.instructions[1].args == "echo a     && echo b");
  CHECK(df.instructions[1].line == 4);
  CHECK(df.instructions[2].line == 7);
  CHECK(df.instructions[2].exec_form);
  CHECK(df.instructions[2].exec_args == std::vector<std::string>{"sh", "-c", "x"});
}

TEST_CASE("parser directives: escape changes the continuation, syntax is recorded") {
  const auto df = parse_dockerfile(
      "# syntax=docker/dockerfile:1\n"
      "# escape=`\n"
      "FROM scratch\n"
      "COPY a `\n"
      "  C:\\dir\\\n");
  CHECK(df.escape == '`');
  CHECK(df.syntax == "docker/dockerfile:1");
  CHECK(df.instructions[1].args == "a   C:\\dir\\");
  // After the first instruction a directive is a comment.
  CHECK(parse_dockerfile("FROM scratch\n# escape=`\n").escape == '\\');
  CHECK(error_of("# escape=x\nFROM scratch\n") ==
        "Dockerfile:1: invalid escape token 'x': must be ` or \\");
}

TEST_CASE("flags and heredocs") {
  const auto df = parse_dockerfile(
      "FROM busybox\n"
      "COPY --from=build --chmod=755 a b /dst/\n"
      "RUN <<EOF\n"
      "echo one\n"
      "echo two\n"
      "EOF\n"
      "RUN cat <<-'END' > /x\n"
      "\t$HOME\n"
      "\tEND\n"
      "COPY <<EOF /etc/conf\n"
      "key=$V\n"
      "EOF\n"
      "CMD x\n");
  REQUIRE(df.instructions.size() == 6);
  const auto& copy = df.instructions[1];
  CHECK(copy.flag("from") == "build");
  CHECK(copy.flag("chmod") == "755");
  CHECK_FALSE(copy.flag("chown"));
  CHECK(copy.args == "a b /dst/");
  CHECK(df.instructions[2].args == "echo one\necho two\n");
  // The shell reads a heredoc that is not the whole command.
  CHECK(df.instructions[3].args == "cat <<-'END' > /x\n\t$HOME\n\tEND\n");
  CHECK(df.instructions[3].heredocs.at(0).content == "$HOME\n");
  CHECK_FALSE(df.instructions[3].heredocs.at(0).expand);
  CHECK(df.instructions[4].heredocs.at(0).content == "key=$V\n");
  CHECK(df.instructions[4].heredocs.at(0).expand);
  CHECK(df.instructions[5].line == 13);
  CHECK(error_of("FROM x\nRUN <<EOF\necho\n") == "Dockerfile:2: unterminated heredoc <<EOF");
}

TEST_CASE("bad Dockerfiles name the line") {
  CHECK(error_of("FROM busybox\n\nFOO bar\n") == "Dockerfile:3: unknown instruction: FOO");
  CHECK(error_of("FROM busybox\nWORKDIR\n") ==
        "Dockerfile:2: WORKDIR requires at least one argument");
  CHECK_FALSE(error_of("# only a comment\n").empty());
}

TEST_CASE("variable expansion follows the shell lexer") {
  const auto v = vars({{"A", "one"}, {"EMPTY", ""}, {"SP", "x y"}});
  CHECK(expand_word("$A/${A}/$B/${B}", v) == "one/one//");
  CHECK(expand_word("${B:-def} ${EMPTY:-def} ${EMPTY-def} ${A:+alt} ${B:+alt}", v) ==
        "def def  alt ");
  CHECK(expand_word("'$A' \"$A\" \\$A", v) == "$A one $A");
  CHECK(expand_word("${B:-${A}x}", v) == "onex");
  CHECK(expand_word("cost $5 and $", v) == "cost  and $");
  CHECK_THROWS_WITH(expand_word("${A", v), "missing '}' in \"${A\"");
  CHECK_THROWS_WITH(expand_word("${}", v), "bad substitution: \"${}\"");
  CHECK_THROWS_WITH(expand_word("${B:?must be set}", v), "B: must be set");
  CHECK_THROWS_WITH(expand_word("'open", v),
                    "unexpected end of statement while looking for matching single-quote");
  CHECK(expand_words("a $SP \"$SP\" 'c d'", v) ==
        std::vector<std::string>{"a", "x", "y", "x y", "c d"});
  CHECK(expand_word("a`$A", v, '`') == "a$A");
  CHECK(expand_heredoc("x='$A' \"${B:-b}\" \\n\n", v) == "x='one' \"b\" \\n\n");
}

TEST_CASE("key=value pairs for ENV, LABEL and ARG") {
  const auto v = vars({{"A", "one"}});
  using KV = std::vector<std::pair<std::string, std::optional<std::string>>>;
  CHECK(parse_key_values("ENV", "X=$A Y=\"two words\" Z=a\\ b", v, '\\', false) ==
        KV{{"X", "one"}, {"Y", "two words"}, {"Z", "a b"}});
  CHECK(parse_key_values("ENV", "OLD value with  blanks", v, '\\', false) ==
        KV{{"OLD", "value with  blanks"}});
  CHECK(parse_key_values("ARG", "V1 V2=${A}", v, '\\', true) ==
        KV{{"V1", std::nullopt}, {"V2", "one"}});
  CHECK_THROWS_WITH(parse_key_values("LABEL", "=x", v, '\\', false),
                    "LABEL has an empty name in \"=x\"");
}
