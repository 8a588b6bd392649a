#include "gctool/sys/seccomp_profile.hpp"

#include <seccomp.h>
#include <sys/utsname.h>

#include <cerrno>
#include <charconv>
#include <optional>

#include <fmt/format.h>
#include <fmt/std.h>
#include <nlohmann/json.hpp>

#include "gctool/core/error.hpp"
#include "gctool/core/file_util.hpp"

namespace gctool::sys {
namespace {

using nlohmann::json;

[[noreturn]] void profile_error(const std::filesystem::path& source, std::string_view message) {
  throw_invalid("seccomp profile {}: {}", source, message);
}

// An action from its name and errnoRet; SCMP_ACT_ERRNO defaults to EPERM as in Docker.
std::optional<SeccompAction> action_from_name(std::string_view name,
                                              std::optional<std::uint32_t> ret) {
  if (name == "SCMP_ACT_ALLOW") {
    return SCMP_ACT_ALLOW;
  }
  if (name == "SCMP_ACT_ERRNO") {
    return SCMP_ACT_ERRNO(ret.value_or(EPERM));
  }
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") {
    return SCMP_ACT_KILL_THREAD;
  }
  if (name == "SCMP_ACT_KILL_PROCESS") {
    return SCMP_ACT_KILL_PROCESS;
  }
  if (name == "SCMP_ACT_TRAP") {
    return SCMP_ACT_TRAP;
  }
  if (name == "SCMP_ACT_LOG") {
    return SCMP_ACT_LOG;
  }
  if (name == "SCMP_ACT_TRACE") {
    return SCMP_ACT_TRACE(ret.value_or(0));
  }
  return std::nullopt;
}

std::optional<SeccompOp> op_from_name(std::string_view name) {
  constexpr std::pair<std::string_view, SeccompOp> kOps[] = {
      {"SCMP_CMP_NE", SeccompOp::ne},
      {"SCMP_CMP_LT", SeccompOp::lt},
      {"SCMP_CMP_LE", SeccompOp::le},
      {"SCMP_CMP_EQ", SeccompOp::eq},
      {"SCMP_CMP_GE", SeccompOp::ge},
      {"SCMP_CMP_GT", SeccompOp::gt},
      {"SCMP_CMP_MASKED_EQ", SeccompOp::masked_eq},
  };
  for (const auto& [op_name, op] : kOps) {
    if (op_name == name) {
      return op;
    }
  }
  return std::nullopt;
}

// "SCMP_ARCH_X86_64" -> libseccomp's token.
std::uint32_t arch_from_name(std::string_view name, const std::filesystem::path& source) {
  std::string token(name);
  if (token.rfind("SCMP_ARCH_", 0) == 0) {
    token.erase(0, 10);
  }
  for (auto& c : token) {
    c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  const std::uint32_t arch = seccomp_arch_resolve_name(token.c_str());
  if (arch == 0) {
    profile_error(source, fmt::format("unknown architecture \"{}\"", name));
  }
  return arch;
}

// The architecture names Docker's includes/excludes use for this build (Go's GOARCH).
bool is_native_goarch(std::string_view name) {
#if defined(__x86_64__)
  return name == "amd64";
#elif defined(__aarch64__)
  return name == "arm64";
#else
  return false;
#endif
}

// The running kernel as major*1000+minor.
int kernel_version() {
  utsname uts{};
  if (::uname(&uts) != 0) {
    return 0;
  }
  std::string_view release(uts.release);
  int major = 0;
  int minor = 0;
  auto [p, ec] = std::from_chars(release.data(), release.data() + release.size(), major);
  if (ec == std::errc{} && p < release.data() + release.size() && *p == '.') {
    std::from_chars(p + 1, release.data() + release.size(), minor);
  }
  return major * 1000 + minor;
}

int parse_kernel_version(std::string_view text, const std::filesystem::path& source) {
  int major = 0;
  int minor = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), major);
  if (ec == std::errc{} && p < text.data() + text.size() && *p == '.') {
    ec = std::from_chars(p + 1, text.data() + text.size(), minor).ec;
  }
  if (ec != std::errc{}) {
    profile_error(source, fmt::format("bad minKernel \"{}\"", text));
  }
  return major * 1000 + minor;
}

std::vector<std::string> string_list(const json& object, const char* key) {
  if (!object.contains(key) || object.at(key).is_null()) {
    return {};
  }
  return object.at(key).get<std::vector<std::string>>();
}

bool has_cap(CapMask caps, const std::string& name) {
  const auto cap = find_capability(name);
  return cap && (caps & cap_bit(*cap)) != 0;
}

// Whether a rule's includes and excludes let it apply to this container on this host.
bool rule_applies(const json& rule, CapMask caps, const std::filesystem::path& source) {
  if (rule.contains("includes") && !rule.at("includes").is_null()) {
    const auto& inc = rule.at("includes");
    for (const auto& name : string_list(inc, "caps")) {
      if (!has_cap(caps, name)) {
        return false;
      }
    }
    const auto arches = string_list(inc, "arches");
    if (!arches.empty() && std::none_of(arches.begin(), arches.end(), is_native_goarch)) {
      return false;
    }
    if (inc.contains("minKernel") && !inc.at("minKernel").is_null() &&
        kernel_version() < parse_kernel_version(inc.at("minKernel").get<std::string>(), source)) {
      return false;
    }
  }
  if (rule.contains("excludes") && !rule.at("excludes").is_null()) {
    const auto& exc = rule.at("excludes");
    for (const auto& name : string_list(exc, "caps")) {
      if (has_cap(caps, name)) {
        return false;
      }
    }
    const auto arches = string_list(exc, "arches");
    if (std::any_of(arches.begin(), arches.end(), is_native_goarch)) {
      return false;
    }
  }
  return true;
}

std::optional<std::uint32_t> optional_uint(const json& object, const char* key) {
  if (!object.contains(key) || object.at(key).is_null()) {
    return std::nullopt;
  }
  return object.at(key).get<std::uint32_t>();
}

SeccompAction parse_action(const json& object, const char* action_key, const char* ret_key,
                           const std::filesystem::path& source) {
  const auto name = object.at(action_key).get<std::string>();
  const auto action = action_from_name(name, optional_uint(object, ret_key));
  if (!action) {
    profile_error(source, fmt::format("unknown action \"{}\"", name));
  }
  return *action;
}

SeccompArg parse_arg(const json& arg, const std::filesystem::path& source) {
  SeccompArg parsed;
  parsed.index = arg.at("index").get<unsigned>();
  if (parsed.index > 5) {
    profile_error(source, fmt::format("argument index {} out of range (0-5)", parsed.index));
  }
  parsed.value = arg.value("value", std::uint64_t{0});
  parsed.value_two = arg.value("valueTwo", std::uint64_t{0});
  const auto op_name = arg.at("op").get<std::string>();
  const auto op = op_from_name(op_name);
  if (!op) {
    profile_error(source, fmt::format("unknown operator \"{}\"", op_name));
  }
  parsed.op = *op;
  return parsed;
}

std::vector<std::uint32_t> parse_arches(const json& doc, const std::filesystem::path& source) {
  std::vector<std::uint32_t> arches;
  if (doc.contains("archMap") && !doc.at("archMap").is_null()) {
    const auto native = seccomp_arch_native();
    for (const auto& entry : doc.at("archMap")) {
      if (arch_from_name(entry.at("architecture").get<std::string>(), source) != native) {
        continue;
      }
      arches.push_back(native);
      for (const auto& sub : string_list(entry, "subArchitectures")) {
        arches.push_back(arch_from_name(sub, source));
      }
    }
    return arches;
  }
  for (const auto& name : string_list(doc, "architectures")) {
    arches.push_back(arch_from_name(name, source));
  }
  return arches;
}

SeccompProfile parse_document(const json& doc, const std::filesystem::path& source, CapMask caps) {
  if (!doc.is_object()) {
    profile_error(source, "not a JSON object");
  }
  if (!doc.contains("defaultAction")) {
    profile_error(source, "no defaultAction");
  }
  SeccompProfile profile;
  profile.default_action = parse_action(doc, "defaultAction", "defaultErrnoRet", source);
  profile.arches = parse_arches(doc, source);
  if (!doc.contains("syscalls") || doc.at("syscalls").is_null()) {
    return profile;
  }
  for (const auto& rule : doc.at("syscalls")) {
    // Parse the action even for rules that do not apply, so a typo never goes unnoticed.
    SeccompRule parsed;
    parsed.action = parse_action(rule, "action", "errnoRet", source);
    parsed.names = string_list(rule, "names");
    if (rule.contains("name") && !rule.at("name").is_null()) {
      parsed.names.push_back(rule.at("name").get<std::string>());
    }
    if (rule.contains("args") && !rule.at("args").is_null()) {
      for (const auto& arg : rule.at("args")) {
        parsed.args.push_back(parse_arg(arg, source));
      }
    }
    if (rule_applies(rule, caps, source) && !parsed.names.empty()) {
      profile.rules.push_back(std::move(parsed));
    }
  }
  return profile;
}

// nlohmann's messages start with "[json.exception.type_error.302] ": keep the readable part.
std::string_view json_message(const json::exception& e) {
  std::string_view what = e.what();
  if (const auto pos = what.find("] "); pos != std::string_view::npos) {
    what.remove_prefix(pos + 2);
  }
  return what;
}

}  // namespace

SeccompProfile parse_seccomp_profile(std::string_view json_text,
                                     const std::filesystem::path& source, CapMask caps) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::exception& e) {
    profile_error(source, fmt::format("malformed JSON: {}", json_message(e)));
  }
  try {
    return parse_document(doc, source, caps);
  } catch (const json::exception& e) {
    profile_error(source, json_message(e));
  }
}

SeccompProfile load_seccomp_profile(const std::filesystem::path& path, CapMask caps) {
  return parse_seccomp_profile(read_file(path), path, caps);
}

std::string canonical_text(const SeccompProfile& profile) {
  std::string text = fmt::format("default {:#x}\narches", profile.default_action);
  for (const auto arch : profile.arches) {
    text += fmt::format(" {:#x}", arch);
  }
  text += '\n';
  for (const auto& rule : profile.rules) {
    text += fmt::format("rule {:#x}", rule.action);
    for (const auto& name : rule.names) {
      text += fmt::format(" {}", name);
    }
    for (const auto& arg : rule.args) {
      text += fmt::format(" [{} {} {:#x} {:#x}]", arg.index, static_cast<int>(arg.op), arg.value,
                          arg.value_two);
    }
    text += '\n';
  }
  return text;
}

}  // namespace gctool::sys
