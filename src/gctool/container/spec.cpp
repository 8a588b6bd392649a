#include "gctool/container/spec.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "gctool/core/error.hpp"
#include "gctool/core/ids.hpp"
#include "gctool/core/text.hpp"

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

BindMount parse_volume(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto colon = text.find(':', start);
    parts.push_back(text.substr(start, colon == std::string_view::npos ? colon : colon - start));
    if (colon == std::string_view::npos) {
      break;
    }
    start = colon + 1;
  }
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty()) {
    throw_invalid("invalid volume specification \"{}\": expected HOST:CONTAINER[:ro]", text);
  }
  BindMount bind;
  if (parts[0].front() == '/') {
    bind.source = normalize_absolute(parts[0], "source");
  } else if (valid_name(parts[0])) {
    bind.volume = std::string(parts[0]);
  } else {
    throw_invalid(
        "invalid volume specification \"{}\": \"{}\" includes invalid characters for a local "
        "volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed; a host path must be "
        "absolute",
        text, parts[0]);
  }
  bind.destination = normalize_absolute(parts[1], "destination");
  if (bind.destination == "/") {
    throw_invalid("invalid volume specification \"{}\": destination can't be '/'", text);
  }
  if (const auto why = reserved_destination(bind.destination)) {
    throw_invalid("invalid volume specification \"{}\": destination can't be {}", text, *why);
  }
  if (parts.size() == 3) {
    if (parts[2] == "ro") {
      bind.read_only = true;
    } else if (parts[2] != "rw") {
      throw_invalid("invalid volume specification \"{}\": unknown mode \"{}\"", text, parts[2]);
    }
  }
  return bind;
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
