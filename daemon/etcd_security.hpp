// How the etcd clients (etcd.hpp, etcd_watch.hpp) reach a secured etcd: TLS
// with etcd's certificate verified (its CA and its host name or IP address)
// and, when given, a client certificate; and etcd's own user authentication,
// whose token the clients get from POST /v3/auth/authenticate and send as the
// Authorization header of every request.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <optional>
#include <string>

// Declared only: the hub's config holds a Security without all of Asio's TLS.
namespace boost::asio::ssl {
class context;
}

namespace tund::daemon::etcd {

struct Security {
  std::string ca_file;    // PEM, the CA that signs etcd's certificate; empty: plain HTTP
  std::string cert_file;  // PEM, this client's certificate (with key_file); empty: none
  std::string key_file;
  std::string user;       // etcd user; empty: no authentication
  std::string password;   // never logged, never in an error text
  bool tls() const { return !ca_file.empty(); }
  bool operator==(const Security&) const = default;
};

// What is wrong with the files `s` names, for a config error: which one and
// why (OpenSSL's reason); nothing when all load, and the key fits the
// certificate. Reads only the files.
struct TlsProblem {
  enum class File { kCa, kCert, kKey } file;
  std::string reason;
};
std::optional<TlsProblem> check_tls(const Security& s);

// The TLS context of `s` (TLS 1.2 or later, the peer verified against
// ca_file alone, the client certificate loaded); null when `s` has no TLS.
// Throws std::runtime_error naming the file that did not load.
std::shared_ptr<boost::asio::ssl::context> tls_context(const Security& s);

// Readies `ssl` (a new connection's) for the host it connects to: the
// certificate must name `host` (an IP address as such, else a DNS name, also
// sent as SNI). False when OpenSSL refuses the name.
bool expect_peer(SSL* ssl, const std::string& host);

}  // namespace tund::daemon::etcd
