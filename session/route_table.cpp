#include "session/route_table.hpp"

#include <algorithm>

namespace tund::session {

void RouteTable::replace(std::size_t slot, bool assigned, const std::vector<IpPrefix>& prefixes) {
  std::erase_if(entries_, [&](const Entry& e) { return e.slot == slot && e.assigned == assigned; });
  for (const auto& p : prefixes) entries_.push_back({p, slot, assigned});
  std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.prefix.len != b.prefix.len) return a.prefix.len > b.prefix.len;
    return !a.assigned && b.assigned;
  });
}

void RouteTable::set_routes(std::size_t slot, const std::vector<IpPrefix>& prefixes) {
  replace(slot, false, prefixes);
}

void RouteTable::set_assigned(std::size_t slot, std::optional<IpPrefix> prefix, std::optional<IpPrefix> prefix6) {
  std::vector<IpPrefix> v;
  if (prefix) v.push_back(*prefix);
  if (prefix6) v.push_back(*prefix6);
  replace(slot, true, v);
}

std::optional<std::size_t> RouteTable::lookup(std::uint8_t family, const std::uint8_t* addr) const {
  for (const auto& e : entries_)
    if (e.prefix.contains(family, addr)) return e.slot;
  return std::nullopt;
}

std::optional<std::size_t> RouteTable::lookup_v4(std::uint32_t host_order) const {
  const std::uint8_t a[4] = {static_cast<std::uint8_t>(host_order >> 24), static_cast<std::uint8_t>(host_order >> 16),
                             static_cast<std::uint8_t>(host_order >> 8), static_cast<std::uint8_t>(host_order)};
  return lookup(4, a);
}

bool RouteTable::overlaps_routes_of_others(std::size_t slot, const IpPrefix& p) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.slot != slot && !e.assigned && e.prefix.overlaps(p); });
}

}  // namespace tund::session
