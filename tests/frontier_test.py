#!/usr/bin/env python3
"""bench/frontier.py's model of the LTE link against what bench/crowded
measured on it (2026-12-05/06: a call alone 0 frames late, p99 45-47 ms; a
bulk transfer that fills the 250 kB buffer, direct: 890-947 late of 1000,
p99 1.7-2.0 s), and the claim docs/queueing.md makes from it: on this trace
window no sender that learns of the link 40 ms late or later keeps the call
within 10 late frames of 1000 while the bulk keeps 90% of direct's goodput."""
import importlib.util
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("frontier", os.path.join(root, "bench", "frontier.py"))
frontier = importlib.util.module_from_spec(spec)
spec.loader.exec_module(frontier)

capacity = frontier.load_trace(frontier.LTE_TRACE)
DIRECT = frontier.LTE_DIRECT_MBIT
failures = []


def run(feedback, target):
    return frontier.simulate(capacity, frontier.LTE_START_S, frontier.LTE_WARMUP_S, frontier.LTE_SECONDS, feedback,
                             20, target)


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


mbit, late, frames, p99 = run(40, -1)
check(frames == 1000 and late == 0 and 40 <= p99 <= 50, f"the call alone: {late} late of {frames}, p99 {p99} ms")
mbit, late, frames, p99 = run(40, 2000)
check(late >= 850 and p99 >= 1400 and mbit / DIRECT >= 0.9, f"a full buffer: {late} late, p99 {p99} ms, {mbit:.2f} Mbit/s")
for feedback in (40, 60):
    previous = 0.0
    for target in (0, 5, 10, 20, 40, 80):
        mbit, late, frames, p99 = run(feedback, target)
        check(mbit >= previous, f"feedback {feedback} ms, target {target} ms: {mbit:.2f} Mbit/s, no less than a shorter target's")
        previous = mbit
        check(not (late <= 10 and mbit >= 0.9 * DIRECT),
              f"feedback {feedback} ms, target {target} ms: {mbit / DIRECT:.2f} of direct with {late} late, not both targets")
sys.exit(1 if failures else 0)
