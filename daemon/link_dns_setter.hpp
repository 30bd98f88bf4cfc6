// Gives a link (the tunnel's TUN) its DNS through whatever the system has:
// systemd-resolved over the bus (daemon/resolved_link) when it answers, else
// resolvconf (daemon/resolvconf), else nothing, with one warning. On the
// event loop, never waiting: apply() says what is wanted now, and the latest
// wish is carried out once the operation in flight is done. An empty LinkDns
// removes what was set. revert_now(), at a stop, removes it and waits
// (bounded): systemd-resolved forgets a link that goes away by itself, but a
// resolvconf entry would outlive the TUN.
//
//   nothing set ─apply─▶ resolved? ─yes─▶ via resolved
//                           │ absent or refused
//                           ▼
//                       resolvconf? ─yes─▶ via resolvconf
//                           │ not found or failed
//                           ▼
//                       via none (warned once)
#pragma once

#include <memory>
#include <string>

#include "daemon/asio.hpp"
#include "daemon/child_process.hpp"
#include "daemon/link_dns.hpp"
#include "daemon/resolved_link.hpp"

namespace tund::daemon {

class LinkDnsSetter {
 public:
  LinkDnsSetter(asio::io_context& io, std::string link);
  ~LinkDnsSetter();
  LinkDnsSetter(const LinkDnsSetter&) = delete;
  LinkDnsSetter& operator=(const LinkDnsSetter&) = delete;

  void apply(int ifindex, const LinkDns& wanted);
  void revert_now();
  // How the DNS in place was set: "systemd-resolved", "resolvconf", "none"
  // (neither could), or "" (nothing set).
  const char* via() const;
  const LinkDns& applied() const { return applied_; }

 private:
  enum class Via { kNothing, kResolved, kResolvconf, kNone };
  void step();
  void try_resolvconf(const LinkDns& target, const std::string& resolved_said);
  void done(const LinkDns& target, Via how);

  asio::io_context& io_;
  std::string link_;
  int ifindex_ = 0;
  ResolvedLink resolved_;
  std::shared_ptr<ChildRun> child_;
  LinkDns wanted_, applied_;
  Via via_ = Via::kNothing;
  bool busy_ = false;
  bool warned_ = false;
  // Ways tried since start: a stop removes the DNS through each.
  bool tried_resolved_ = false, tried_resolvconf_ = false;
};

}  // namespace tund::daemon
