// Firewall and NAT rules through libnftables (the library behind `nft`, no
// shell). A daemon owns whole tables: it creates them atomically from one
// ruleset text and deletes them on shutdown.
#pragma once

#include <string>
#include <vector>

struct nft_ctx;

namespace tund::daemon {

class Nftables {
 public:
  Nftables();
  ~Nftables();
  Nftables(const Nftables&) = delete;
  Nftables& operator=(const Nftables&) = delete;

  // Runs nft commands atomically. Returns the error text, empty on success.
  std::string run(const std::string& commands);
  // Creates `family name` from `body` (replacing any old copy in the same
  // transaction: no moment without it) and, when `owned`, remembers to delete
  // it in remove_all(). A table that must outlive the daemon (a kill switch,
  // which fails closed) is not owned: its owner deletes it by name.
  std::string install_table(const std::string& family, const std::string& name, const std::string& body,
                            bool owned = true);
  void remove_all();
  // Deletes `family name` if it exists (left by a crashed daemon). True when it did.
  bool delete_table_if_present(const std::string& family, const std::string& name);

 private:
  nft_ctx* ctx_ = nullptr;
  std::vector<std::string> tables_;  // "family name"
};

}  // namespace tund::daemon
