// Memory that many owners hold together against one cap: a hub's sessions'
// resend buffers (HubConfig::resend_total_bytes), their staged packets
// (HubConfig::staged_total_bytes). Each owner counts what it allocates and
// frees through its MemoryAccount as it happens, so the total is exact at
// every moment (the hub's status shows it) and the cap is checked before
// memory is taken, never after.
#pragma once

#include <cstddef>
#include <limits>

namespace tund::session {

struct MemoryBudget {
  std::size_t cap = std::numeric_limits<std::size_t>::max();
  std::size_t held = 0;
  bool allows(std::size_t more) const { return held <= cap && more <= cap - held; }
};

// One owner's share of a budget (none: counted, never refused). What it still
// holds goes back to the budget with it.
class MemoryAccount {
 public:
  explicit MemoryAccount(MemoryBudget* budget = nullptr) : budget_(budget) {}
  ~MemoryAccount() { less(held_); }
  MemoryAccount(const MemoryAccount&) = delete;
  MemoryAccount& operator=(const MemoryAccount&) = delete;

  // Whether `n` more bytes fit the budget.
  bool allows(std::size_t n) const { return !budget_ || budget_->allows(n); }
  std::size_t held() const { return held_; }
  void more(std::size_t n) {
    held_ += n;
    if (budget_) budget_->held += n;
  }
  void less(std::size_t n) {
    held_ -= n;
    if (budget_) budget_->held -= n;
  }
  // A size measured before and after a change.
  void changed(std::size_t before, std::size_t after) { after >= before ? more(after - before) : less(before - after); }

 private:
  MemoryBudget* budget_;
  std::size_t held_ = 0;
};

}  // namespace tund::session
