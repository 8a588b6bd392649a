#include "gctool/container/spec.hpp"

#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>

#include "gctool/core/error.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/text.hpp"
#include "gctool/core/units.hpp"

namespace gctool::container {
namespace {

std::string_view env_key(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

std::string normalize_absolute(std::string_view path, std::string_view what) {
  if (path.empty() || path.front() != '/') {
    throw_invalid("invalid volume {} path \"{}\": must be absolute", what, path);
  }
  std::string normal = std::filesystem::path(path).lexically_normal().string();
  if (normal.size() > 1 && normal.back() == '/') {
    normal.pop_back();
  }
  return normal;
}

}  // namespace

std::optional<std::string> reserved_destination(std::string_view destination) {
  // Kernel file systems, with the masks and read-only paths on them.
  for (const std::string_view tree : {"/proc", "/sys"}) {
    if (destination == tree || (destination.starts_with(tree) && destination[tree.size()] == '/')) {
      return fmt::format("inside {}", tree);
    }
  }
  // What setup_dev mounts and creates: a volume over it would replace the nodes and mounts the
  // container's masks and terminals rely on.
  static constexpr std::string_view kDevTrees[] = {"/dev/pts", "/dev/mqueue"};
  static constexpr std::string_view kDevPaths[] = {
      "/dev",         "/dev/null",  "/dev/zero",    "/dev/full",  "/dev/random",
      "/dev/urandom", "/dev/tty",   "/dev/console", "/dev/ptmx",  "/dev/shm",
      "/dev/fd",      "/dev/stdin", "/dev/stdout",  "/dev/stderr"};
  for (const auto tree : kDevTrees) {
    if (destination == tree || (destination.starts_with(tree) && destination[tree.size()] == '/')) {
      return fmt::format("inside {}, which gctool sets up itself", tree);
    }
  }
  for (const auto path : kDevPaths) {
    if (destination == path) {
      return fmt::format("{}, which gctool sets up itself (use --device to add a device)", path);
    }
  }
  return std::nullopt;
}

DeviceMapping parse_device(std::string_view text) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const auto colon = text.find(':', start);
    parts.push_back(text.substr(start, colon == std::string_view::npos ? colon : colon - start));
    if (colon == std::string_view::npos) {
      break;
    }
    start = colon + 1;
  }
  const auto permissions_ok = [](std::string_view p) {
    return !p.empty() && p.size() <= 3 && p.find_first_not_of("rwm") == std::string_view::npos;
  };
  DeviceMapping device;
  device.host_path = std::string(parts[0]);
  if (parts.size() == 2 && permissions_ok(parts[1])) {
    device.permissions = std::string(parts[1]);
  } else if (parts.size() >= 2) {
    device.container_path = std::string(parts[1]);
  }
  if (parts.size() == 3) {
    device.permissions = std::string(parts[2]);
  }
  if (device.container_path.empty()) {
    device.container_path = device.host_path;
  }
  if (parts.size() > 3 || device.host_path.empty() || device.host_path.front() != '/' ||
      device.container_path.front() != '/' || !permissions_ok(device.permissions)) {
    throw_invalid("invalid device specification \"{}\": expected HOST[:CONTAINER[:rwm]]", text);
  }
  device.container_path = normalize_absolute(device.container_path, "device");
  if (const auto why = reserved_destination(device.container_path)) {
    throw_invalid("invalid device specification \"{}\": the container path can't be {}", text,
                  *why);
  }
  return device;
}

std::vector<DeviceNode> device_nodes(const Spec& spec) {
  std::vector<DeviceNode> nodes;
  for (const auto& device : spec.devices) {
    struct stat st {};
    if (::stat(device.host_path.c_str(), &st) != 0) {
      throw_invalid("error gathering device information while adding custom device \"{}\": {}",
                    device.host_path, std::strerror(errno));
    }
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
      throw_invalid("\"{}\" is not a character or block device", device.host_path);
    }
    nodes.push_back(DeviceNode{.path = device.container_path,
                               .type = S_ISBLK(st.st_mode) ? 'b' : 'c',
                               .major = major(st.st_rdev),
                               .minor = minor(st.st_rdev),
                               .mode = st.st_mode & 07777,
                               .permissions = device.permissions});
  }
  return nodes;
}

cgroup::Resources container_resources(const Spec& spec) {
  cgroup::Resources resources = spec.resources;
  if (!resources.devices.empty()) {
    return resources;
  }
  resources.devices = spec.privileged ? cgroup::all_device_rules() : cgroup::default_device_rules();
  for (const auto& node : device_nodes(spec)) {
    resources.devices.push_back(cgroup::DeviceRule{.allow = true,
                                                   .type = node.type,
                                                   .major = node.major,
                                                   .minor = node.minor,
                                                   .access = node.permissions});
  }
  return resources;
}

namespace {

bool is_propagation(std::string_view mode) {
  for (const std::string_view known :
       {"shared", "rshared", "slave", "rslave", "private", "rprivate"}) {
    if (mode == known) {
      return true;
    }
  }
  return false;
}

// Docker 23+: "./dir", "../dir", "." and ".." are host paths relative to the working directory.
bool is_relative_host_path(std::string_view source) {
  return source == "." || source == ".." || source.starts_with("./") || source.starts_with("../");
}

// The destination of a mount, checked as every mount's is; `what` is the whole spec for errors.
std::string mount_destination(std::string_view path, std::string_view what, std::string_view kind) {
  if (path.empty()) {
    throw_invalid("invalid {} specification \"{}\": no destination", kind, what);
  }
  const std::string destination = normalize_absolute(path, "destination");
  if (destination == "/") {
    throw_invalid("invalid {} specification \"{}\": destination can't be '/'", kind, what);
  }
  if (const auto why = reserved_destination(destination)) {
    throw_invalid("invalid {} specification \"{}\": destination can't be {}", kind, what, *why);
  }
  return destination;
}

// The source of a bind or volume mount: an absolute or relative host path, else a volume name.
void set_source(BindMount& bind, std::string_view source, const std::filesystem::path& cwd,
                std::string_view what) {
  if (source.front() == '/') {
    bind.source = normalize_absolute(source, "source");
  } else if (is_relative_host_path(source)) {
    bind.source = normalize_absolute((cwd / source).string(), "source");
  } else if (valid_name(source)) {
    bind.volume = std::string(source);
  } else {
    throw_invalid(
        "invalid volume specification \"{}\": \"{}\" includes invalid characters for a local "
        "volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed; a host path must be "
        "absolute or start with ./",
        what, source);
  }
}

}  // namespace

BindMount parse_volume(std::string_view text, const std::filesystem::path& cwd) {
  const auto parts = split(text, ':');
  if (parts.size() > 3 ||
      std::any_of(parts.begin(), parts.end(), [](std::string_view part) { return part.empty(); })) {
    throw_invalid("invalid volume specification \"{}\": expected [SOURCE:]CONTAINER[:OPTIONS]",
                  text);
  }
  BindMount bind;
  std::string_view destination = parts[0];
  std::string_view options;
  if (parts.size() == 1) {
    bind.anonymous = true;
  } else {
    set_source(bind, parts[0], cwd, text);
    destination = parts[1];
    options = parts.size() == 3 ? parts[2] : std::string_view();
  }
  bind.destination = mount_destination(destination, text, "volume");
  if (!options.empty()) {
    bool mode_seen = false;
    for (const auto option : split(options, ',')) {
      if ((option == "ro" || option == "rw") && !mode_seen) {
        bind.read_only = option == "ro";
        mode_seen = true;
      } else if (is_propagation(option) && bind.propagation.empty() && bind.volume.empty() &&
                 !bind.anonymous) {
        bind.propagation = std::string(option);
      } else if (option != "z" && option != "Z") {
        // z and Z ask for an SELinux relabel: there is no SELinux here, so nothing to do.
        throw_invalid("invalid volume specification \"{}\": invalid mode \"{}\"", text, option);
      }
    }
  }
  return bind;
}

std::pair<std::string, std::string> parse_volumes_from(std::string_view text) {
  const auto colon = text.rfind(':');
  const std::string_view name = text.substr(0, colon);
  const std::string_view mode =
      colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  if (name.empty()) {
    throw_invalid("invalid --volumes-from \"{}\": no container given", text);
  }
  if (colon != std::string_view::npos && mode != "ro" && mode != "rw") {
    throw_invalid("invalid --volumes-from \"{}\": invalid mode: {}", text, mode);
  }
  return {std::string(name), std::string(mode)};
}

void add_volumes_from(std::vector<BindMount>& binds, const std::vector<BindMount>& donor,
                      std::string_view mode) {
  for (const auto& mount : donor) {
    const bool taken = std::any_of(binds.begin(), binds.end(), [&](const BindMount& b) {
      return b.destination == mount.destination;
    });
    if (taken) {
      continue;
    }
    BindMount shared = mount;
    shared.anonymous = false;
    if (!mode.empty()) {
      shared.read_only = mode == "ro";
    }
    binds.push_back(std::move(shared));
  }
}

void parse_mount(std::string_view text, const std::filesystem::path& cwd,
                 std::vector<BindMount>& binds, std::vector<TmpfsMount>& tmpfs) {
  std::string type = "volume";  // Docker's default
  std::string source;
  std::string target;
  bool read_only = false;
  std::string propagation;
  std::vector<std::string> tmpfs_options;
  for (const auto field : split(text, ',')) {
    const auto eq = field.find('=');
    const std::string key(field.substr(0, eq));
    const std::string value(eq == std::string_view::npos ? "" : field.substr(eq + 1));
    const bool has_value = eq != std::string_view::npos;
    if (key == "type" && has_value) {
      type = value;
    } else if ((key == "source" || key == "src") && has_value) {
      source = value;
    } else if ((key == "target" || key == "destination" || key == "dst") && has_value) {
      target = value;
    } else if (key == "readonly" || key == "ro") {
      if (has_value && value != "true" && value != "1" && value != "false" && value != "0") {
        throw_invalid("invalid mount specification \"{}\": invalid value for {}: {}", text, key,
                      value);
      }
      read_only = !has_value || value == "true" || value == "1";
    } else if (key == "bind-propagation" && has_value && is_propagation(value)) {
      propagation = value;
    } else if (key == "tmpfs-size" && has_value) {
      tmpfs_options.push_back("size=" + value);
    } else if (key == "tmpfs-mode" && has_value) {
      tmpfs_options.push_back("mode=" + value);
    } else if (key == "consistency" || (key == "volume-driver" && value == "local")) {
      // Docker on Linux ignores consistency; local is the only driver.
    } else {
      throw_invalid("invalid mount specification \"{}\": unexpected key \"{}\"", text, key);
    }
  }
  if (type != "bind" && type != "volume" && type != "tmpfs") {
    throw_invalid(
        "invalid mount specification \"{}\": type \"{}\" is not supported (bind, volume "
        "or tmpfs)",
        text, type);
  }
  if (type != "bind" && !propagation.empty()) {
    throw_invalid("invalid mount specification \"{}\": bind-propagation is for type=bind", text);
  }
  if (type != "tmpfs" && !tmpfs_options.empty()) {
    throw_invalid("invalid mount specification \"{}\": tmpfs options are for type=tmpfs", text);
  }
  if (type == "tmpfs") {
    if (!source.empty()) {
      throw_invalid("invalid mount specification \"{}\": a tmpfs has no source", text);
    }
    if (read_only) {
      tmpfs_options.emplace_back("ro");
    }
    TmpfsMount mount{mount_destination(target, text, "mount"), ""};
    for (const auto& option : tmpfs_options) {
      mount.options += (mount.options.empty() ? "" : ",") + option;
    }
    tmpfs_mount_data(mount.options);
    tmpfs.push_back(std::move(mount));
    return;
  }
  BindMount bind;
  bind.destination = mount_destination(target, text, "mount");
  bind.read_only = read_only;
  if (type == "bind") {
    if (source.empty()) {
      throw_invalid("invalid mount specification \"{}\": a bind mount needs a source", text);
    }
    // As Docker: "./dir" is relative to the working directory, a bare "dir" is refused.
    if (source.front() != '/' && !is_relative_host_path(source)) {
      throw_invalid(
          "invalid mount config for type \"bind\": invalid mount path: '{}' mount path "
          "must be absolute or start with ./",
          source);
    }
    set_source(bind, source, cwd, text);
    bind.propagation = propagation;
  } else if (source.empty()) {
    bind.anonymous = true;
  } else if (!valid_name(source)) {
    throw_invalid("invalid mount specification \"{}\": invalid volume name \"{}\"", text, source);
  } else {
    bind.volume = source;
  }
  binds.push_back(std::move(bind));
}

TmpfsMount parse_tmpfs(std::string_view text) {
  const auto colon = text.find(':');
  TmpfsMount mount;
  mount.destination = mount_destination(text.substr(0, colon), text, "tmpfs");
  if (colon != std::string_view::npos) {
    mount.options = std::string(text.substr(colon + 1));
  }
  tmpfs_mount_data(mount.options);
  return mount;
}

TmpfsMountData tmpfs_mount_data(std::string_view options) {
  TmpfsMountData out;
  out.flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (options.empty()) {
    return out;
  }
  for (const auto option : split(options, ',')) {
    const auto eq = option.find('=');
    const std::string_view key = option.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : option.substr(eq + 1);
    static constexpr std::pair<std::string_view, std::pair<unsigned long, bool>> kFlags[] = {
        {"ro", {MS_RDONLY, true}},    {"rw", {MS_RDONLY, false}},    {"noexec", {MS_NOEXEC, true}},
        {"exec", {MS_NOEXEC, false}}, {"nosuid", {MS_NOSUID, true}}, {"suid", {MS_NOSUID, false}},
        {"nodev", {MS_NODEV, true}},  {"dev", {MS_NODEV, false}},
    };
    const auto flag = std::find_if(std::begin(kFlags), std::end(kFlags),
                                   [&](const auto& f) { return f.first == option; });
    if (flag != std::end(kFlags)) {
      out.flags =
          flag->second.second ? out.flags | flag->second.first : out.flags & ~flag->second.first;
      continue;
    }
    std::string data;
    if (key == "size" && !value.empty()) {
      data = fmt::format("size={}", parse_memory_size(value));
    } else if (key == "mode" && !value.empty() && value.size() <= 4 &&
               value.find_first_not_of("01234567") == std::string_view::npos) {
      data = fmt::format("mode={}", value);
    } else if ((key == "uid" || key == "gid" || key == "nr_inodes") && !value.empty() &&
               value.size() <= 10 &&
               value.find_first_not_of("0123456789") == std::string_view::npos) {
      data = fmt::format("{}={}", key, value);
    } else {
      throw_invalid("invalid tmpfs option \"{}\"", option);
    }
    out.data += (out.data.empty() ? "" : ",") + data;
  }
  return out;
}

Ulimit parse_ulimit(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw_invalid("invalid ulimit argument: \"{}\": expected NAME=SOFT[:HARD]", text);
  }
  Ulimit limit;
  limit.name = std::string(text.substr(0, eq));
  ulimit_resource(limit.name);
  const auto values = split(text.substr(eq + 1), ':');
  const auto number = [&](std::string_view value) {
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size() || n < -1) {
      throw_invalid("invalid ulimit argument: \"{}\": \"{}\" is not a number", text, value);
    }
    return n;
  };
  if (values.size() > 2) {
    throw_invalid("invalid ulimit argument: \"{}\": too many values", text);
  }
  limit.soft = number(values[0]);
  limit.hard = values.size() == 2 ? number(values[1]) : limit.soft;
  const auto as_unsigned = [](std::int64_t v) {
    return v == -1 ? RLIM_INFINITY : static_cast<rlim_t>(v);
  };
  if (as_unsigned(limit.soft) > as_unsigned(limit.hard)) {
    throw_invalid("invalid ulimit argument: \"{}\": soft limit {} is above hard limit {}", text,
                  limit.soft, limit.hard);
  }
  return limit;
}

int ulimit_resource(std::string_view name) {
  static constexpr std::pair<std::string_view, int> kNames[] = {
      {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
      {"data", RLIMIT_DATA},         {"fsize", RLIMIT_FSIZE},
      {"locks", RLIMIT_LOCKS},       {"memlock", RLIMIT_MEMLOCK},
      {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
      {"nofile", RLIMIT_NOFILE},     {"nproc", RLIMIT_NPROC},
      {"rss", RLIMIT_RSS},           {"rtprio", RLIMIT_RTPRIO},
      {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
      {"stack", RLIMIT_STACK},
  };
  for (const auto& [known, resource] : kNames) {
    if (known == name) {
      return resource;
    }
  }
  throw_invalid("invalid ulimit argument: unknown ulimit \"{}\"", name);
}

std::pair<std::vector<std::string>, std::vector<std::string>> resolve_command(
    const std::vector<std::string>& image_entrypoint, const std::vector<std::string>& image_cmd,
    const std::optional<std::string>& cli_entrypoint, const std::vector<std::string>& cli_cmd) {
  std::vector<std::string> entrypoint = image_entrypoint;
  std::vector<std::string> cmd = image_cmd;
  if (cli_entrypoint) {
    entrypoint.clear();
    if (!cli_entrypoint->empty()) {
      entrypoint.push_back(*cli_entrypoint);
    }
    cmd.clear();
  }
  if (!cli_cmd.empty()) {
    cmd = cli_cmd;
  }
  if (entrypoint.empty() && cmd.empty()) {
    throw_invalid("no command specified");
  }
  return {std::move(entrypoint), std::move(cmd)};
}

void merge_env(std::vector<std::string>& env, const std::vector<std::string>& more) {
  for (const auto& entry : more) {
    const auto key = env_key(entry);
    auto it = std::find_if(env.begin(), env.end(),
                           [&](const std::string& e) { return env_key(e) == key; });
    if (it != env.end()) {
      *it = entry;
    } else {
      env.push_back(entry);
    }
  }
}

std::vector<std::string> expand_env_args(
    const std::vector<std::string>& args,
    const std::function<std::optional<std::string>(const std::string&)>& lookup) {
  std::vector<std::string> env;
  for (const auto& arg : args) {
    // A control character in a name would reach the record and `inspect` (Docker refuses
    // blanks in env file names; a newline is worse).
    if (arg.empty() || arg.front() == '=' || has_control_char(env_key(arg))) {
      throw_invalid("invalid environment variable \"{}\"", arg);
    }
    if (arg.find('=') != std::string::npos) {
      env.push_back(arg);
    } else if (auto value = lookup(arg)) {
      env.push_back(arg + "=" + *value);
    }
  }
  return env;
}

std::vector<std::string> parse_env_file(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? nl : nl - start);
    start = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      line.remove_prefix(1);
    }
    if (line.empty() || line.front() == '#') {
      continue;
    }
    // As Docker: a name with blanks is a mistake in the file, not a variable.
    const auto key = env_key(line);
    if (key.find_first_of(" \t") != std::string_view::npos) {
      throw_invalid("invalid env file line \"{}\": variable \"{}\" contains whitespace", line, key);
    }
    if (has_control_char(key)) {
      throw_invalid("invalid env file line \"{}\": variable \"{}\" contains a control character",
                    line, key);
    }
    lines.emplace_back(line);
  }
  return lines;
}

std::optional<std::string> env_value(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& entry : env) {
    if (env_key(entry) == key && entry.size() > key.size()) {
      return entry.substr(key.size() + 1);
    }
  }
  return std::nullopt;
}

std::vector<std::string> base_environment(const Spec& spec, const std::string& hostname) {
  std::vector<std::string> env{"PATH=" + std::string(kDefaultPath), "HOSTNAME=" + hostname};
  if (spec.tty) {
    env.emplace_back("TERM=xterm");
  }
  merge_env(env, spec.env);
  return env;
}

}  // namespace gctool::container
