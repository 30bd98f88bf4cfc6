#!/usr/bin/env python3
"""What any end-to-end sender could do on a capacity trace: the trade between
a bulk transfer's goodput and a call's late frames (issue 29's targets),
computed, not measured.

The link is modelled as bench/linkem models it (a droptail queue in bytes
served by the trace's 1500-byte delivery opportunities, unused bytes lost,
then the propagation delay), at 1 ms steps. A voice call's frames and a bulk
sender's packets share its queue. The bulk sender is better than any real
one: at each millisecond it knows the link's queue and capacity exactly as
they were `feedback` ms ago (the delay after the bottleneck, the way back
and the acknowledgement's own wait), and everything it sent since. It then
sends while the queue it predicts for now (the queue it knew, plus what it
sent since, less what the link could carry at its capacity over the `window`
ms before, carried on at that pace: even capacity an idle link left unused)
stays under `target` ms at that pace. No real sender knows the link's queue
or an idle link's unused capacity. A smarter rule might do somewhat better,
but the trace's capacity is drawn afresh every 100 ms
(linkem/traces/make_lte_trace.py): its past says little of what comes
next. Sweeping the target
traces the frontier: for each target, the goodput and the call's late
frames. The profile's 3 ms of jitter is left out.

A negative target sends no bulk at all (the call alone: the link's own floor).
--carried gives the sender only what the link carried (what acknowledgements
can say): after a rise it learns of the new capacity only as it fills it.

  frontier.py [--trace linkem/traces/lte-down.trace] [--start 19]
              [--warmup 2] [--seconds 20] [--feedback 40,60] [--window 20,100]
              [--targets 0,5,10,20,40,80,160] [--direct-mbit 3.63] [--carried]

Defaults are bench/crowded's LTE scenario (LTE_TRACE_START=19, WARMUP_S=2,
BULK_S=20; the lte profile's 20 ms each way and 250 kB queue; tund's
framing: a call frame is 296 bytes on the wire, a full packet carries 1368
bytes of TCP payload in 1502 on the wire; direct's goodput as bench/crowded
measured it on 2026-12-05).
"""
import argparse
import collections
import os

HERE = os.path.dirname(os.path.abspath(__file__))

OPPORTUNITY = 1500
DELAY_MS = 20
QUEUE_BYTES = 250_000
CALL_WIRE, CALL_EVERY_MS = 296, 20
BULK_WIRE, BULK_PAYLOAD = 1502, 1368
LATE_MS = 150
# bench/crowded's LTE scenario: the trace, LTE_TRACE_START, WARMUP_S, BULK_S,
# and direct's goodput there (Mbit/s, 2026-12-05).
LTE_TRACE = os.path.join(HERE, "linkem/traces/lte-down.trace")
LTE_START_S, LTE_WARMUP_S, LTE_SECONDS = 19, 2, 20
LTE_DIRECT_MBIT = 3.63
# With --carried, the least pace (bytes per ms, 0.6 Mbit/s) the sender assumes:
# one that learns only from what the link carried would otherwise starve
# itself after a dead spell (a real pacer has a floor and a search too).
CARRIED_FLOOR = OPPORTUNITY / 20


def load_trace(path):
    ms = [int(line) for line in open(path) if line.strip()]
    period = ms[-1]
    per_ms = [0] * period
    for m in ms:
        per_ms[(m - 1) % period] += OPPORTUNITY  # opportunity at ms m serves [m-1, m)
    return per_ms


def simulate(capacity, start_s, warmup_s, seconds, feedback, window, target_ms, carried_only=False):
    start, call_from = start_s * 1000, (start_s + warmup_s) * 1000
    end = call_from + seconds * 1000
    queue = collections.deque()  # [bytes left, kind, entered, size]
    queued = 0
    history = []  # per ms: (queue bytes at its end, the link's capacity (or what it carried) in it, bytes sent in it)
    late = frames = 0
    delays = []
    bulk_bytes = 0
    for t in range(start, end):
        i = t - start
        # The sender decides from what it could know: the state `feedback` ms ago.
        if i >= feedback:
            known_queue = history[i - feedback][0]
            seen = history[max(0, i - feedback - window):i - feedback]
            pace = sum(h[1] for h in seen) / max(1, len(seen))  # bytes per ms the link could carry (or carried) then
            if carried_only:
                pace = max(pace, CARRIED_FLOOR)
            sent_since = sum(h[2] for h in history[i - feedback:i])
        else:
            known_queue, pace, sent_since = 0, OPPORTUNITY, 0
        predicted = max(0.0, known_queue + sent_since - pace * feedback)
        allowance = pace * target_ms
        sent = 0
        if t >= call_from and (t - call_from) % CALL_EVERY_MS == 0:
            frames += 1
            if queued + CALL_WIRE <= QUEUE_BYTES:
                queue.append([CALL_WIRE, "call", t, CALL_WIRE])
                queued += CALL_WIRE
                sent += CALL_WIRE
            else:
                late += 1  # dropped at the tail
        while target_ms >= 0 and predicted + sent + BULK_WIRE <= max(allowance, BULK_WIRE) and queued + BULK_WIRE <= QUEUE_BYTES:
            queue.append([BULK_WIRE, "bulk", t, BULK_WIRE])
            queued += BULK_WIRE
            sent += BULK_WIRE
        # The link carries this millisecond's opportunities, FIFO, byte by byte.
        available = capacity[t % len(capacity)]
        budget = available
        carried = 0
        while queue and budget > 0:
            head = queue[0]
            use = min(head[0], budget)
            head[0] -= use
            budget -= use
            carried += use
            if head[0] == 0:
                queue.popleft()
                queued -= head[3]
                if head[1] == "call":
                    delays.append(t + 1 + DELAY_MS - head[2])
                    late += delays[-1] > LATE_MS
                elif t >= call_from:
                    bulk_bytes += BULK_PAYLOAD
        history.append((queued, carried if carried_only else available, sent))
    delays.sort()
    p99 = delays[int(0.99 * (len(delays) - 1))] if delays else 0
    return bulk_bytes * 8 / seconds / 1e6, late, frames, p99


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace", default=LTE_TRACE)
    parser.add_argument("--start", type=int, default=LTE_START_S)
    parser.add_argument("--warmup", type=int, default=LTE_WARMUP_S)
    parser.add_argument("--seconds", type=int, default=LTE_SECONDS)
    parser.add_argument("--feedback", default="40,60")
    parser.add_argument("--window", default="20,100")
    parser.add_argument("--targets", default="0,5,10,20,40,80,160")
    parser.add_argument("--direct-mbit", type=float, default=LTE_DIRECT_MBIT)
    parser.add_argument("--carried", action="store_true",
                        help="the sender knows only what the link carried (what acknowledgements can say), not its capacity")
    args = parser.parse_args()
    capacity = load_trace(args.trace)
    link = sum(capacity[t % len(capacity)] for t in range((args.start + args.warmup) * 1000,
                                                          (args.start + args.warmup + args.seconds) * 1000))
    print(f"trace {args.trace} from {args.start} s; call over {args.seconds} s after {args.warmup} s of bulk;"
          f" the link carries {link * 8 / args.seconds / 1e6:.2f} Mbit/s on the wire, at most"
          f" {link * 8 / args.seconds / 1e6 * BULK_PAYLOAD / BULK_WIRE:.2f} of goodput in tund's framing")
    print("feedback ms | window ms | target ms | bulk goodput Mbit/s (/ direct) | call late or lost | p99 ms")
    for feedback in map(int, args.feedback.split(",")):
        for window in map(int, args.window.split(",")):
            for target in map(int, args.targets.split(",")):
                mbit, late, frames, p99 = simulate(capacity, args.start, args.warmup, args.seconds, feedback, window,
                                                    target, args.carried)
                print(f"{feedback:11d} | {window:9d} | {target:9d} | {mbit:6.2f} ({mbit / args.direct_mbit:4.2f})"
                      f"{'':17s}| {late:4d} of {frames:<7d}| {p99}")


if __name__ == "__main__":
    main()
