#include "gctool/net/dns_files.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gctool/core/text.hpp"

namespace gctool::net {
namespace {

// The first word of a line and the rest.
std::pair<std::string_view, std::string_view> split_keyword(std::string_view line) {
  const auto sp = line.find_first_of(" \t");
  if (sp == std::string_view::npos) {
    return {line, {}};
  }
  return {line.substr(0, sp), trim(line.substr(sp))};
}

}  // namespace

std::string hosts_file_content(std::string_view hostname, std::optional<Ipv4Address> ip) {
  std::string out =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\n"
      "ff02::1\tip6-allnodes\n"
      "ff02::2\tip6-allrouters\n";
  if (!hostname.empty()) {
    out += fmt::format("{}\t{}\n", ip ? to_string(*ip) : "127.0.1.1", hostname);
  }
  return out;
}

bool is_loopback_nameserver(std::string_view address) {
  // Strip an IPv6 zone ("fe80::1%eth0") before comparing.
  address = address.substr(0, address.find('%'));
  if (address == "::1" || address == "0:0:0:0:0:0:0:1") {
    return true;
  }
  const auto v4 = try_parse_ipv4(address);
  return v4 && (v4->value >> 24) == 127;
}

std::string resolv_conf_content(std::string_view host_resolv_conf,
                                const std::vector<std::string>& dns_servers) {
  std::string kept;  // search, options and other non-nameserver lines of the host
  std::string nameservers;
  std::vector<std::string> dropped;
  while (!host_resolv_conf.empty()) {
    const auto nl = host_resolv_conf.find('\n');
    const auto line = trim(host_resolv_conf.substr(0, nl));
    host_resolv_conf.remove_prefix(nl == std::string_view::npos ? host_resolv_conf.size() : nl + 1);
    if (line.empty() || line[0] == '#' || line[0] == ';') {
      continue;
    }
    const auto [keyword, value] = split_keyword(line);
    if (keyword == "nameserver") {
      if (is_loopback_nameserver(value)) {
        dropped.emplace_back(value);
      } else {
        nameservers += fmt::format("nameserver {}\n", value);
      }
    } else {
      kept += fmt::format("{}\n", line);
    }
  }
  if (!dns_servers.empty()) {
    nameservers.clear();
    for (const auto& server : dns_servers) {
      nameservers += fmt::format("nameserver {}\n", server);
    }
  } else if (nameservers.empty()) {
    if (dropped.empty()) {
      nameservers = "# gctool: the host's resolv.conf lists no nameserver; use --dns to set one\n";
    } else {
      std::string list;
      for (const auto& d : dropped) {
        list += (list.empty() ? "" : ", ") + d;
      }
      nameservers = fmt::format(
          "# gctool: no nameserver: the host's ({}) is a loopback resolver, unreachable from\n"
          "# the container's network namespace; use --dns to set one\n",
          list);
    }
  }
  return nameservers + kept;
}

}  // namespace gctool::net

namespace gctool::net {

std::string resolv_conf_content(std::string_view host_resolv_conf,
                                const ResolvConfOptions& options) {
  const std::string base = resolv_conf_content(host_resolv_conf, options.dns);
  std::string nameservers;
  std::string search;
  std::string opts;
  std::string rest;
  std::string_view text = base;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const auto line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    const auto keyword = split_keyword(line).first;
    std::string& into = keyword == "nameserver" || line.starts_with('#') ? nameservers
                        : keyword == "search" || keyword == "domain"     ? search
                        : keyword == "options"                           ? opts
                                                                         : rest;
    into += fmt::format("{}\n", line);
  }
  if (!options.search.empty()) {
    search = fmt::format("search {}\n", fmt::join(options.search, " "));
  }
  if (!options.options.empty()) {
    opts = fmt::format("options {}\n", fmt::join(options.options, " "));
  }
  if (options.resolver) {
    const auto upstream = options.dns.empty() ? std::string("the host's resolvers")
                                              : fmt::format("{}", fmt::join(options.dns, ", "));
    nameservers = fmt::format(
        "# gctool: the network's resolver; it forwards other names to {}\nnameserver {}\n",
        upstream, to_string(*options.resolver));
    if (options.options.empty()) {
      opts = "options ndots:0\n";
    }
  }
  return nameservers + search + opts + rest;
}

}  // namespace gctool::net
