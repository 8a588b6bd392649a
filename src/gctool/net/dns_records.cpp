#include "gctool/net/dns_records.hpp"

#include <time.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "gctool/core/file_util.hpp"

namespace gctool::net {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::optional<DnsEndpoint> parse_endpoint(const nlohmann::json& j, std::string_view network) {
  if (j.value("Network", "") != network) {
    return std::nullopt;
  }
  DnsEndpoint e;
  e.container_id = j.at("ContainerId").get<std::string>();
  e.ip = parse_ipv4(j.at("IPAddress").get<std::string>());
  if (const auto ip6 = j.value("GlobalIPv6Address", ""); !ip6.empty()) {
    e.ip6 = parse_ipv6(ip6);
  }
  if (const auto name = j.value("ContainerName", ""); !name.empty()) {
    e.names.push_back(lower(name));
  }
  e.names.push_back(lower(e.container_id));
  if (e.container_id.size() > 12) {
    e.names.push_back(lower(e.container_id.substr(0, 12)));
  }
  for (const auto& alias : j.value("Aliases", std::vector<std::string>{})) {
    e.names.push_back(lower(alias));
  }
  for (const auto& server : j.value("Dns", std::vector<std::string>{})) {
    if (const auto ip = try_parse_ipv4(server)) {
      e.dns.push_back(*ip);
    }
  }
  return e;
}

}  // namespace

DnsRecords::DnsRecords(std::filesystem::path root, std::string network)
    : dir_(std::move(root) / "networks" / "endpoints"), network_(std::move(network)) {}

void DnsRecords::refresh() {
  struct stat st {};
  if (::stat(dir_.c_str(), &st) != 0) {
    endpoints_.clear();
    read_mtime_.reset();
    return;
  }
  // File timestamps come from a coarse clock: a change within the same tick as the last read
  // would keep the same mtime, so a directory changed in the last second is always re-read.
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const bool recent = now.tv_sec - st.st_mtim.tv_sec <= 1;
  if (!recent && read_mtime_ && read_mtime_->tv_sec == st.st_mtim.tv_sec &&
      read_mtime_->tv_nsec == st.st_mtim.tv_nsec) {
    return;
  }
  std::vector<DnsEndpoint> endpoints;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() != ".json" || name.starts_with('.')) {
      continue;
    }
    try {
      const auto text = try_read_file(entry.path());
      if (!text) {
        continue;  // removed meanwhile
      }
      if (auto e = parse_endpoint(nlohmann::json::parse(*text), network_)) {
        endpoints.push_back(std::move(*e));
      }
    } catch (const std::exception&) {
      // A damaged record answers nothing; the others still do.
    }
  }
  endpoints_ = std::move(endpoints);
  read_mtime_ = st.st_mtim;
}

namespace {

bool has_name(const DnsEndpoint& e, std::string_view name) {
  return std::find(e.names.begin(), e.names.end(), name) != e.names.end();
}

}  // namespace

std::vector<Ipv4Address> DnsRecords::lookup(std::string_view name) const {
  std::vector<Ipv4Address> out;
  for (const auto& e : endpoints_) {
    if (has_name(e, name)) {
      out.push_back(e.ip);
    }
  }
  return out;
}

std::vector<Ipv6Address> DnsRecords::lookup6(std::string_view name) const {
  std::vector<Ipv6Address> out;
  for (const auto& e : endpoints_) {
    if (e.ip6 && has_name(e, name)) {
      out.push_back(*e.ip6);
    }
  }
  return out;
}

const DnsEndpoint* DnsRecords::endpoint_of(Ipv4Address ip) const {
  for (const auto& e : endpoints_) {
    if (e.ip == ip) {
      return &e;
    }
  }
  return nullptr;
}

std::vector<Ipv4Address> resolv_conf_nameservers(std::string_view text) {
  std::vector<Ipv4Address> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || !line.substr(first).starts_with("nameserver")) {
      continue;
    }
    line.remove_prefix(first + 10);
    const auto b = line.find_first_not_of(" \t");
    if (b == 0 || b == std::string_view::npos) {
      continue;
    }
    line.remove_prefix(b);
    line = line.substr(0, line.find_first_of(" \t\r#;"));
    if (const auto ip = try_parse_ipv4(line)) {
      out.push_back(*ip);
    }
  }
  return out;
}

}  // namespace gctool::net
