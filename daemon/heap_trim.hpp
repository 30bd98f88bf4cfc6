// HeapTrimmer: every limits::kHeapTrimInterval, hands the heap's free pages
// back to the kernel (glibc's malloc_trim). A handover's resend buffers and
// a burst's packet vectors raise the heap's high-water mark; glibc keeps the
// freed pages mapped, so without this RSS only ever grows, and a slow leak
// would hide behind the peaks. One walk of a small heap a minute costs
// nothing on the packet path.
#pragma once

#include <malloc.h>

#include "daemon/clock.hpp"
#include "daemon/event_sources.hpp"
#include "tund/limits.hpp"

namespace tund::daemon {

class HeapTrimmer {
 public:
  explicit HeapTrimmer(asio::io_context& io) : timer_(io, [this] { trim(); }) { arm(); }

 private:
  void arm() { timer_.arm(now() + limits::kHeapTrimInterval); }
  void trim() {
    ::malloc_trim(0);
    arm();
  }
  DeadlineTimer timer_;
};

}  // namespace tund::daemon
