// ResendBuffer driven by a fuzzed sequence of operations (remember, ack with
// a fuzzed bitmap, schedule, next_resend, expire, time steps). Invariants:
// bytes and packets within the limits, an ack beyond what was sent refused,
// a resend only of something remembered and unacknowledged, each packet
// resent at most once per scheduling, and the memory it holds counted to the
// byte in a shared budget it never exceeds (idle pauses give it back).
#include <map>
#include <set>

#include "fuzz.hpp"
#include "session/resend_buffer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tund;
  session::ResendLimits lim{6000, 12, std::chrono::milliseconds(50)};
  session::MemoryBudget shared{20000};
  session::ResendBuffer b(lim, &shared);
  Time now = Time{} + std::chrono::hours(1);
  std::uint64_t next_seq = 1;
  std::map<std::uint64_t, std::size_t> sent;  // seq -> size
  std::set<std::uint64_t> acked;
  std::set<std::uint64_t> resent_since_schedule;
  std::vector<std::uint8_t> pkt(2000), out(2000);
  std::size_t i = 0;
  auto byte = [&]() -> std::uint8_t { return i < size ? data[i++] : 0; };
  while (i < size) {
    switch (byte() % 7) {
      case 0: {  // remember
        const std::size_t n = 1 + byte() * 7 % 1500;
        for (std::size_t k = 0; k < n; ++k) pkt[k] = static_cast<std::uint8_t>(next_seq + k);
        b.remember(next_seq, Bytes(pkt.data(), n), now);
        sent[next_seq++] = n;
        break;
      }
      case 1: {  // ack
        session::Ack a;
        a.highest = byte() % (next_seq + 3);
        for (auto& m : a.bitmap) m = byte();
        const bool ok = b.on_ack(a, next_seq);
        fuzz::check(ok == (a.highest < next_seq), "ack beyond what was sent refused, others taken");
        break;
      }
      case 2:
        b.schedule_resend(next_seq - byte() % 3, now);
        resent_since_schedule.clear();
        break;
      case 3: {
        std::uint64_t seq = 0;
        if (const auto n = b.next_resend(out, seq)) {
          fuzz::check(sent.count(seq) && sent[seq] == *n, "resends only what was remembered, at its size");
          fuzz::check(out[0] == static_cast<std::uint8_t>(seq), "resends the right bytes");
          fuzz::check(resent_since_schedule.insert(seq).second, "once per scheduling");
        }
        break;
      }
      case 4: b.expire(now); break;
      case 5: now += std::chrono::milliseconds(byte() % 40); break;
      case 6:  // a pause: the buffer goes idle
        now += limits::kResendIdleAfter;
        b.expire(now);
        fuzz::check(b.packets() > 0 || b.memory() <= session::ResendBuffer::idle_memory(), "idle: back to the floor");
        break;
    }
    fuzz::check(b.bytes() <= lim.max_bytes && b.packets() <= lim.max_packets, "bounded");
    fuzz::check(shared.held == b.memory() && shared.held <= shared.cap, "memory counted, within the budget");
  }
  return 0;
}
