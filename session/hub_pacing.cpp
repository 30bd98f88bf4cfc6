// The hub's side of pacing (paced_sender.hpp, issue 29): which sessions
// have data their pacer holds back, and releasing it a session at a time in
// turn, so one busy client's backlog never delays another's.
#include "session/hub.hpp"

namespace tund::session {

void Hub::mark_pacing(HubSession& s) {
  if (s.in_pacing_list_) return;
  s.in_pacing_list_ = true;
  pacing_.push_back(s.client_);
}

std::optional<std::size_t> Hub::release_paced(MutableBytes inner_out, Time now, ClientId& who) {
  for (std::size_t tried = 0; tried < pacing_.size();) {
    if (pacing_next_ >= pacing_.size()) pacing_next_ = 0;
    const ClientId id = pacing_[pacing_next_];
    HubSession* s = clients_[id].session.get();
    if (!s || (!s->pacer_.waiting() && !s->stream_.has_resend() && !s->channel_.has_staged())) {
      if (s) s->in_pacing_list_ = false;
      pacing_[pacing_next_] = pacing_.back();
      pacing_.pop_back();
      continue;
    }
    ++pacing_next_;
    ++tried;
    // Resends and staged data go first, through poll_transmit (on_timer).
    if (!s->pacer_.waiting() || !s->channel_.can_send(now) || s->stream_.has_resend()) continue;
    if (const auto n = s->pacer_.release(inner_out, now)) {
      --pacing_next_;  // this session again next, until its pacer says wait
      who = id;
      return n;
    }
  }
  return std::nullopt;
}

}  // namespace tund::session
