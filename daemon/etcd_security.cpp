#include "daemon/etcd_security.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <boost/asio/ssl.hpp>

#include "daemon/asio.hpp"

namespace tund::daemon::etcd {

namespace {

std::string file_name(const Security& s, TlsProblem::File f) {
  switch (f) {
    case TlsProblem::File::kCa: return s.ca_file;
    case TlsProblem::File::kCert: return s.cert_file;
    case TlsProblem::File::kKey: return s.key_file;
  }
  return {};
}

// A fresh client context: TLS 1.2 or later, the peer's certificate required
// and checked against what load() adds (never the system's CAs: etcd's CA is
// the site's own).
std::shared_ptr<asio::ssl::context> new_context() {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_verify_mode(asio::ssl::verify_peer);
  return ctx;
}

// Loads the files `s` names into `ctx`; the first that fails, and why.
std::optional<TlsProblem> load(asio::ssl::context& ctx, const Security& s) {
  using File = TlsProblem::File;
  const auto problem = [&](File f, const std::string& why) { return TlsProblem{f, why}; };
  // OpenSSL's errors for a missing file are its own ("system lib"): say it
  // plainly. Not a regular file (a device, a pipe), OpenSSL might read forever.
  for (const File f : {File::kCa, File::kCert, File::kKey}) {
    const auto name = file_name(s, f);
    if (name.empty()) continue;
    struct stat st {};
    if (::stat(name.c_str(), &st) != 0 || !std::ifstream(name))
      return problem(f, std::string("cannot read it: ") + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return problem(f, "not a regular file");
  }
  boost::system::error_code ec;
  if (ctx.load_verify_file(s.ca_file, ec); ec) return problem(File::kCa, "not a PEM CA certificate (" + ec.message() + ")");
  if (s.cert_file.empty()) return std::nullopt;
  if (ctx.use_certificate_chain_file(s.cert_file, ec); ec)
    return problem(File::kCert, "not a PEM certificate (" + ec.message() + ")");
  if (ctx.use_private_key_file(s.key_file, asio::ssl::context::pem, ec); ec) {
    // OpenSSL checks the key against the certificate loaded before it.
    const bool mismatch = ec.category() == asio::error::get_ssl_category() &&
                          ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH;
    return problem(File::kKey, mismatch ? "does not belong to the certificate in " + s.cert_file
                                        : "not a PEM private key (" + ec.message() + ")");
  }
  return std::nullopt;
}

}  // namespace

std::optional<TlsProblem> check_tls(const Security& s) {
  if (!s.tls()) return std::nullopt;
  return load(*new_context(), s);
}

std::shared_ptr<asio::ssl::context> tls_context(const Security& s) {
  if (!s.tls()) return nullptr;
  auto ctx = new_context();
  if (const auto p = load(*ctx, s)) throw std::runtime_error("etcd TLS: " + file_name(s, p->file) + ": " + p->reason);
  return ctx;
}

bool expect_peer(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  // The name is checked while the chain is verified: a certificate for
  // another host fails the handshake like one from another CA.
  if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1) return true;
  return X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1 &&
         SSL_set_tlsext_host_name(ssl, host.c_str()) == 1;
}

}  // namespace tund::daemon::etcd
