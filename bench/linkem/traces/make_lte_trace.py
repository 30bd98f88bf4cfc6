#!/usr/bin/env python3
"""Makes the lab's LTE capacity traces (mahimahi format: one line per 1500-byte
delivery opportunity, the millisecond it may leave; the file loops).

Not a recording: a seeded Markov chain over radio conditions, so the traces
are reproducible and their shape is stated here. Every 100 ms the chain stays
or moves between states (good, fair, poor, edge); each state has a mean
capacity and the 100 ms capacity varies around it (log-normal, sigma 0.5), as
drive tests show capacity swinging within a cell. Two dead zones (a tunnel, a
gap in coverage) of 2.0 s and 3.5 s give no opportunity at all. The uplink
follows the same conditions (one radio) at its own scale. Both series are
scaled so their means over the whole period are exactly the targets: 5.2
Mbit/s down and 0.8 up over 60 s, the averages of the issue's drive test.

  make_lte_trace.py [OUTDIR]   writes lte-down.trace and lte-up.trace
  make_lte_trace.py --seed N --name NAME [OUTDIR]
                               the same chain from another seed (another
                               drive on the same kind of cell), written as
                               NAME-down.trace and NAME-up.trace

The shipped files: lte-* from the defaults (seed 20261204), and lte-b-*, the
second link of bench/bond's "traces" pair, from
  make_lte_trace.py --seed 20261205 --name lte-b bench/linkem/traces
"""
import argparse
import math
import random
import sys

PERIOD_S = 60
STEP_MS = 100
STATES = {  # mean capacity relative to the overall mean, mean dwell (steps)
    "good": (1.8, 40),
    "fair": (1.0, 30),
    "poor": (0.4, 20),
    "edge": (0.1, 10),
}
NEXT = {"good": ["fair"], "fair": ["good", "poor"], "poor": ["fair", "edge"], "edge": ["poor"]}
DEAD_ZONES_S = [(17.0, 2.0), (41.5, 3.5)]  # start, length
TARGETS_BPS = {"down": 5.2e6, "up": 0.8e6}


def shape(rng):
    steps = PERIOD_S * 1000 // STEP_MS
    state, left, out = "fair", 0, []
    for i in range(steps):
        if left <= 0:
            state = rng.choice(NEXT[state]) if i else state
            left = max(1, int(rng.expovariate(1 / STATES[state][1])))
        left -= 1
        t = i * STEP_MS / 1000
        dead = any(start <= t < start + length for start, length in DEAD_ZONES_S)
        out.append(0.0 if dead else STATES[state][0] * math.exp(rng.gauss(0, 0.5) - 0.125))
    return out


def opportunities(relative, target_bps):
    scale = target_bps / (sum(relative) / len(relative))
    lines, credit = [], 0.0
    for i, r in enumerate(relative):
        per_ms = r * scale / (1500 * 8) / 1000
        for ms in range(i * STEP_MS + 1, (i + 1) * STEP_MS + 1):
            credit += per_ms
            while credit >= 1:
                lines.append(ms)
                credit -= 1
    period = PERIOD_S * 1000
    if not lines or lines[-1] != period:
        lines.append(period)  # the last line sets the period; one extra opportunity
    return lines


def main():
    parser = argparse.ArgumentParser(description="the lab's LTE capacity traces")
    parser.add_argument("outdir", nargs="?", default=".")
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--name", default="lte")
    args = parser.parse_args()
    relative = shape(random.Random(args.seed))
    uplink_noise = random.Random(7)
    for name, target in TARGETS_BPS.items():
        series = relative if name == "down" else [r * math.exp(uplink_noise.gauss(0, 0.3) - 0.045) for r in relative]
        lines = opportunities(series, target)
        with open(f"{args.outdir}/{args.name}-{name}.trace", "w") as f:
            f.write("\n".join(map(str, lines)) + "\n")
        print(f"{args.name}-{name}.trace: {len(lines)} opportunities, {len(lines) * 12000 / PERIOD_S / 1e6:.2f} Mbit/s")


if __name__ == "__main__":
    main()
