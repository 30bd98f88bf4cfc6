#include "daemon/resolver_files.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>

#include "daemon/config_check.hpp"
#include "tund/limits.hpp"

namespace tund::daemon {

namespace {

// The whitespace-separated words of a line, up to a '#' or ';' comment.
std::vector<std::string_view> words(std::string_view line) {
  const auto comment = line.find_first_of("#;");
  if (comment != std::string_view::npos) line = line.substr(0, comment);
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

template <class F>
void each_line(std::string_view text, F&& fn) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    fn(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

bool same_name(std::string_view a, std::string_view b) {
  if (!a.empty() && a.back() == '.') a.remove_suffix(1);
  if (!b.empty() && b.back() == '.') b.remove_suffix(1);
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_resolved_stub(const Endpoint& e) {
  return e.family == 4 && e.addr[0] == 127 && e.addr[1] == 0 && e.addr[2] == 0 && (e.addr[3] == 53 || e.addr[3] == 54);
}

}  // namespace

std::vector<Endpoint> resolv_conf_servers(std::string_view text) {
  std::vector<Endpoint> out;
  each_line(text, [&](std::string_view line) {
    const auto w = words(line);
    if (w.size() < 2 || w[0] != "nameserver") return;
    auto ip = config::parse_ip(w[1]);
    if (!ip || ip->unspecified()) return;
    ip->port = 53;
    if (std::find(out.begin(), out.end(), *ip) == out.end()) out.push_back(*ip);
  });
  return out;
}

std::vector<Endpoint> hosts_addresses(std::string_view text, std::string_view name) {
  std::vector<Endpoint> out;
  each_line(text, [&](std::string_view line) {
    const auto w = words(line);
    if (w.size() < 2) return;
    const auto ip = config::parse_ip(w[0]);
    if (!ip) return;
    for (std::size_t i = 1; i < w.size(); ++i)
      if (same_name(w[i], name)) {
        if (std::find(out.begin(), out.end(), *ip) == out.end()) out.push_back(*ip);
        return;
      }
  });
  return out;
}

std::optional<std::string> read_resolver_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(limits::kResolverFileMax, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

std::vector<Endpoint> UpstreamServers::current() {
  std::vector<Endpoint> found;
  source_.clear();
  for (const auto* path : {&paths_.resolved, &paths_.resolv_conf}) {
    const auto text = read_resolver_file(*path);
    if (!text) continue;
    for (const auto& s : resolv_conf_servers(*text)) {
      Endpoint bare = s;
      bare.port = 0;
      if (is_resolved_stub(s) || std::find(exclude_.begin(), exclude_.end(), bare) != exclude_.end()) continue;
      if (found.size() < limits::kDnsMaxUpstreams) found.push_back(s);
    }
    source_ = *path;
    break;  // resolved's list, when it exists, is the whole truth
  }
  if (found.empty() && !last_.empty()) {
    source_ = (source_.empty() ? "no resolv.conf" : source_) + " names none but the tunnel's: the last list seen";
    return last_;
  }
  if (!found.empty()) last_ = found;
  return found;
}

}  // namespace tund::daemon
