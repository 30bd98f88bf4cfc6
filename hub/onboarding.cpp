#include "hub/onboarding.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "crypto/primitives.hpp"
#include "daemon/cli.hpp"
#include "daemon/control_socket.hpp"
#include "hub/hub_config.hpp"
#include "hub/vip_pool.hpp"

namespace tund::hub {

namespace {

namespace fs = std::filesystem;

// A name is a file name in clients.d and a label in logs and [[expose]].
bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 63 || !std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  for (const char ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') return false;
  return true;
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string s = "[";
  for (std::size_t i = 0; i < items.size(); ++i) s += (i ? ", \"" : "\"") + items[i] + "\"";
  return s + "]";
}

// Asks a running hub to reload; says on err what happened. False when a
// running hub refused.
bool reload_running_hub(const HubSettings& s, std::ostream& err) {
  const auto reply = daemon::control_request(s.control_socket, "reload");
  if (!reply) {
    err << "tund-hub is not running (no daemon at " << s.control_socket << "): the change applies at its next start\n";
    return true;
  }
  const auto j = nlohmann::json::parse(*reply, nullptr, false);
  if (j.is_object() && j.value("ok", false)) {
    err << "the running hub: " << j.value("note", "") << "\n";
    return true;
  }
  err << "the running hub did not reload: "
      << (j.is_object() ? j.value("error", std::string("unreadable reply")) : std::string("unreadable reply")) << "\n";
  return false;
}

std::optional<HubSettings> load_or_report(const std::string& path, std::ostream& err) {
  try {
    return load_hub_config(path);
  } catch (const config::ConfigError& e) {
    err << e.what() << "\n";
    return std::nullopt;
  }
}

int refuse(std::ostream& err, const std::string& why) {
  err << "tund-hub: " << why << "\n";
  return cli::kUsage;
}

// add-client and remove-client, one at a time per state directory: two runs
// at once would both see the same free VIP, or one remove the other's file.
// flock: released by the kernel however the process ends.
class ClientsLock {
 public:
  explicit ClientsLock(const std::string& state_directory) {
    std::error_code ec;
    fs::create_directories(state_directory, ec);
    path_ = state_directory + "/clients.lock";
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      error_ = "cannot open " + path_ + ": " + std::strerror(errno);
      return;
    }
    while (::flock(fd_, LOCK_EX) != 0)
      if (errno != EINTR) {
        error_ = "cannot lock " + path_ + ": " + std::strerror(errno);
        return;
      }
  }
  ~ClientsLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  ClientsLock(const ClientsLock&) = delete;
  ClientsLock& operator=(const ClientsLock&) = delete;
  const std::string& error() const { return error_; }

 private:
  std::string path_, error_;
  int fd_ = -1;
};

// Writes `text` to a new hidden file beside `file` (skipped by the loader)
// and renames it over `file`. The temporary is created exclusively under a
// name no one can guess ahead (O_EXCL | O_NOFOLLOW): a symlink planted in
// clients.d is never followed, and no other run shares it.
std::string write_by_rename(const std::string& dir, const std::string& name, const std::string& file,
                            const std::string& text) {
  unsigned char r[8];
  randombytes_buf(r, sizeof r);
  std::string tmp = dir + "/." + name + ".toml.";
  for (const auto b : r) tmp += "0123456789abcdef"[b >> 4], tmp += "0123456789abcdef"[b & 15];
  // 0644: a public key and an address, nothing secret.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot create " + tmp + ": " + std::strerror(errno);
  bool ok = ::fchmod(fd, 0644) == 0;  // whatever the umask
  for (std::size_t done = 0; ok && done < text.size();) {
    const ssize_t w = ::write(fd, text.data() + done, text.size() - done);
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    if (ok) done += static_cast<std::size_t>(w);
  }
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), file.c_str()) != 0) {
    std::remove(tmp.c_str());
    return "cannot write " + file;
  }
  return {};
}

int add_client_locked(const std::string& config_path, const AddClientRequest& req, std::ostream& out,
                      std::ostream& err);
int remove_client_locked(const std::string& config_path, const std::string& name, std::ostream& out,
                         std::ostream& err);

}  // namespace

int add_client(const std::string& config_path, const AddClientRequest& req, std::ostream& out, std::ostream& err) {
  const auto loaded = load_or_report(config_path, err);
  if (!loaded) return cli::kUsage;
  const ClientsLock lock(loaded->state_directory);
  if (!lock.error().empty()) return refuse(err, lock.error());
  return add_client_locked(config_path, req, out, err);  // loads again: another run may have added one
}

int remove_client(const std::string& config_path, const std::string& name, std::ostream& out, std::ostream& err) {
  const auto loaded = load_or_report(config_path, err);
  if (!loaded) return cli::kUsage;
  const ClientsLock lock(loaded->state_directory);
  if (!lock.error().empty()) return refuse(err, lock.error());
  return remove_client_locked(config_path, name, out, err);
}

namespace {

int add_client_locked(const std::string& config_path, const AddClientRequest& req, std::ostream& out,
                      std::ostream& err) {
  const auto loaded = load_or_report(config_path, err);
  if (!loaded) return cli::kUsage;
  const HubSettings& s = *loaded;
  if (!valid_name(req.name))
    return refuse(err, "client name '" + req.name + "' must be 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit");
  for (const auto& c : s.clients)
    if (c.name == req.name) return refuse(err, "a client named '" + req.name + "' exists already (" + c.source + ")");
  const std::string file = client_file(s, req.name);
  std::error_code ec;
  if (fs::exists(file, ec)) return refuse(err, file + " exists already");

  // The VIP: checked against the subnet and every other client's, by the
  // same assignment the hub runs at start.
  std::vector<VipRequest> requests;
  for (const auto& c : s.clients) requests.push_back({c.vip, std::nullopt});
  VipRequest mine;
  if (req.vip && !s.tun_address) return refuse(err, "--vip: this hub has IPv6 alone inside ([tun] address); its VIPs come from the pool");
  if (req.vip) {
    mine.vip = config::parse_ipv4(*req.vip);
    if (!mine.vip) return refuse(err, "--vip '" + *req.vip + "' is not an IPv4 address");
    for (const auto& c : s.clients)
      if (c.vip == *mine.vip) return refuse(err, "--vip " + *req.vip + " is taken by client '" + c.name + "'");
  }
  requests.push_back(mine);
  const auto vips = assign_vips(s.vip_pool, requests);
  if (!vips.ok()) return refuse(err, "--vip: " + vips.error);
  const std::uint32_t vip = vips.vips.back();
  // With IPv6 alone inside the pool address is not a VIP: the file pins the
  // IPv6 VIP instead (with both, the IPv6 VIP follows the IPv4 one).
  const std::string vip_line = s.tun_address
      ? "vip = \"" + config::ipv4_to_string(vip) + "\""
      : "vip6 = \"" + config::Prefix6{derived_vip6(*s.tun_address6, s.vip_pool, vip), 128}.address_string() + "\"";

  // Routes: what the client sends through this hub. By default the networks
  // the hub masquerades for (its VIP subnet is routed from the handshake).
  std::vector<std::string> routes;
  if (req.routes) {
    std::string rest = *req.routes;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const std::string item = rest.substr(0, comma);
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
      if (item.empty()) continue;
      if (const auto p = config::parse_prefix(item, false)) {
        routes.push_back(p->to_string());
      } else if (const auto p6 = config::parse_prefix6(item, false)) {
        routes.push_back(p6->to_string());
      } else {
        return refuse(err, "--routes: '" + item + "' is not a prefix like 10.4.0.0/24 or fd04::/64");
      }
    }
  } else {
    for (const auto& m : s.masquerade) routes.push_back(m.to_string());
    for (const auto& m : s.masquerade6) routes.push_back(m.to_string());
  }

  // Where clients reach the hub: a wildcard listen address says nothing.
  std::string endpoint;
  if (req.endpoint) {
    const auto hp = config::parse_host_port(*req.endpoint);
    if (!hp || hp->port == 0)
      return refuse(err, "--endpoint '" + *req.endpoint + "' is not ip:port, [ipv6]:port or name:port");
    endpoint = hp->to_string();
  } else {
    for (const auto& l : s.listen)
      if (!l.unspecified() && endpoint.empty()) endpoint = l.to_string();
  }
  if (endpoint.empty())
    return refuse(err, "the hub listens on " + s.listen.front().to_string() +
                           ": say where clients reach it with --endpoint ADDRESS:PORT");

  crypto::SodiumRng rng;
  PrivateKey priv;
  PublicKey pub, hub_pub;
  crypto::generate_private_key(rng, priv);
  if (!crypto::derive_public_key(priv, pub) || !crypto::derive_public_key(s.private_key, hub_pub))
    return refuse(err, "cannot derive a public key");

  fs::create_directories(s.clients_directory, ec);
  if (ec) return refuse(err, "cannot create " + s.clients_directory + ": " + ec.message());
  const std::string text = "# Added by tund-hub add-client; removed by tund-hub remove-client " + req.name + ".\n" +
                           "[[client]]\n" + "name = \"" + req.name + "\"\n" + "public_key = \"" +
                           crypto::key_to_base64(pub) + "\"\n" + vip_line + "\n";
  if (auto e = write_by_rename(s.clients_directory, req.name, file, text); !e.empty()) return refuse(err, e);
  // The hub's own loader must take the result, or nothing stays changed.
  try {
    (void)load_hub_config(config_path);
  } catch (const config::ConfigError& e) {
    std::remove(file.c_str());
    return refuse(err, std::string("the hub would not load the new client, nothing changed: ") + e.what());
  }
  const bool reloaded = reload_running_hub(s, err);

  out << "# tund client \"" << req.name << "\", made by tund-hub add-client.\n"
      << "# It holds the client's private key, shown only here: keep it readable by root only,\n"
      << "#   (umask 077; cat > /etc/tund/" << req.name << ".toml)   then   systemctl enable --now tund@" << req.name
      << "\n"
      << "private_key = \"" << crypto::key_to_base64(priv) << "\"\n"
      << "control_socket = \"/run/tund/" << req.name << ".sock\"\n\n"
      << "[[hub]]\n"
      << "name = \"hub\"\n"
      << "endpoint = \"" << endpoint << "\"\n"
      << "public_key = \"" << crypto::key_to_base64(hub_pub) << "\"\n"
      << "routes = " << quoted_list(routes) << "\n"
      << "# This client's " << vip_line << " (given in the handshake)\n";
  crypto::wipe(priv);
  return reloaded ? cli::kOk : cli::kNotConnected;
}

int remove_client_locked(const std::string& config_path, const std::string& name, std::ostream& out,
                         std::ostream& err) {
  const auto loaded = load_or_report(config_path, err);
  if (!loaded) return cli::kUsage;
  const HubSettings& s = *loaded;
  const auto c = std::find_if(s.clients.begin(), s.clients.end(), [&](const ClientSettings& x) { return x.name == name; });
  if (c == s.clients.end()) return refuse(err, "no client is named '" + name + "'");
  const std::string file = client_file(s, name);
  if (c->source != file)
    return refuse(err, "client '" + name + "' is in " + c->source + ", not added by add-client: remove its [[client]] table there");
  for (const auto& e : s.exposes)
    if (s.clients[e.client].name == name)
      return refuse(err, "client '" + name + "' is named by an [[expose]] in " + config_path + ": remove that first");
  if (std::remove(file.c_str()) != 0) return refuse(err, "cannot remove " + file);
  out << "removed client " << name << " (" << file << ")\n";
  return reload_running_hub(s, err) ? cli::kOk : cli::kNotConnected;
}

}  // namespace

}  // namespace tund::hub
