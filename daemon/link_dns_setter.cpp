#include "daemon/link_dns_setter.hpp"

#include "daemon/log.hpp"
#include "daemon/resolvconf.hpp"
#include "tund/limits.hpp"

namespace tund::daemon {

namespace {
std::string described(const LinkDns& d) {
  std::string s = d.to_string();
  if (d.exclusive) s += " (every name: a full tunnel)";
  return s;
}
}  // namespace

LinkDnsSetter::LinkDnsSetter(asio::io_context& io, std::string link)
    : io_(io), link_(std::move(link)), resolved_(io) {}

LinkDnsSetter::~LinkDnsSetter() {
  if (child_) child_->abandon();
}

const char* LinkDnsSetter::via() const {
  if (applied_.empty()) return "";
  switch (via_) {
    case Via::kResolved: return "systemd-resolved";
    case Via::kResolvconf: return "resolvconf";
    case Via::kNone: return "none";
    case Via::kNothing: break;
  }
  return "";
}

void LinkDnsSetter::apply(int ifindex, const LinkDns& wanted) {
  ifindex_ = ifindex;
  wanted_ = wanted;
  step();
}

void LinkDnsSetter::step() {
  if (busy_ || wanted_ == applied_) return;
  busy_ = true;
  const LinkDns target = wanted_;
  if (target.empty()) {
    // Remove what is in place, the way it was set.
    if (via_ == Via::kResolved)
      return resolved_.revert(ifindex_, [this, target](bool ok, bool, const std::string& error) {
        if (!ok) log::warning("DNS of " + link_ + ": systemd-resolved kept it (" + error + ")");
        done(target, Via::kNothing);
      });
    if (via_ == Via::kResolvconf) {
      child_ = ChildRun::start(io_, resolvconf_delete_argv(link_), "", limits::kDnsApplyTimeout,
                               [this, target](const ChildResult& r) {
                                 if (!r.ok()) log::warning("DNS of " + link_ + ": resolvconf -d: " + r.describe());
                                 done(target, Via::kNothing);
                               });
      return;
    }
    asio::post(io_, [this, target] { done(target, Via::kNothing); });
    return;
  }
  // Once resolvconf took it, resolved is not asked again (it was absent).
  if (via_ == Via::kResolvconf) return try_resolvconf(target, "");
  tried_resolved_ = true;
  resolved_.set(ifindex_, resolved_plan(target), [this, target](bool ok, bool absent, const std::string& error) {
    if (ok) return done(target, Via::kResolved);
    try_resolvconf(target, absent ? "" : "systemd-resolved refused it (" + error + "); ");
  });
}

void LinkDnsSetter::try_resolvconf(const LinkDns& target, const std::string& resolved_said) {
  tried_resolvconf_ = true;
  child_ = ChildRun::start(io_, resolvconf_add_argv(link_, target), resolvconf_fragment(target), limits::kDnsApplyTimeout,
                           [this, target, resolved_said](const ChildResult& r) {
                             if (r.ok()) return done(target, Via::kResolvconf);
                             if (!warned_ || r.spawn_error != ENOENT)
                               log::warning("DNS of " + link_ + " not set: " + resolved_said +
                                            (resolved_said.empty() ? "no systemd-resolved on the system bus, " : "") +
                                            "resolvconf " + r.describe() +
                                            "; names resolve as the system resolves them, outside the tunnel's servers");
                             warned_ = true;
                             done(target, Via::kNone);
                           });
}

void LinkDnsSetter::done(const LinkDns& target, Via how) {
  busy_ = false;
  const bool changed = !(target == applied_) || how != via_;
  applied_ = target;
  via_ = target.empty() ? Via::kNothing : how;
  if (changed && how != Via::kNone)
    log::notice(target.empty() ? "DNS of " + link_ + " removed"
                               : "DNS of " + link_ + ": " + described(target) + " (through " + via() + ")");
  step();
}

void LinkDnsSetter::revert_now() {
  if (child_) child_->abandon();
  if (applied_.empty() && !busy_) return;
  bool removed = false;
  std::string error;
  if (tried_resolved_ && resolved_.revert_now(ifindex_, error)) removed = true;
  if (tried_resolvconf_) {
    const auto r = run_child_now(resolvconf_delete_argv(link_), "", limits::kDnsRevertTimeout);
    if (r.ok()) removed = true;
    else error += (error.empty() ? "" : "; ") + std::string("resolvconf -d: ") + r.describe();
  }
  if (removed) log::notice("DNS of " + link_ + " removed: stopped");
  else if (via_ != Via::kNone) log::warning("DNS of " + link_ + ": could not remove it (" + error + ")");
  applied_ = {};
  wanted_ = {};
  via_ = Via::kNothing;
  busy_ = false;
}

}  // namespace tund::daemon
