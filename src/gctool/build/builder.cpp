#include "gctool/build/builder.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gctool/build/context.hpp"
#include "gctool/build/dockerfile.hpp"
#include "gctool/build/layers.hpp"
#include "gctool/build/worker.hpp"
#include "gctool/container/prune.hpp"
#include "gctool/container/runtime.hpp"
#include "gctool/container/spec.hpp"
#include "gctool/container/store.hpp"
#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"
#include "gctool/core/json_file.hpp"
#include "gctool/core/scope_exit.hpp"
#include "gctool/core/time.hpp"
#include "gctool/image/extract.hpp"
#include "gctool/image/pack.hpp"
#include "gctool/image/platform.hpp"
#include "gctool/image/sha256.hpp"
#include "gctool/image/store.hpp"
#include "gctool/registry/pull.hpp"
#include "gctool/registry/reference.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace gctool::build {
namespace {

using Clock = std::chrono::steady_clock;

// A cancel fd is readable when cancelled; a worker's cancel pipe also hangs up when its parent
// goes away.
constexpr short kCancelEvents = POLLIN | POLLHUP | POLLERR;

fs::path builder_dir(const fs::path& root) {
  return root / "builder";
}
fs::path cache_dir(const fs::path& root) {
  return builder_dir(root) / "cache";
}
fs::path tmp_dir(const fs::path& root) {
  return builder_dir(root) / "tmp";
}
fs::path mounts_dir(const fs::path& root) {
  return builder_dir(root) / "cache-mounts";
}
fs::path file_hashes_path(const fs::path& root) {
  return builder_dir(root) / "file-hashes";
}

// A directory of the build's own (staging a layer, a stage's tree), removed on every path. It is
// flocked while in use, so a later build removes it only when a crash left it.
class TempDir {
 public:
  explicit TempDir(const fs::path& root) {
    fs::create_directories(tmp_dir(root));
    std::string tmpl = (tmp_dir(root) / "XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw_errno("create a temporary directory in {}", tmp_dir(root));
    }
    path_ = tmpl;
    lock_ = UniqueFd(::open(tmpl.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!lock_ || ::flock(lock_.get(), LOCK_EX) != 0) {
      const int err = errno;
      fs::remove_all(path_);
      throw Error(err, fmt::format("lock {}", path_));
    }
    check(::fchmod(lock_.get(), 0755), "chmod {}", path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  BorrowedFd fd() const { return lock_.borrow(); }

 private:
  fs::path path_;
  UniqueFd lock_;
};

void sweep_stale_temps(const fs::path& root) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tmp_dir(root), ec)) {
    UniqueFd fd(::open(entry.path().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd && ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
    }
  }
}

std::string clean_absolute(std::string_view path) {
  std::string rel;
  std::string_view p = path;
  while (p.starts_with('/')) {
    p.remove_prefix(1);
  }
  std::vector<std::string> parts;
  // ".." at the root stays at the root, as in a shell.
  std::string acc;
  std::size_t pos = 0;
  while (pos <= p.size()) {
    auto slash = p.find('/', pos);
    if (slash == std::string_view::npos) {
      slash = p.size();
    }
    const std::string_view part = p.substr(pos, slash - pos);
    if (part == "..") {
      if (!parts.empty()) {
        parts.pop_back();
      }
    } else if (!part.empty() && part != ".") {
      parts.emplace_back(part);
    }
    pos = slash + 1;
  }
  std::string out = "/";
  for (const auto& part : parts) {
    out += out.size() == 1 ? part : "/" + part;
  }
  return out;
}

struct Stage {
  std::string name;  // lower case, may be empty
  int index = 0;
  std::string base;  // FROM's argument, unexpanded
  const Instruction* from = nullptr;
  std::vector<const Instruction*> steps;
};

// An image being built.
struct State {
  std::vector<std::string> diff_ids;
  json config = json::object();  // the image configuration's "config" object
  json history = json::array();
  std::string author;
  std::string key;  // the cache key of the last step
  std::map<std::string, std::optional<std::string>> args;
  bool cmd_set = false;
};

// A built stage as a worker process sends it back to the build.
json stage_state_json(const State& st) {
  json args = json::object();
  for (const auto& [name, value] : st.args) {
    args[name] = value ? json(*value) : json(nullptr);
  }
  return {{"diff_ids", st.diff_ids}, {"config", st.config}, {"history", st.history},
          {"author", st.author},     {"key", st.key},       {"args", args},
          {"cmd_set", st.cmd_set}};
}

State stage_state_from_json(const json& j) {
  State st;
  st.diff_ids = j.at("diff_ids").get<std::vector<std::string>>();
  st.config = j.at("config");
  st.history = j.at("history");
  st.author = j.at("author").get<std::string>();
  st.key = j.at("key").get<std::string>();
  for (const auto& [name, value] : j.at("args").items()) {
    st.args[name] = value.is_null() ? std::nullopt : std::optional(value.get<std::string>());
  }
  st.cmd_set = j.at("cmd_set").get<bool>();
  return st;
}

std::string cache_key(const std::string& parent, const json& step) {
  return image::sha256_hex(parent + "\n" + step.dump());
}

std::vector<std::string> env_list(const json& config) {
  return config.contains("Env") && config["Env"].is_array()
             ? config["Env"].get<std::vector<std::string>>()
             : std::vector<std::string>{};
}

void set_env(json& config, const std::string& key, const std::string& value) {
  auto env = env_list(config);
  std::vector<std::string> more{key + "=" + value};
  container::merge_env(env, more);
  config["Env"] = env;
}

std::string config_string(const json& config, const char* key) {
  auto it = config.find(key);
  return it != config.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> shell_of(const json& config) {
  if (auto it = config.find("Shell"); it != config.end() && it->is_array() && !it->empty()) {
    return it->get<std::vector<std::string>>();
  }
  return {"/bin/sh", "-c"};
}

bool is_archive(const fs::path& path) {
  std::array<unsigned char, 512> head{};
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return false;
  }
  const ssize_t n = ::read(fd.get(), head.data(), head.size());
  if (n < 6) {
    return false;
  }
  const auto starts = [&](std::initializer_list<unsigned char> magic) {
    return std::equal(magic.begin(), magic.end(), head.begin());
  };
  if (starts({0x1f, 0x8b}) || starts({'B', 'Z', 'h'}) || starts({0xfd, '7', 'z', 'X', 'Z', 0x00}) ||
      starts({0x28, 0xb5, 0x2f, 0xfd})) {
    return true;
  }
  return n == 512 &&
         std::string_view(reinterpret_cast<const char*>(head.data()) + 257, 5) == "ustar";
}

class Builder {
 public:
  explicit Builder(BuildOptions o) : o_(std::move(o)), store_(o_.root), containers_(o_.root) {}

  BuildResult run() {
    fs::create_directories(cache_dir(o_.root));
    fs::create_directories(tmp_dir(o_.root));
    sweep_stale_temps(o_.root);
    if (o_.context_tar.valid()) {
      context_dir_ = std::make_unique<TempDir>(o_.root);
      image::extract_layer(image::fd_source(o_.context_tar), context_dir_->fd());
      o_.context = context_dir_->path();
    } else {
      // A context extracted from a tar is new every time: none of its files would be seen again.
      file_hashes_ = FileHashes(file_hashes_path(o_.root));
    }
    if (o_.dockerfile.empty()) {
      std::string rel;
      if (!clean_relative(o_.dockerfile_name, rel)) {
        throw_invalid("the Dockerfile {} is outside the build context", o_.dockerfile_name);
      }
      const auto text = try_read_file(o_.context / rel);
      if (!text) {
        throw_invalid("the build context has no Dockerfile {}", o_.dockerfile_name);
      }
      o_.dockerfile = *text;
    }
    df_ = parse_dockerfile(o_.dockerfile);
    if (const auto text = try_read_file(o_.context / ".dockerignore")) {
      ignore_ = IgnoreMatcher(*text);
    }
    if (df_.syntax) {
      result_.warnings.push_back(
          fmt::format("the syntax directive \"{}\" is ignored: gctool reads the Dockerfile itself",
                      *df_.syntax));
    }
    split_stages();
    const int target = target_stage();
    std::set<int> needed;
    try {
      need(target, needed);
      // Every stage is parsed before anything runs, so a bad later stage fails first.
      build_stages(needed);
    } catch (const CacheMiss&) {
      file_hashes_.save();  // the build that follows reads none of these files again
      throw;
    }
    file_hashes_.save();
    State final_state = built_.at(target);
    for (const auto& [name, value] : o_.build_args) {
      if (!consumed_.contains(name) && !kPredefined.contains(name)) {
        result_.warnings.push_back(
            fmt::format("build-arg \"{}\" was not consumed by any ARG of the build", name));
      }
    }
    result_.image_id = commit_final(final_state);
    return result_;
  }

 private:
  static inline const std::set<std::string> kPredefined = {
      "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
      "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};

  void say(std::string_view line) const {
    if (o_.progress) {
      o_.progress(line);
    }
  }

  void check_cancel() const {
    if (!o_.cancel.valid()) {
      return;
    }
    pollfd p{o_.cancel.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) > 0 && (p.revents & kCancelEvents) != 0) {
      throw BuildCancelled();
    }
  }

  // Runs fn, turning an invalid-input Error without a line into one with the instruction's.
  template <typename Fn>
  auto at(const Instruction& ins, Fn fn) {
    try {
      return fn();
    } catch (const BuildCancelled&) {
      throw;
    } catch (const Error& e) {
      if (std::string_view(e.what()).starts_with("Dockerfile:")) {
        throw;
      }
      throw_at(ins.line, fmt::format("{}: {}", ins.keyword, e.what()));
    }
  }

  void split_stages() {
    for (const auto& ins : df_.instructions) {
      if (ins.keyword == "FROM") {
        Stage s;
        s.index = static_cast<int>(stages_.size());
        s.from = &ins;
        const auto words = split_blank(ins.args);
        if (words.size() == 3 && upper(words[1]) == "AS") {
          s.name = lower(words[2]);
          for (const auto& other : stages_) {
            if (other.name == s.name) {
              throw_at(ins.line, fmt::format("duplicate stage name \"{}\"", words[2]));
            }
          }
        } else if (words.size() != 1) {
          throw_at(ins.line, "FROM requires either one or three arguments: IMAGE [AS NAME]");
        }
        s.base = words[0];
        stages_.push_back(std::move(s));
      } else if (stages_.empty()) {
        if (ins.keyword != "ARG") {
          throw_at(ins.line,
                   fmt::format("{} before the first FROM (only ARG may come before)", ins.keyword));
        }
        global_arg(ins);
      } else {
        stages_.back().steps.push_back(&ins);
      }
    }
    if (stages_.empty()) {
      throw_invalid("{}: no FROM instruction", o_.dockerfile_name);
    }
  }

  static std::vector<std::string> split_blank(std::string_view s) {
    std::vector<std::string> out;
    std::string w;
    for (char c : s) {
      if (c == ' ' || c == '\t') {
        if (!w.empty()) {
          out.push_back(std::move(w));
          w.clear();
        }
      } else {
        w += c;
      }
    }
    if (!w.empty()) {
      out.push_back(std::move(w));
    }
    return out;
  }
  static std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
    return s;
  }
  static std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  }

  std::optional<std::string> build_arg(const std::string& name) {
    if (auto it = o_.build_args.find(name); it != o_.build_args.end()) {
      consumed_.insert(name);
      return it->second;
    }
    return std::nullopt;
  }

  void global_arg(const Instruction& ins) {
    const Lookup lookup = [this](const std::string& k) -> std::optional<std::string> {
      auto it = global_args_.find(k);
      return it == global_args_.end() ? std::nullopt : it->second;
    };
    at(ins, [&] {
      for (auto& [name, def] : parse_key_values("ARG", ins.args, lookup, df_.escape, true)) {
        auto given = build_arg(name);
        global_args_[name] = given ? given : def;
      }
      return 0;
    });
  }

  int target_stage() const {
    if (!o_.target) {
      return static_cast<int>(stages_.size()) - 1;
    }
    for (const auto& s : stages_) {
      if (s.name == lower(*o_.target)) {
        return s.index;
      }
    }
    throw_invalid("target stage \"{}\" could not be found", *o_.target);
  }

  std::optional<int> stage_named(const std::string& ref, int before) const {
    for (const auto& s : stages_) {
      if (s.index < before && s.name == lower(ref)) {
        return s.index;
      }
    }
    if (!ref.empty() && std::all_of(ref.begin(), ref.end(), ::isdigit)) {
      const int i = std::stoi(ref);
      if (i < before) {
        return i;
      }
    }
    return std::nullopt;
  }

  std::string from_ref(const Stage& s) {
    const Lookup lookup = [this](const std::string& k) -> std::optional<std::string> {
      auto it = global_args_.find(k);
      return it == global_args_.end() ? std::nullopt : it->second;
    };
    return at(*s.from, [&] { return expand_word(s.base, lookup, df_.escape); });
  }

  void need(int index, std::set<int>& needed) {
    if (needed.contains(index)) {
      return;
    }
    needed.insert(index);
    const Stage& s = stages_[static_cast<std::size_t>(index)];
    const std::string base = from_ref(s);
    if (const auto dep = stage_named(base, index)) {
      deps_[index].insert(*dep);
      need(*dep, needed);
    } else if (base != "scratch") {
      if (const auto platform = s.from->flag("platform")) {
        check_platform(*s.from, *platform);
      }
      ensure_image(*s.from, base, fmt::format("FROM {}", base));
    }
    for (const auto* ins : s.steps) {
      if (const auto from = ins->flag("from"); from && (ins->keyword == "COPY")) {
        if (const auto dep = stage_named(*from, index)) {
          deps_[index].insert(*dep);
          need(*dep, needed);
        } else if (const auto forward = stage_named(*from, static_cast<int>(stages_.size()))) {
          throw_at(ins->line,
                   fmt::format("COPY --from={}: stage {} is defined later", *from, *from));
        } else {
          ensure_image(*ins, *from,
                       fmt::format("COPY --from={}: no stage or image named {}", *from, *from));
        }
      }
      for (const auto& mount : ins->flag_values("mount")) {
        (void)mount;
      }
    }
  }

  // Builds the needed stages, each once the stages it needs are built. A stage that is alone in
  // being ready is built in this process; stages ready together are built at once by forked
  // workers (one per core, at least two), whose step numbers are renumbered into this build's
  // sequence. The first failure cancels the other workers and, once they have released what
  // they made, is thrown here.
  void build_stages(const std::set<int>& needed) {
    std::set<int> waiting = needed;
    Workers running;
    std::map<int, std::map<int, int>> numbers;  // per stage: the worker's step number -> ours
    std::exception_ptr failure;
    const auto slots = static_cast<std::size_t>(std::max(2L, ::sysconf(_SC_NPROCESSORS_ONLN)));
    while (!waiting.empty() || !running.empty()) {
      std::vector<int> ready;
      for (int i : waiting) {
        const auto& deps = deps_[i];
        if (!failure &&
            std::all_of(deps.begin(), deps.end(), [&](int d) { return built_.contains(d); })) {
          ready.push_back(i);
        }
      }
      if (running.empty() && (ready.size() == 1 || (o_.cached_only && !ready.empty()))) {
        built_[ready.front()] = build_stage(stages_[static_cast<std::size_t>(ready.front())]);
        waiting.erase(ready.front());
        continue;
      }
      for (int i : ready) {
        if (running.size() >= slots) {
          break;
        }
        auto worker = start_worker(i, running);
        running.emplace(i, std::move(worker));
        waiting.erase(i);
      }
      if (running.empty()) {
        break;  // after a failure: the stages still waiting never start
      }
      wait_for_workers(running, numbers, failure);
    }
    if (failure) {
      std::rethrow_exception(failure);
    }
  }

  using Workers = std::map<int, std::unique_ptr<StageWorker>>;

  std::unique_ptr<StageWorker> start_worker(int index, Workers& running) {
    const auto in_child = [&running] {
      for (auto& [stage, worker] : running) {
        worker->close_in_child();
      }
    };
    return StageWorker::start(in_child, [this, index](const StageWorker::Child& child) {
      o_.progress = child.say;
      o_.cancel = child.cancel;
      counter_ = 0;
      result_ = BuildResult();
      consumed_.clear();
      // The trees this worker extracts for COPY --from are its own: removed when it ends.
      std::set<std::string> inherited;
      for (const auto& [name, tree] : trees_) {
        inherited.insert(name);
      }
      const ScopeExit drop_trees([&] {
        std::erase_if(trees_, [&](const auto& tree) { return !inherited.contains(tree.first); });
      });
      const State st = build_stage(stages_[static_cast<std::size_t>(index)]);
      file_hashes_.save();
      return json{{"state", stage_state_json(st)},
                  {"steps", result_.steps},
                  {"cached", result_.cached},
                  {"consumed", consumed_}};
    });
  }

  // Waits for progress or the end of a worker; a worker's end adds its stage to built_ or
  // records the first failure and cancels the others. A cancel of the build cancels them all.
  void wait_for_workers(Workers& running, std::map<int, std::map<int, int>>& numbers,
                        std::exception_ptr& failure) {
    std::vector<pollfd> fds;
    std::vector<int> stages;
    for (const auto& [stage, worker] : running) {
      fds.push_back(pollfd{worker->fd().get(), POLLIN, 0});
      stages.push_back(stage);
    }
    const bool watch_cancel = o_.cancel.valid() && !failure;
    if (watch_cancel) {
      fds.push_back(pollfd{o_.cancel.get(), POLLIN, 0});
    }
    const int n = ::poll(fds.data(), fds.size(), -1);
    if (n < 0 && errno == EINTR) {
      return;
    }
    check(n, "poll");
    const auto fail = [&](std::exception_ptr e) {
      if (!failure) {
        failure = std::move(e);
        for (auto& [stage, worker] : running) {
          worker->cancel();
        }
      }
    };
    if (watch_cancel && (fds.back().revents & kCancelEvents) != 0) {
      fail(std::make_exception_ptr(BuildCancelled()));
    }
    for (std::size_t k = 0; k < stages.size(); ++k) {
      if (fds[k].revents == 0) {
        continue;
      }
      StageWorker& worker = *running.at(stages[k]);
      for (const auto& line : worker.read()) {
        say(renumber(line, numbers[stages[k]]));
      }
      if (!worker.finished()) {
        continue;
      }
      try {
        const json r = worker.result();
        built_[stages[k]] = stage_state_from_json(r.at("state"));
        result_.steps += r.at("steps").get<int>();
        result_.cached += r.at("cached").get<int>();
        for (const auto& name : r.at("consumed")) {
          consumed_.insert(name.get<std::string>());
        }
      } catch (...) {
        fail(std::current_exception());
      }
      running.erase(stages[k]);
    }
  }

  // "#N rest" of a worker as "#M rest", M the number this build gives the worker's step N.
  std::string renumber(const std::string& line, std::map<int, int>& numbers) {
    std::size_t end = 1;
    while (end < line.size() && std::isdigit(static_cast<unsigned char>(line[end])) != 0) {
      ++end;
    }
    if (!line.starts_with('#') || end == 1) {
      return line;
    }
    const int theirs = std::stoi(line.substr(1, end - 1));
    auto [it, added] = numbers.try_emplace(theirs, 0);
    if (added) {
      it->second = ++counter_;
    }
    return fmt::format("#{}{}", it->second, line.substr(end));
  }

  // The image ref names, from the store, or pulled from its registry when the store lacks it
  // (always with --pull), once per build; what names the instruction in a failure's message.
  image::Image ensure_image(const Instruction& ins, const std::string& ref,
                            const std::string& what) {
    if (const auto it = pulled_.find(ref); it != pulled_.end()) {
      return store_.resolve(it->second);
    }
    if (!o_.pull) {
      if (auto image = store_.try_resolve(ref)) {
        return *image;
      }
    }
    if (o_.cached_only) {
      throw CacheMiss();
    }
    std::string name;  // as the pull names the image in its errors
    try {
      const auto remote = registry::parse_remote_reference(ref);
      name = remote.full();
      step_no_ = ++counter_;
      step_started_ = Clock::now();
      say(fmt::format("#{} [internal] pull {}", step_no_, remote.full()));
      std::map<std::string, std::string> shown_status;
      registry::PullOptions options;
      options.client = o_.registry;
      options.progress = [&](const std::vector<registry::LayerStatus>& layers) {
        for (const auto& layer : layers) {
          if (std::exchange(shown_status[layer.id], layer.status) != layer.status) {
            say(fmt::format("#{} {}: {}", step_no_, layer.id, layer.status));
          }
        }
      };
      const auto pulled = registry::pull(store_, remote, options);
      say(fmt::format("#{} digest: {}", step_no_, pulled.digest));
      step_done(false);
      pulled_[ref] = pulled.id;
      return store_.resolve(pulled.id);
    } catch (const Error& e) {
      std::string_view why = e.what();
      if (!name.empty() && why.starts_with(name + ": ")) {
        why.remove_prefix(name.size() + 2);  // what names the image already
      }
      throw_at(ins.line, fmt::format("{}: {}", what, why));
    }
  }

  // The ONBUILD triggers of a base image's configuration, parsed as instructions at the FROM's
  // line; they run before the stage's own steps, as Docker runs them.
  std::vector<const Instruction*> onbuild_triggers(const Stage& s, const json& config) {
    std::vector<const Instruction*> out;
    const auto it = config.find("OnBuild");
    if (it == config.end() || !it->is_array()) {
      return out;
    }
    for (const auto& trigger : *it) {
      if (!trigger.is_string()) {
        continue;
      }
      const std::string text = trigger.get<std::string>();
      Dockerfile* parsed = nullptr;
      try {
        parsed = &triggers_.emplace_back(parse_dockerfile(text));
      } catch (const Error& e) {
        std::string_view why = e.what();
        why.remove_prefix(std::min(why.size(), why.find(": ") + 2));  // "Dockerfile:1: "
        throw_at(s.from->line, fmt::format("ONBUILD {}: {}", text, why));
      }
      for (auto& ins : parsed->instructions) {
        const std::string keyword = upper(ins.keyword);
        if (keyword == "ONBUILD" || keyword == "FROM" || keyword == "MAINTAINER") {
          throw_at(s.from->line,
                   fmt::format("{} isn't allowed as an ONBUILD trigger", ins.keyword));
        }
        ins.line = s.from->line;
        ins.original = "ONBUILD " + ins.original;
        out.push_back(&ins);
      }
    }
    return out;
  }

  std::vector<fs::path> layer_dirs(const State& st) const {
    std::vector<fs::path> dirs;
    for (const auto& d : st.diff_ids) {
      dirs.push_back(store_.layer_dir(d));
    }
    return dirs;
  }

  Lookup vars(const State& st) const {
    return [&st](const std::string& k) -> std::optional<std::string> {
      const auto env = env_list(st.config);
      if (auto v = container::env_value(env, k)) {
        return v;
      }
      if (auto it = st.args.find(k); it != st.args.end()) {
        return it->second;
      }
      return std::nullopt;
    };
  }

  State build_stage(const Stage& s) {
    State st;
    const std::string ref = from_ref(s);
    const std::string label = s.name.empty() ? fmt::format("stage-{}", s.index) : s.name;
    if (const auto dep = stage_named(ref, s.index)) {
      st = built_.at(*dep);
      st.args.clear();
      st.cmd_set = false;
    } else if (ref == "scratch") {
      st.key = cache_key("", json{{"from", "scratch"}});
    } else {
      const auto base = ensure_image(*s.from, ref, fmt::format("FROM {}", ref));
      json full = parse_json(store_.config_json(base), "image configuration");
      st.diff_ids = base.diff_ids;
      st.config = full.value("config", json::object());
      if (st.config.is_null()) {
        st.config = json::object();
      }
      st.history = full.value("history", json::array());
      st.key = cache_key("", json{{"from", base.id}});
    }
    // The base's triggers run now and are not inherited.
    std::vector<const Instruction*> steps = onbuild_triggers(s, st.config);
    st.config.erase("OnBuild");
    steps.insert(steps.end(), s.steps.begin(), s.steps.end());
    const int total =
        static_cast<int>(std::count_if(steps.begin(), steps.end(),
                                       [](const Instruction* i) { return shown(*i); })) +
        1;
    step_header(fmt::format("[{} 1/{}] FROM {}", label, total, ref));
    // BuildKit gives an image without PATH the default one, so RUN and the result find programs.
    if (!container::env_value(env_list(st.config), "PATH")) {
      auto env = env_list(st.config);
      env.insert(env.begin(), "PATH=" + std::string(container::kDefaultPath));
      st.config["Env"] = env;
    }
    step_done(false);
    int n = 1;
    for (const auto* ins : steps) {
      check_cancel();
      if (shown(*ins)) {
        ++n;
      }
      step(st, *ins, fmt::format("[{} {}/{}] {}", label, n, total, ins->original));
    }
    return st;
  }

  void check_platform(const Instruction& ins, const std::string& platform) {
    const std::string host = "linux/" + image::host_architecture();
    if (platform != host && !platform.starts_with("$")) {
      throw_at(ins.line, fmt::format("FROM --platform={}: only the host platform {} can be built",
                                     platform, host));
    }
  }

  void step_header(const std::string& what) {
    ++result_.steps;
    step_no_ = ++counter_;
    step_started_ = Clock::now();
    say(fmt::format("#{} {}", step_no_, what));
  }

  void step_done(bool cached) {
    if (cached) {
      ++result_.cached;
      say(fmt::format("#{} CACHED", step_no_));
    } else {
      const double s = std::chrono::duration<double>(Clock::now() - step_started_).count();
      say(fmt::format("#{} DONE {:.1f}s", step_no_, s));
    }
  }

  void history(State& st, const std::string& created_by, bool empty_layer) {
    json h = {{"created", format_rfc3339_nano(std::chrono::system_clock::now())},
              {"created_by", created_by},
              {"comment", "buildkit.dockerfile.v0"}};
    if (empty_layer) {
      h["empty_layer"] = true;
    }
    st.history.push_back(std::move(h));
  }

  // A step that changes only the configuration.
  void config_step(State& st, const Instruction& ins, const json& resolved,
                   const std::string& created_by) {
    st.key = cache_key(st.key, json{{"step", ins.keyword}, {"value", resolved}});
    history(st, created_by, true);
  }

  // BuildKit shows the steps that touch files; the others only change the configuration.
  static bool shown(const Instruction& ins) {
    return ins.keyword == "RUN" || ins.keyword == "COPY" || ins.keyword == "ADD" ||
           ins.keyword == "WORKDIR";
  }

  void step(State& st, const Instruction& ins, const std::string& title) {
    if (shown(ins)) {
      step_header(title);
    }
    const Lookup v = vars(st);
    const std::string& k = ins.keyword;
    json& c = st.config;
    if (k == "ARG") {
      at(ins, [&] {
        for (auto& [name, def] : parse_key_values("ARG", ins.args, v, df_.escape, true)) {
          std::optional<std::string> value = build_arg(name);
          if (!value) {
            value = def;
          }
          if (!value) {
            if (auto g = global_args_.find(name); g != global_args_.end()) {
              value = g->second;
            }
          }
          st.args[name] = value;
        }
        return 0;
      });
      // The values reach the cache keys of RUN steps through their environment.
      history(st, "ARG " + ins.args, true);
    } else if (k == "ENV") {
      at(ins, [&] {
        for (auto& [key, value] : parse_key_values("ENV", ins.args, v, df_.escape, false)) {
          set_env(c, key, *value);
        }
        return 0;
      });
      config_step(st, ins, c["Env"], "ENV " + ins.args);
    } else if (k == "LABEL") {
      at(ins, [&] {
        for (auto& [key, value] : parse_key_values("LABEL", ins.args, v, df_.escape, false)) {
          c["Labels"][key] = *value;
        }
        return 0;
      });
      config_step(st, ins, c["Labels"], "LABEL " + ins.args);
    } else if (k == "MAINTAINER") {
      st.author = at(ins, [&] { return expand_word(ins.args, v, df_.escape); });
      config_step(st, ins, st.author, "MAINTAINER " + st.author);
    } else if (k == "USER") {
      c["User"] = at(ins, [&] { return expand_word(ins.args, v, df_.escape); });
      config_step(st, ins, c["User"], "USER " + c["User"].get<std::string>());
    } else if (k == "STOPSIGNAL") {
      c["StopSignal"] = at(ins, [&] { return expand_word(ins.args, v, df_.escape); });
      config_step(st, ins, c["StopSignal"], "STOPSIGNAL " + c["StopSignal"].get<std::string>());
    } else if (k == "CMD" || k == "ENTRYPOINT") {
      std::vector<std::string> argv = ins.exec_form ? ins.exec_args : shell_of(c);
      if (!ins.exec_form) {
        argv.push_back(ins.args);
      }
      if (k == "CMD") {
        c["Cmd"] = argv;
        st.cmd_set = true;
      } else {
        c["Entrypoint"] = argv;
        if (!st.cmd_set) {
          c.erase("Cmd");  // an inherited CMD goes with a new ENTRYPOINT, as in Docker
        }
      }
      config_step(st, ins, argv,
                  fmt::format("{} {}{}", k, json(argv).dump(), ins.exec_form ? "" : ""));
    } else if (k == "EXPOSE") {
      const auto ports = at(ins, [&] { return expand_words(ins.args, v, df_.escape); });
      for (auto port : ports) {
        if (port.find('/') == std::string::npos) {
          port += "/tcp";
        }
        c["ExposedPorts"][port] = json::object();
      }
      config_step(st, ins, c["ExposedPorts"], "EXPOSE " + fmt::format("{}", fmt::join(ports, " ")));
    } else if (k == "VOLUME") {
      const auto paths = ins.exec_form
                             ? ins.exec_args
                             : at(ins, [&] { return expand_words(ins.args, v, df_.escape); });
      for (const auto& path : paths) {
        if (path.empty()) {
          throw_at(ins.line, "VOLUME specified can not be an empty string");
        }
        c["Volumes"][path] = json::object();
      }
      config_step(st, ins, c["Volumes"], "VOLUME " + json(paths).dump());
    } else if (k == "SHELL") {
      if (!ins.exec_form || ins.exec_args.empty()) {
        throw_at(ins.line, "SHELL requires the arguments to be in JSON form");
      }
      c["Shell"] = ins.exec_args;
      config_step(st, ins, c["Shell"], "SHELL " + json(ins.exec_args).dump());
    } else if (k == "ONBUILD") {
      const auto space = ins.args.find_first_of(" \t");
      const std::string trigger = upper(ins.args.substr(0, space));
      if (trigger == "ONBUILD" || trigger == "FROM" || trigger == "MAINTAINER") {
        throw_at(ins.line, fmt::format("{} isn't allowed as an ONBUILD trigger", trigger));
      }
      c["OnBuild"].push_back(ins.args);
      config_step(st, ins, c["OnBuild"], "ONBUILD " + ins.args);
    } else if (k == "HEALTHCHECK") {
      c["Healthcheck"] = at(ins, [&] { return healthcheck(ins); });
      config_step(st, ins, c["Healthcheck"], "HEALTHCHECK " + ins.args);
    } else if (k == "WORKDIR") {
      workdir(st, ins, v);
    } else if (k == "RUN") {
      at(ins, [&] {
        run_step(st, ins);
        return 0;
      });
    } else if (k == "COPY" || k == "ADD") {
      at(ins, [&] {
        copy_step(st, ins, v);
        return 0;
      });
    } else {
      throw_at(ins.line, fmt::format("{} is not allowed here", k));
    }
  }

  static std::int64_t duration_ns(const std::string& text, const char* flag) {
    try {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(parse_duration(text)).count();
    } catch (const Error&) {
      throw_invalid("invalid --{} \"{}\"", flag, text);
    }
  }

  json healthcheck(const Instruction& ins) {
    const auto words = split_blank(ins.args);
    if (upper(words.at(0)) == "NONE") {
      return json{{"Test", {"NONE"}}};
    }
    if (upper(words.at(0)) != "CMD") {
      throw_invalid("HEALTHCHECK must be NONE or CMD ...");
    }
    std::string rest = ins.args.substr(ins.args.find_first_of(" \t") + 1);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) {
      rest.erase(0, 1);
    }
    json h;
    if (rest.starts_with('[')) {
      auto args = json::parse(rest).get<std::vector<std::string>>();
      args.insert(args.begin(), "CMD");
      h["Test"] = args;
    } else {
      h["Test"] = {"CMD-SHELL", rest};
    }
    for (const char* f : {"interval", "timeout", "start-period", "start-interval"}) {
      if (const auto value = ins.flag(f)) {
        std::string key = f;
        key = key == "start-period"     ? "StartPeriod"
              : key == "start-interval" ? "StartInterval"
              : key == "interval"       ? "Interval"
                                        : "Timeout";
        h[key] = duration_ns(*value, f);
      }
    }
    if (const auto retries = ins.flag("retries")) {
      h["Retries"] = std::stoi(*retries);
    }
    return h;
  }

  std::string absolute_in_workdir(const State& st, const std::string& path) const {
    if (path.starts_with('/')) {
      return clean_absolute(path);
    }
    std::string wd = config_string(st.config, "WorkingDir");
    return clean_absolute((wd.empty() ? "/" : wd) + "/" + path);
  }

  // The cache entry of key, when it and the image keeping its layer are there.
  std::optional<json> cached(const std::string& key) const {
    if (o_.no_cache) {
      return std::nullopt;
    }
    auto entry = try_load_json(cache_dir(o_.root) / (key + ".json"));
    if (!entry || !entry->is_object()) {
      return std::nullopt;
    }
    const std::string layer = entry->value("DiffId", "");
    if (!layer.empty()) {
      const std::string image = entry->value("Image", "");
      if (image.empty() || !store_.try_resolve(image) ||
          !fs::is_directory(store_.layer_dir(layer))) {
        return std::nullopt;
      }
    }
    return entry;
  }

  std::string image_config(const State& st, const std::vector<std::string>& diff_ids) const {
    json full = {{"architecture", image::host_architecture()},
                 {"os", "linux"},
                 {"created", format_rfc3339_nano(std::chrono::system_clock::now())},
                 {"config", st.config},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
                 {"history", st.history}};
    if (!st.author.empty()) {
      full["author"] = st.author;
    }
    return full.dump();
  }

  // Ends a step that makes a layer: a cache hit, or what make() produces (an empty directory
  // gives no layer), stored as an untagged image under the step's key.
  template <typename Make>
  void layer_step(State& st, const json& description, const std::string& created_by, Make make) {
    const std::string key = cache_key(st.key, description);
    if (const auto hit = cached(key)) {
      const std::string layer = hit->value("DiffId", "");
      if (!layer.empty()) {
        st.diff_ids.push_back(layer);
      }
      history(st, created_by, layer.empty());
      st.key = key;
      step_done(true);
      return;
    }
    if (o_.cached_only) {
      throw CacheMiss();
    }
    std::optional<image::PendingLayer> pending = make();
    json entry = {{"DiffId", ""}, {"Image", ""}};
    if (pending) {
      const std::string diff_id = pending->info().diff_id;
      st.diff_ids.push_back(diff_id);
      history(st, created_by, false);
      image::NewImage keep{image_config(st, st.diff_ids), st.diff_ids, {}};
      std::vector<image::PendingLayer> layers;
      layers.push_back(std::move(*pending));
      const auto stored = store_.commit(std::move(layers), {keep});
      entry = {{"DiffId", diff_id}, {"Image", stored.front().id}};
    } else {
      history(st, created_by, true);
    }
    save_json(cache_dir(o_.root) / (key + ".json"), entry, Durability::fast);
    st.key = key;
    step_done(false);
  }

  // dir packed as a layer of the store (nullopt when it is empty).
  std::optional<image::PendingLayer> pack(const fs::path& dir) {
    if (fs::is_empty(dir)) {
      return std::nullopt;
    }
    const image::PackedLayer packed = image::pack_layer(dir, tmp_dir(o_.root));
    image::PendingLayer layer = store_.extract(image::fd_source(packed.file));
    if (layer.info().diff_id != packed.diff_id) {
      throw Error(EIO, "build: a packed layer changed while it was extracted");
    }
    return layer;
  }

  // Creates rel's directories in staging, with the attributes they have in the image (else
  // 0755 root), and returns the host path.
  // Directories the image lacks get owner (COPY --chown makes them its user's, as BuildKit).
  fs::path make_parents(const std::vector<fs::path>& layers, const fs::path& staging,
                        const std::string& rel, std::pair<uid_t, gid_t> owner = {0, 0}) {
    fs::path host = staging;
    std::string prefix;
    std::size_t pos = 0;
    while (pos < rel.size()) {
      auto slash = rel.find('/', pos);
      if (slash == std::string::npos) {
        slash = rel.size();
      }
      const std::string part = rel.substr(pos, slash - pos);
      pos = slash + 1;
      if (part.empty()) {
        continue;
      }
      prefix += prefix.empty() ? part : "/" + part;
      host /= part;
      struct stat here {};
      if (::lstat(host.c_str(), &here) == 0) {
        continue;
      }
      // Looked up before the mkdir: layers may end with the staging directory itself.
      const auto existing = lookup_in_layers(layers, prefix);
      check(::mkdir(host.c_str(), 0755), "mkdir {}", host);
      struct stat want {};
      want.st_mode = S_IFDIR | 0755;
      want.st_uid = owner.first;
      want.st_gid = owner.second;
      if (existing && S_ISDIR(existing->st.st_mode)) {
        want = existing->st;
      }
      check(::chmod(host.c_str(), want.st_mode & 07777), "chmod {}", host);
      check(::lchown(host.c_str(), want.st_uid, want.st_gid), "chown {}", host);
      fixed_times_.emplace_back(host, want.st_mtim);
    }
    return host;
  }

  // Directory mtimes as the image has them (or the epoch), once everything is in place.
  void fix_times() {
    for (auto it = fixed_times_.rbegin(); it != fixed_times_.rend(); ++it) {
      const std::array<timespec, 2> times{it->second, it->second};
      ::utimensat(AT_FDCWD, it->first.c_str(), times.data(), AT_SYMLINK_NOFOLLOW);
    }
    fixed_times_.clear();
  }

  void workdir(State& st, const Instruction& ins, const Lookup& v) {
    const std::string path =
        absolute_in_workdir(st, at(ins, [&] { return expand_word(ins.args, v, df_.escape); }));
    st.config["WorkingDir"] = path;
    const auto layers = layer_dirs(st);
    const auto existing = lookup_in_layers(layers, resolve_in_layers(layers, path, true));
    if (existing && S_ISDIR(existing->st.st_mode)) {
      config_step(st, ins, path, "WORKDIR " + path);
      step_done(false);
      return;
    }
    layer_step(st, json{{"step", "WORKDIR"}, {"path", path}}, "WORKDIR " + path, [&] {
      TempDir staging(o_.root);
      make_parents(layers, staging.path(), resolve_in_layers(layers, path, true));
      fix_times();
      return pack(staging.path());
    });
  }

  // --- RUN ---------------------------------------------------------------------------------

  struct Mounts {
    std::vector<container::BindMount> binds;
    std::vector<fs::path> cache_dirs;  // made when the step runs, not when it is cached
    json description = json::array();
  };

  Mounts run_mounts(const Instruction& ins) {
    Mounts m;
    for (const auto& spec : ins.flag_values("mount")) {
      std::map<std::string, std::string> kv;
      std::size_t pos = 0;
      while (pos <= spec.size()) {
        auto comma = spec.find(',', pos);
        if (comma == std::string::npos) {
          comma = spec.size();
        }
        const std::string item = spec.substr(pos, comma - pos);
        const auto eq = item.find('=');
        kv[item.substr(0, eq)] = eq == std::string::npos ? "true" : item.substr(eq + 1);
        pos = comma + 1;
      }
      const std::string type = kv.contains("type") ? kv["type"] : "bind";
      std::string target = kv.contains("target")        ? kv["target"]
                           : kv.contains("dst")         ? kv["dst"]
                           : kv.contains("destination") ? kv["destination"]
                                                        : "";
      if (target.empty()) {
        throw_invalid("--mount {}: a target is required", spec);
      }
      target = clean_absolute(target);
      if (type == "cache") {
        const std::string id = kv.contains("id") ? kv["id"] : target;
        const fs::path source = mounts_dir(o_.root) / image::sha256_hex(id);
        m.cache_dirs.push_back(source);
        m.binds.push_back(
            {source.string(), target, kv.contains("ro") || kv.contains("readonly"), "", false, ""});
        m.description.push_back({{"type", "cache"}, {"target", target}, {"id", id}});
      } else if (type == "bind") {
        if (kv.contains("from")) {
          throw_invalid("--mount {}: from= is not supported (mount from the context only)", spec);
        }
        const std::string source = kv.contains("source") ? kv["source"]
                                   : kv.contains("src")  ? kv["src"]
                                                         : ".";
        const auto found = find_sources(o_.context, source, IgnoreMatcher());
        m.binds.push_back({found.front().host.string(), target, !kv.contains("rw"), "", false, ""});
        m.description.push_back({{"type", "bind"},
                                 {"target", target},
                                 {"source", source},
                                 {"content", hash_sources(found, ignore_, file_hashes_)}});
      } else {
        throw_invalid("--mount type={} is not supported (cache and bind are)", type);
      }
    }
    return m;
  }

  void run_step(State& st, const Instruction& ins) {
    std::vector<std::string> argv = ins.exec_form ? ins.exec_args : shell_of(st.config);
    if (!ins.exec_form) {
      argv.push_back(ins.args);
    }
    for (const auto& f : ins.flags) {
      if (!f.starts_with("--mount=") && !f.starts_with("--network=")) {
        throw_invalid("unknown flag {}", f);
      }
    }
    std::string network = o_.network;
    if (const auto n = ins.flag("network")) {
      network = *n == "default" ? o_.network : *n;
      if (network != "none" && network != "host" && network != "bridge") {
        throw_invalid("--network={}: none, host or default", *n);
      }
    }
    Mounts mounts = run_mounts(ins);
    // Build args in scope reach the command's environment, unless ENV set the same name.
    std::vector<std::string> env = env_list(st.config);
    std::vector<std::string> arg_env;
    for (const auto& [name, value] : st.args) {
      if (value && !container::env_value(env, name)) {
        arg_env.push_back(name + "=" + *value);
      }
    }
    const std::string created_by = fmt::format(
        "RUN {}{}",
        arg_env.empty() ? "" : fmt::format("|{} {} ", arg_env.size(), fmt::join(arg_env, " ")),
        fmt::join(argv, " "));
    container::merge_env(env, arg_env);
    const json description = {{"step", "RUN"},
                              {"argv", argv},
                              {"env", env},
                              {"user", config_string(st.config, "User")},
                              {"workdir", config_string(st.config, "WorkingDir")},
                              {"network", network},
                              {"mounts", mounts.description}};
    layer_step(st, description, created_by + " # buildkit",
               [&] { return run_container(st, argv, env, network, mounts); });
  }

  std::optional<image::PendingLayer> run_container(const State& st,
                                                   const std::vector<std::string>& argv,
                                                   const std::vector<std::string>& env,
                                                   const std::string& network,
                                                   const Mounts& mounts) {
    if (st.diff_ids.empty()) {
      throw_invalid("RUN needs a base image with the command's files (FROM scratch has none)");
    }
    container::Spec spec;
    spec.image_ref = "gctool-build";
    spec.layer_dirs = layer_dirs(st);
    spec.cmd = argv;
    spec.env = env;
    spec.working_dir = config_string(st.config, "WorkingDir");
    spec.user = config_string(st.config, "User");
    spec.network_mode = network;
    spec.auto_remove = true;
    spec.binds = mounts.binds;
    for (const auto& dir : mounts.cache_dirs) {
      fs::create_directories(dir);
    }
    auto ctr = container::Container::create(containers_, std::move(spec), Durability::fast);
    std::array<int, 2> pipe_fds{};
    check(::pipe2(pipe_fds.data(), O_CLOEXEC), "pipe");
    UniqueFd out_r(pipe_fds[0]);
    UniqueFd out_w(pipe_fds[1]);
    {
      // The container's stdout and stderr are this process's fds 1 and 2 when it starts.
      UniqueFd saved_out(check(::fcntl(1, F_DUPFD_CLOEXEC, 3), "dup stdout"));
      UniqueFd saved_err(check(::fcntl(2, F_DUPFD_CLOEXEC, 3), "dup stderr"));
      ::dup2(out_w.get(), 1);
      ::dup2(out_w.get(), 2);
      std::exception_ptr failed;
      try {
        ctr.start();
      } catch (...) {
        failed = std::current_exception();
      }
      ::dup2(saved_out.get(), 1);
      ::dup2(saved_err.get(), 2);
      if (failed) {
        std::rethrow_exception(failed);
      }
    }
    out_w.reset();
    relay_output(out_r);
    const int code = ctr.wait();
    if (code != 0) {
      throw_invalid("process \"{}\" did not complete successfully: exit code: {}",
                    fmt::join(argv, " "), code);
    }
    const fs::path upper = containers_.dir(ctr.id()) / "upper";
    remove_mount_points(upper, layer_dirs(st), mounts);
    auto layer = pack(upper);
    ctr.finish();
    return layer;
  }

  // Prints the command's output as "#N 1.234 line" until every writer is gone; a cancel on the
  // way throws (the container is then killed by its destructor).
  void relay_output(const UniqueFd& out) {
    std::string partial;
    std::array<char, 16384> buf{};
    const auto emit = [&](std::string_view line) {
      const double t = std::chrono::duration<double>(Clock::now() - step_started_).count();
      say(fmt::format("#{} {:.3f} {}", step_no_, t, line));
    };
    for (;;) {
      std::array<pollfd, 2> p{pollfd{out.get(), POLLIN, 0}, pollfd{o_.cancel.get(), POLLIN, 0}};
      const int n = ::poll(p.data(), o_.cancel.valid() ? 2 : 1, -1);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      check(n, "poll");
      if (o_.cancel.valid() && (p[1].revents & kCancelEvents) != 0) {
        throw BuildCancelled();
      }
      const ssize_t r = ::read(out.get(), buf.data(), buf.size());
      if (r < 0 && errno == EINTR) {
        continue;
      }
      check(r, "read the output of RUN");
      if (r == 0) {
        break;
      }
      partial.append(buf.data(), static_cast<std::size_t>(r));
      for (auto nl = partial.find('\n'); nl != std::string::npos; nl = partial.find('\n')) {
        emit(std::string_view(partial).substr(0, nl));
        partial.erase(0, nl + 1);
      }
    }
    if (!partial.empty()) {
      emit(partial);
    }
  }

  // What the runtime made in the upper dir only to mount over (the /etc files, mount targets,
  // /proc, /sys, /dev) is not a change of the command: dropped when the image lacks it.
  static void remove_mount_points(const fs::path& upper, const std::vector<fs::path>& layers,
                                  const Mounts& mounts) {
    std::vector<std::string> points = {"etc/hostname", "etc/hosts", "etc/resolv.conf",
                                       "proc",         "sys",       "dev"};
    for (const auto& b : mounts.binds) {
      points.push_back(b.destination.substr(1));
    }
    for (const auto& rel : points) {
      std::string path = rel;
      while (!path.empty()) {
        const fs::path host = upper / path;
        struct stat st {};
        if (::lstat(host.c_str(), &st) != 0 || lookup_in_layers(layers, path)) {
          break;
        }
        const bool empty_file = S_ISREG(st.st_mode) && st.st_size == 0;
        std::error_code ec;
        const bool empty_dir = S_ISDIR(st.st_mode) && fs::is_empty(host, ec);
        if (!empty_file && !empty_dir) {
          break;
        }
        fs::remove(host, ec);
        const auto slash = path.rfind('/');
        path = slash == std::string::npos ? "" : path.substr(0, slash);
      }
    }
    // The parents the runtime touched (etc) keep the image's attributes: nothing else changed
    // in them when they are empty now.
    for (const char* dir : {"etc"}) {
      const fs::path host = upper / dir;
      std::error_code ec;
      if (fs::is_directory(host, ec) && fs::is_empty(host, ec) && lookup_in_layers(layers, dir)) {
        struct stat mine {};
        const auto theirs = lookup_in_layers(layers, dir);
        if (::lstat(host.c_str(), &mine) == 0 && S_ISDIR(theirs->st.st_mode) &&
            (mine.st_mode & 07777) == (theirs->st.st_mode & 07777) &&
            mine.st_uid == theirs->st.st_uid && mine.st_gid == theirs->st.st_gid) {
          fs::remove(host, ec);
        }
      }
    }
  }

  // --- COPY / ADD --------------------------------------------------------------------------

  // The merged tree of a stage or image, extracted once per build for COPY --from.
  const fs::path& tree_of(const std::vector<std::string>& diff_ids, const std::string& name) {
    if (auto it = trees_.find(name); it != trees_.end()) {
      return it->second->path();
    }
    auto dir = std::make_unique<TempDir>(o_.root);
    std::vector<fs::path> layers;
    for (const auto& d : diff_ids) {
      layers.push_back(store_.layer_dir(d));
    }
    UniqueFd tar(::open(tmp_dir(o_.root).c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!tar) {
      throw_errno("create a temporary file in {}", tmp_dir(o_.root));
    }
    image::pack_merged(layers, tar);
    check(::lseek(tar.get(), 0, SEEK_SET), "seek");
    image::extract_layer(image::fd_source(tar), dir->fd());
    return trees_.emplace(name, std::move(dir)).first->second->path();
  }

  void copy_step(State& st, const Instruction& ins, const Lookup& v) {
    const bool add = ins.keyword == "ADD";
    for (const auto& f : ins.flags) {
      const auto name = f.substr(2, f.find('=') == std::string::npos ? f.npos : f.find('=') - 2);
      if (name != "chown" && name != "chmod" && name != "link" && (add || name != "from")) {
        throw_invalid("unknown flag {}", f);
      }
    }
    std::vector<std::string> words =
        ins.exec_form ? ins.exec_args : expand_words(ins.args, v, df_.escape);
    if (words.size() < 2) {
      throw_invalid("requires at least two arguments: SOURCE... DESTINATION");
    }
    const std::string dest_word = words.back();
    words.pop_back();
    const std::string dest = absolute_in_workdir(st, dest_word);
    const bool dest_slash =
        dest_word.ends_with('/') || dest_word == "." || dest_word.ends_with("/.");
    if (words.size() > 1 && !dest_slash) {
      throw_invalid(
          "when using {} with more than one source file, the destination must be a "
          "directory and end with a /",
          ins.keyword);
    }
    CopyOptions copy;
    const auto layers = layer_dirs(st);
    std::string chown;
    if (const auto owner = ins.flag("chown")) {
      chown = expand_word(*owner, v, df_.escape);
      std::tie(copy.uid, copy.gid) = resolve_owner(layers, chown);
    }
    if (const auto mode = ins.flag("chmod")) {
      std::size_t used = 0;
      try {
        copy.chmod = std::stoi(*mode, &used, 8);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != mode->size() || copy.chmod < 0 || copy.chmod > 07777) {
        throw_invalid("invalid --chmod={}: an octal mode is required", *mode);
      }
    }
    // The source root: the context, or the tree of a stage or image. A stage's or image's
    // content is known by its layers' digests, so its tree is made only when the step runs.
    fs::path root = o_.context;
    const IgnoreMatcher* ignore = &ignore_;
    const IgnoreMatcher none;
    json from_key = "context";
    std::vector<std::string> from_layers;
    std::string from_name;
    if (const auto from = ins.flag("from")) {
      ignore = &none;
      if (const auto dep = stage_named(*from, static_cast<int>(stages_.size()));
          dep && built_.contains(*dep)) {
        from_layers = built_.at(*dep).diff_ids;
        from_name = "stage:" + std::to_string(*dep);
      } else {
        const auto image = store_.resolve(*from);
        from_layers = image.diff_ids;
        from_name = image.id;
      }
      from_key = from_layers;
    }
    const auto from_tree = [&] {
      if (!from_name.empty()) {
        root = tree_of(from_layers, from_name);
      }
    };
    struct Item {
      std::vector<Source> sources;
      const Heredoc* heredoc = nullptr;
      std::string word;
    };
    std::vector<Item> items;
    json hashes = json::array();
    for (const auto& w : words) {
      Item item;
      item.word = w;
      if (w.starts_with("<<")) {
        for (const auto& h : ins.heredocs) {
          if (w.find(h.name) != std::string::npos) {
            item.heredoc = &h;
          }
        }
      }
      if (item.heredoc) {
        hashes.push_back(item.heredoc->content);
      } else {
        if (add && (w.starts_with("http://") || w.starts_with("https://") ||
                    w.starts_with("git@") || w.starts_with("git://"))) {
          throw_invalid(
              "{}: URLs are not supported (gctool build has no network to the outside; "
              "download the file into the context)",
              w);
        }
        if (from_name.empty()) {
          item.sources = find_sources(root, w, *ignore);
          hashes.push_back(hash_sources(item.sources, *ignore, file_hashes_));
        } else {
          hashes.push_back(w);
        }
      }
      items.push_back(std::move(item));
    }
    const json description = {{"step", ins.keyword}, {"from", from_key},    {"sources", hashes},
                              {"dest", dest},        {"slash", dest_slash}, {"chown", chown},
                              {"chmod", copy.chmod}};
    const std::string created_by =
        fmt::format("{} {} {} # buildkit", ins.keyword, fmt::join(words, " "), dest_word);
    layer_step(st, description, created_by, [&] {
      if (!from_name.empty()) {
        from_tree();
        for (auto& item : items) {
          if (!item.heredoc) {
            item.sources = find_sources(root, item.word, *ignore);
          }
        }
      }
      TempDir staging(o_.root);
      std::vector<fs::path> view = layers;
      view.push_back(staging.path());
      const auto existing = lookup_in_layers(view, resolve_in_layers(view, dest, true));
      const bool into_dir = dest_slash || (existing && S_ISDIR(existing->st.st_mode));
      for (const auto& item : items) {
        if (item.heredoc) {
          const std::string name = item.word.substr(item.word.find_last_of("<-'\"") + 1);
          const std::string rel =
              resolve_in_layers(view, into_dir ? dest + "/" + item.heredoc->name : dest, !into_dir);
          std::string content = item.heredoc->content;
          if (item.heredoc->expand) {
            content = expand_heredoc(content, v);
          }
          const fs::path parent = make_parents(
              view, staging.path(), fs::path(rel).parent_path().string(), {copy.uid, copy.gid});
          const fs::path file = parent / fs::path(rel).filename();
          write_file(file, content, copy.chmod >= 0 ? static_cast<mode_t>(copy.chmod) : 0644);
          check(::chmod(file.c_str(), copy.chmod >= 0 ? copy.chmod : 0644), "chmod {}", file);
          check(::lchown(file.c_str(), copy.uid, copy.gid), "chown {}", file);
          (void)name;
          continue;
        }
        for (const auto& src : item.sources) {
          struct stat s {};
          check(::lstat(src.host.c_str(), &s), "lstat {}", src.host);
          if (add && S_ISREG(s.st_mode) && is_archive(src.host)) {
            const fs::path dir = make_parents(
                view, staging.path(), resolve_in_layers(view, dest, true), {copy.uid, copy.gid});
            UniqueFd in(::open(src.host.c_str(), O_RDONLY | O_CLOEXEC));
            UniqueFd out(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!in || !out) {
              throw_errno("open {}", !in ? src.host : dir);
            }
            image::extract_layer(image::fd_source(in), out);
            continue;
          }
          if (S_ISDIR(s.st_mode)) {
            const fs::path dir = make_parents(
                view, staging.path(), resolve_in_layers(view, dest, true), {copy.uid, copy.gid});
            copy_source(src, dir, *ignore, copy);
            continue;
          }
          const std::string target =
              into_dir ? resolve_in_layers(view, dest, true) + "/" + src.host.filename().string()
                       : resolve_in_layers(view, dest, false);
          const fs::path parent = make_parents(
              view, staging.path(), fs::path(target).parent_path().string(), {copy.uid, copy.gid});
          copy_source(src, parent / fs::path(target).filename(), *ignore, copy);
        }
      }
      fix_times();
      return pack(staging.path());
    });
  }

  std::string commit_final(State& st) {
    for (const auto& [key, value] : o_.labels) {
      st.config["Labels"][key] = value;
    }
    step_header("exporting to image");
    // An unchanged build gives the image it gave before (BuildKit's behaviour), not a copy that
    // differs only in its times.
    const std::string key = cache_key(st.key, json{{"step", "export"},
                                                   {"config", st.config},
                                                   {"author", st.author},
                                                   {"layers", st.diff_ids}});
    if (const auto hit = cached(key); hit && !hit->value("Image", "").empty()) {
      const std::string id = hit->value("Image", "");
      if (store_.try_resolve(id)) {
        for (const auto& tag : o_.tags) {
          store_.tag(id, tag.str());
        }
        say(fmt::format("#{} writing image {} done", step_no_, id));
        for (const auto& tag : o_.tags) {
          say(fmt::format("#{} naming to {} done", step_no_, tag.str()));
        }
        step_done(true);
        return id;
      }
    }
    if (o_.cached_only) {
      throw CacheMiss();
    }
    image::NewImage image{image_config(st, st.diff_ids), st.diff_ids, o_.tags};
    const auto stored = store_.commit({}, {image});
    save_json(cache_dir(o_.root) / (key + ".json"),
              json{{"Image", stored.front().id}, {"DiffId", ""}, {"Final", true}},
              Durability::fast);
    say(fmt::format("#{} writing image {} done", step_no_, stored.front().id));
    for (const auto& tag : o_.tags) {
      say(fmt::format("#{} naming to {} done", step_no_, tag.str()));
    }
    step_done(false);
    return stored.front().id;
  }

  BuildOptions o_;
  std::unique_ptr<TempDir> context_dir_;
  image::ImageStore store_;
  container::ContainerStore containers_;
  Dockerfile df_;
  IgnoreMatcher ignore_;
  FileHashes file_hashes_;
  std::vector<Stage> stages_;
  std::map<std::string, std::optional<std::string>> global_args_;
  std::set<std::string> consumed_;
  std::map<int, State> built_;
  std::map<int, std::set<int>> deps_;          // the stages each stage needs (FROM, COPY --from)
  std::map<std::string, std::string> pulled_;  // reference -> id of the images this build pulled
  std::deque<Dockerfile> triggers_;            // parsed ONBUILD triggers (steps point into them)
  std::map<std::string, std::unique_ptr<TempDir>> trees_;
  std::vector<std::pair<fs::path, timespec>> fixed_times_;
  BuildResult result_;
  int counter_ = 0;
  int step_no_ = 0;
  Clock::time_point step_started_;
};

}  // namespace

BuildResult build_image(const BuildOptions& options) {
  return Builder(options).run();
}

int prune_build_cache(const fs::path& root) {
  image::ImageStore store(root);
  int removed = 0;
  std::set<std::string> images;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(cache_dir(root), ec)) {
    if (const auto j = try_load_json(entry.path()); j && j->is_object()) {
      if (const std::string id = j->value("Image", ""); !id.empty()) {
        images.insert(id);
      }
    }
    fs::remove(entry.path(), ec);
    ++removed;
  }
  const container::ContainerStore containers(root);
  for (const auto& id : images) {
    const auto image = store.try_resolve(id);
    if (image && image->repo_tags.empty()) {
      try {
        store.remove(id, false, container::image_users(containers));
      } catch (const Error&) {
        // Used by a container: it stays, as an untagged image.
      }
    }
  }
  fs::remove_all(mounts_dir(root), ec);
  fs::remove(file_hashes_path(root), ec);
  return removed;
}

}  // namespace gctool::build
