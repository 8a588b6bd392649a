#include "args.hpp"

#include <fmt/format.h>

namespace gctool::tool {
namespace {

// " network ls": the words after "gctool".
std::string verb_words(const CLI::App* app) {
  return command_path(app).substr(6);
}

const CLI::App* find_subcommand(const CLI::App* app, const std::string& word) {
  for (const auto* sub : app->get_subcommands([](const CLI::App*) { return true; })) {
    if (!sub->get_name().empty() && sub->check_name(word)) {
      return sub;
    }
  }
  return nullptr;
}

bool has_subcommands(const CLI::App* app) {
  return !app->get_subcommands([](const CLI::App* sub) { return !sub->get_name().empty(); })
              .empty();
}

bool takes_value(const CLI::Option* opt) {
  return opt->get_expected_min() > 0;
}

bool is_help(const CLI::App* app, const CLI::Option* opt) {
  return opt == app->get_help_ptr() || opt == app->get_help_all_ptr() ||
         opt->check_name("--version");
}

// How CLI11 should see `opt` with `value`: `--long=value` keeps a vector option from taking the
// words after it, and a value starting with '-' from being read as a flag.
std::string with_value(const CLI::Option* opt, const std::string& value) {
  const auto& longs = opt->get_lnames();
  if (!longs.empty()) {
    return fmt::format("--{}={}", longs.front(), value);
  }
  return fmt::format("-{}{}", opt->get_snames().front(), value);
}

// The positional arguments `app` needs, and whether it takes more.
std::pair<int, bool> needed_positionals(const CLI::App* app) {
  int needed = 0;
  bool more = false;
  for (const auto* opt :
       app->get_options([](const CLI::Option* o) { return o->get_positional(); })) {
    const bool vector = opt->get_items_expected_max() > 1;
    more = more || vector || !opt->get_required();
    if (opt->get_required()) {
      needed += std::max(opt->get_items_expected_min(), 1);
    }
  }
  return {needed, more};
}

class Checker {
 public:
  Checker(const CLI::App& root, const std::vector<std::string>& argv) : argv_(argv) {
    result_.verb = &root;
    result_.words.push_back(argv.empty() ? "gctool" : argv[0]);
  }

  CheckedArgs run() {
    std::size_t i = 1;
    bool options_end = false;  // after "--" or the first word of a prefix command
    int positionals = 0;
    for (; i < argv_.size(); ++i) {
      const std::string& word = argv_[i];
      const auto* app = result_.verb;
      if (options_end) {
        result_.words.push_back(word);
      } else if (word == "--") {
        options_end = true;
        result_.words.push_back(word);
      } else if (word.starts_with("--")) {
        i = long_flag(app, i);
      } else if (word.starts_with('-') && word.size() > 1) {
        i = short_flags(app, i);
      } else if (has_subcommands(app) && positionals == 0) {
        const auto* sub = find_subcommand(app, word);
        if (sub == nullptr) {
          throw UsageError{
              fmt::format("unknown command \"{}\"", (verb_words(app) + " " + word).substr(1)), app};
        }
        result_.verb = sub;
        result_.words.push_back(word);
      } else {
        ++positionals;
        result_.words.push_back(word);
        options_end = app->get_prefix_command();
      }
    }
    check_count(positionals);
    return std::move(result_);
  }

 private:
  std::size_t long_flag(const CLI::App* app, std::size_t i) {
    const std::string& word = argv_[i];
    const auto eq = word.find('=');
    const std::string name = word.substr(0, eq);
    const auto* opt = app->get_option_no_throw(name);
    if (opt == nullptr || opt->get_positional()) {
      throw UsageError{fmt::format("unknown flag: {}", name), app};
    }
    result_.help = result_.help || is_help(app, opt);
    if (!takes_value(opt) || eq != std::string::npos) {
      result_.words.push_back(word);
      return i;
    }
    if (i + 1 >= argv_.size()) {
      throw UsageError{fmt::format("flag needs an argument: {}", name), app};
    }
    result_.words.push_back(with_value(opt, argv_[i + 1]));
    return i + 1;
  }

  // pflag: `-abc` is -a -b -c while they are flags; the first that takes a value takes the rest
  // of the word (less one '='), or the next word.
  std::size_t short_flags(const CLI::App* app, std::size_t i) {
    const std::string& word = argv_[i];
    for (std::size_t j = 1; j < word.size(); ++j) {
      const auto* opt = app->get_option_no_throw(std::string{'-', word[j]});
      if (opt == nullptr || opt->get_positional()) {
        throw UsageError{fmt::format("unknown shorthand flag: '{}' in {}", word[j], word), app};
      }
      result_.help = result_.help || is_help(app, opt);
      if (!takes_value(opt)) {
        if (j + 1 < word.size() && word[j + 1] == '=') {
          // -d=false
          result_.words.push_back(fmt::format("-{}", word.substr(j)));
          return i;
        }
        result_.words.push_back(std::string{'-', word[j]});
        continue;
      }
      if (j + 1 < word.size()) {
        const auto value = word.substr(word[j + 1] == '=' ? j + 2 : j + 1);
        result_.words.push_back(with_value(opt, value));
        return i;
      }
      if (i + 1 >= argv_.size()) {
        throw UsageError{fmt::format("flag needs an argument: '{}' in {}", word[j], word), app};
      }
      result_.words.push_back(with_value(opt, argv_[i + 1]));
      return i + 1;
    }
    return i;
  }

  // Docker's "\"stop\" requires at least 1 argument." before anything runs.
  void check_count(int given) const {
    const auto* app = result_.verb;
    if (result_.help || app->get_prefix_command()) {
      return;
    }
    if (has_subcommands(app) && app->get_require_subcommand_min() > 0) {
      if (app->get_parent() != nullptr) {
        throw UsageError{fmt::format("\"{}\" requires a subcommand", verb_words(app).substr(1)),
                         app};
      }
      return;
    }
    const auto [needed, more] = needed_positionals(app);
    if (given < needed) {
      throw UsageError{fmt::format("\"{}\" requires {} {} argument{}", verb_words(app).substr(1),
                                   more ? "at least" : "exactly", needed, needed == 1 ? "" : "s"),
                       app, true};
    }
  }

  const std::vector<std::string>& argv_;
  CheckedArgs result_;
};

}  // namespace

std::string command_path(const CLI::App* app) {
  std::string path;
  for (; app != nullptr; app = app->get_parent()) {
    path = app->get_parent() == nullptr ? "gctool" + path : " " + app->get_name() + path;
  }
  return path;
}

CheckedArgs check_args(const CLI::App& root, const std::vector<std::string>& argv) {
  return Checker(root, argv).run();
}

}  // namespace gctool::tool
