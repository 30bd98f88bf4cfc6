// Onboarding in one command, on the hub's host:
//
//   tund-hub add-client NAME [--vip A.B.C.D] [--routes P,P] [--endpoint IP:PORT] -c hub.toml
//     draws the client's key pair, writes clients.d/NAME.toml (one [[client]]
//     table: name, public key, VIP), asks a running hub to reload (sessions of
//     other clients are untouched) and prints a complete client config on
//     stdout. The private key is printed once and never stored on the hub.
//   tund-hub remove-client NAME -c hub.toml
//     removes clients.d/NAME.toml and asks a running hub to reload, which ends
//     that client's session.
//
// Every check runs before anything is written: bad input is one line on
// stderr and exit 2, and nothing changed.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

namespace tund::hub {

struct AddClientRequest {
  std::string name;
  std::optional<std::string> vip;       // else the lowest free address (or its lease)
  std::optional<std::string> routes;    // comma-separated prefixes; else the hub's [nat] masquerade
  std::optional<std::string> endpoint;  // where clients reach the hub; else its listen address
};

// Both return the exit code (cli::kOk, cli::kUsage) and write only to out/err.
int add_client(const std::string& config_path, const AddClientRequest& request, std::ostream& out, std::ostream& err);
int remove_client(const std::string& config_path, const std::string& name, std::ostream& out, std::ostream& err);

}  // namespace tund::hub
