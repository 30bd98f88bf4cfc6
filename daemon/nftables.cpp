#include "daemon/nftables.hpp"

#include <nftables/libnftables.h>

#include <stdexcept>

namespace tund::daemon {

Nftables::Nftables() {
  ctx_ = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx_) throw std::runtime_error("cannot create an nftables context");
  nft_ctx_buffer_output(ctx_);
  nft_ctx_buffer_error(ctx_);
}

Nftables::~Nftables() {
  remove_all();
  nft_ctx_free(ctx_);
}

bool Nftables::delete_table_if_present(const std::string& family, const std::string& name) {
  if (!run("list table " + family + " " + name).empty()) return false;
  return run("delete table " + family + " " + name).empty();
}

std::string Nftables::run(const std::string& commands) {
  if (nft_run_cmd_from_buffer(ctx_, commands.c_str()) == 0) return {};
  std::string err = nft_ctx_get_error_buffer(ctx_);
  while (!err.empty() && err.back() == '\n') err.pop_back();
  return err.empty() ? "nftables refused the rules" : err;
}

std::string Nftables::install_table(const std::string& family, const std::string& name,
                                    const std::string& body, bool owned) {
  const std::string id = family + " " + name;
  // "add" then "delete" makes the delete safe when the table does not exist;
  // the whole buffer is one transaction.
  auto err = run("add table " + id + "\ndelete table " + id + "\ntable " + id + " {\n" + body + "}\n");
  if (err.empty() && owned) {
    bool known = false;
    for (const auto& t : tables_) known = known || t == id;
    if (!known) tables_.push_back(id);
  }
  return err;
}

void Nftables::remove_all() {
  for (const auto& t : tables_) run("delete table " + t);
  tables_.clear();
}

}  // namespace tund::daemon
