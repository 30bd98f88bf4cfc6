#include "session/redundancy.hpp"

#include "session/flow_fields.hpp"

namespace tund::session {

namespace {

bool matches(const RedundancySelector& s, const FlowFields& f) {
  using K = RedundancySelector::Kind;
  switch (s.kind) {
    case K::kDscp: return f.dscp == s.dscp;
    case K::kUdp:
    case K::kTcp: {
      if (!f.has_ports || f.proto != (s.kind == K::kUdp ? kProtoUdp : kProtoTcp)) return false;
      const auto in = [&](std::uint16_t port) { return port >= s.port_low && port <= s.port_high; };
      return in(f.sport) || in(f.dport);
    }
    case K::kPrefix: return s.prefix.contains(f.family, f.src) || s.prefix.contains(f.family, f.dst);
  }
  return false;
}

}  // namespace

bool redundant(const RedundancyPolicy& policy, Bytes inner) {
  if (policy.empty()) return false;
  FlowFields f;
  if (!read_flow_fields(inner, f)) return false;
  for (const auto& s : policy)
    if (matches(s, f)) return true;
  return false;
}

}  // namespace tund::session
