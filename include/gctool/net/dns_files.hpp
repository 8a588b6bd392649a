// The contents of a container's /etc/hosts and /etc/resolv.conf, as pure functions of their
// inputs; the caller writes them into the container's root.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gctool/net/ipv4.hpp"

namespace gctool::net {

// localhost entries, then "<ip>\t<hostname>" (with no ip, when the container has no network,
// the hostname maps to 127.0.1.1 so that it still resolves).
std::string hosts_file_content(std::string_view hostname, std::optional<Ipv4Address> ip);

// Whether a nameserver address is a loopback one (127.0.0.0/8 or ::1), which the container's own
// network namespace cannot reach.
bool is_loopback_nameserver(std::string_view address);

// The container's resolv.conf. With dns_servers (--dns) those are the nameservers. Otherwise the
// host's file, minus loopback nameservers; when none is left, a comment says why there is no
// nameserver and how to set one. search and options lines of the host are kept.
std::string resolv_conf_content(std::string_view host_resolv_conf,
                                const std::vector<std::string>& dns_servers);

struct ResolvConfOptions {
  std::vector<std::string> dns;      // --dns
  std::vector<std::string> search;   // --dns-search: replaces the host's search domains
  std::vector<std::string> options;  // --dns-option: replaces the host's options
  // The network's resolver: then it is the only nameserver (it forwards the names it does not
  // know to --dns or the host's resolvers, which a comment lists), with `options ndots:0` unless
  // --dns-option is given, so that a container's name is asked as is first.
  std::optional<Ipv4Address> resolver;
};

// As above, with Docker's --dns-search, --dns-option and user-network resolver.
std::string resolv_conf_content(std::string_view host_resolv_conf,
                                const ResolvConfOptions& options);

}  // namespace gctool::net
