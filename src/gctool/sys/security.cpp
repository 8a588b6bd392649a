#include "gctool/sys/security.hpp"

#include <sys/prctl.h>

#include <cerrno>

#include "gctool/core/error.hpp"

namespace gctool::sys {
namespace {

// Docker accepts both "key=value" and the older "key:value".
std::pair<std::string_view, std::optional<std::string_view>> split_option(std::string_view opt) {
  const auto pos = opt.find_first_of("=:");
  if (pos == std::string_view::npos) {
    return {opt, std::nullopt};
  }
  return {opt.substr(0, pos), opt.substr(pos + 1)};
}

struct ParsedOpts {
  bool no_new_privs = true;
  bool seccomp_unconfined = false;
  std::optional<std::filesystem::path> seccomp_profile;
  bool systempaths_unconfined = false;
};

ParsedOpts parse_opts(std::span<const std::string> opts) {
  ParsedOpts parsed;
  for (const auto& opt : opts) {
    const auto [key, value] = split_option(opt);
    if (key == "no-new-privileges" && (!value || *value == "true" || *value == "false")) {
      parsed.no_new_privs = !value || *value == "true";
    } else if (key == "seccomp" && value && !value->empty()) {
      parsed.seccomp_unconfined = *value == "unconfined";
      parsed.seccomp_profile.reset();
      if (!parsed.seccomp_unconfined) {
        parsed.seccomp_profile = std::filesystem::path(*value);
      }
    } else if (key == "systempaths" && value == "unconfined") {
      parsed.systempaths_unconfined = true;
    } else if ((key == "apparmor" && value == "unconfined") ||
               (key == "label" && value == "disable")) {
      // Neither AppArmor nor SELinux labels are applied by gctool: these are already the case.
    } else if (key == "apparmor" || key == "label") {
      throw_invalid(
          "--security-opt \"{}\" is not supported (gctool applies no AppArmor or SELinux)", opt);
    } else {
      throw_invalid("invalid --security-opt \"{}\"", opt);
    }
  }
  return parsed;
}

std::vector<std::string> to_strings(std::span<const std::string_view> paths) {
  return {paths.begin(), paths.end()};
}

}  // namespace

SecurityOptions parse_security(const SecurityRequest& request) {
  const auto opts = parse_opts(request.security_opts);
  const CapMask available = request.available_caps.value_or(available_capabilities());
  auto caps =
      resolve_capabilities(request.cap_add, request.cap_drop, request.privileged, available);

  SecurityOptions options;
  options.caps = caps.sets;
  options.notices = std::move(caps.notices);
  options.last_cap = kernel_last_cap();
  options.no_new_privs = opts.no_new_privs;
  if (!request.privileged && !opts.seccomp_unconfined &&
      (opts.seccomp_profile || !request.check_only)) {
    const auto profile = opts.seccomp_profile
                             ? load_seccomp_profile(*opts.seccomp_profile, options.caps.bounding)
                             : default_seccomp_profile(options.caps.bounding);
    options.seccomp = request.seccomp_cache_dir.empty()
                          ? compile_seccomp(profile)
                          : load_or_compile_seccomp(profile, request.seccomp_cache_dir);
  }
  if (!request.privileged && !opts.systempaths_unconfined) {
    options.masked_paths = to_strings(kDefaultMaskedPaths);
    options.readonly_paths = to_strings(kDefaultReadonlyPaths);
  }
  return options;
}

SecurityStatus apply_security_before_user(const SecurityOptions& options) noexcept {
  if (const int rc = drop_bounding_set(options.caps.bounding, options.last_cap); rc < 0) {
    return {"drop capability bounding set", nullptr, -rc};
  }
  if (const int rc = set_keep_capabilities(true); rc < 0) {
    return {"prctl(PR_SET_KEEPCAPS)", nullptr, -rc};
  }
  if (!options.no_new_privs && options.seccomp) {
    if (const int rc = apply_seccomp(*options.seccomp); rc < 0) {
      return {"seccomp", nullptr, -rc};
    }
  }
  return {};
}

SecurityStatus apply_security_after_user(const SecurityOptions& options) noexcept {
  if (const int rc = apply_capability_sets(options.caps); rc < 0) {
    return {"capset", nullptr, -rc};
  }
  if (options.no_new_privs) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
      return {"prctl(PR_SET_NO_NEW_PRIVS)", nullptr, errno};
    }
    if (options.seccomp) {
      if (const int rc = apply_seccomp(*options.seccomp); rc < 0) {
        return {"seccomp", nullptr, -rc};
      }
    }
  }
  return {};
}

}  // namespace gctool::sys
