// Counters by reason, for what a daemon refuses or drops (etcd's faults, a
// cluster member's refused mappings, refused DNS answers): one counter per
// value of an enum whose last value is kCount, each with a name for status
// JSON and metrics.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tund::daemon {

template <class Reason, const char* (*Name)(Reason)>
struct ReasonCounts {
  static constexpr std::size_t kSize = static_cast<std::size_t>(Reason::kCount);
  std::array<std::uint64_t, kSize> n{};

  void add(Reason r) { ++n[static_cast<std::size_t>(r)]; }
  std::uint64_t operator[](Reason r) const { return n[static_cast<std::size_t>(r)]; }
  std::uint64_t total() const {
    std::uint64_t t = 0;
    for (const auto v : n) t += v;
    return t;
  }
  ReasonCounts& operator+=(const ReasonCounts& other) {
    for (std::size_t i = 0; i < kSize; ++i) n[i] += other.n[i];
    return *this;
  }
  // {"<prefix><name>": count, ...} for the reasons seen, into `out`.
  void add_to(nlohmann::json& out, std::string_view prefix = {}) const {
    for (std::size_t i = 0; i < kSize; ++i)
      if (n[i]) out[std::string(prefix) + Name(static_cast<Reason>(i))] = n[i];
  }
  nlohmann::json to_json() const {
    auto out = nlohmann::json::object();
    add_to(out);
    return out;
  }
};

}  // namespace tund::daemon
