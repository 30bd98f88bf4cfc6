#!/usr/bin/python3
"""What a voice call went through: per phase of a scenario and direction, the
frames that were lost or arrived later than 150 ms one way (ITU-T G.114's
mouth-to-ear budget: a later frame is as good as lost), and the one-way delay
percentiles of the frames that arrived.

  call_report.py CLI_LOG SRV_LOG PHASE=START_NS... [--json] [--late-ms MS]

CLI_LOG and SRV_LOG are the two ends' `netpeer.py call` logs: the client's
holds what came down (and its own send schedule, for the frames that went
up), the server's the reverse. Each PHASE starts at START_NS (wall clock, ns)
and ends where the next begins or the call ends; a frame belongs to the phase
in which it was sent. Prints one line per direction and a JSON object with
--json. --late-ms moves the 150 ms line: on a link whose own propagation
delay is beyond it (a GEO satellite's 300 ms) every frame would count, and
what the tunnel adds is what is left to judge.
"""
import json
import sys

LATE_MS = 150


def read(log):
    with open(log) as f:
        head = f.readline().split()
        meta = dict(zip(head[0::2], map(int, head[1::2])))
        first = {}
        for line in f:
            seq, sent, got = map(int, line.split())
            first.setdefault(seq, (sent, got))  # a duplicate is not a second frame
    return meta, first


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]


def direction(sender_meta, received, phases, late_ns):
    start, interval, sent = sender_meta["start"], sender_meta["interval_ns"], sender_meta["sent"]
    bad = {name: 0 for name, _ in phases}
    frames = {name: 0 for name, _ in phases}
    delays = []
    for seq in range(sent):
        at = start + seq * interval
        phase = None
        for name, begin in phases:
            if at >= begin:
                phase = name
        if phase is None:
            continue
        frames[phase] += 1
        got = received.get(seq)
        if got is None:
            bad[phase] += 1
            continue
        delay = got[1] - got[0]
        delays.append(delay)
        if delay > late_ns:
            bad[phase] += 1
    return {
        "bad": bad,
        "frames": frames,
        "whole": sum(bad.values()),
        "lost": sum(1 for seq in range(sent) if seq not in received),
        "p50_ms": round(percentile(delays, 50) / 1e6, 1) if delays else None,
        "p99_ms": round(percentile(delays, 99) / 1e6, 1) if delays else None,
    }


def main(argv):
    as_json = "--json" in argv
    argv = [a for a in argv if a != "--json"]
    late_ms = LATE_MS
    if "--late-ms" in argv:
        i = argv.index("--late-ms")
        late_ms = float(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    cli_meta, down_received = read(argv[1])
    srv_meta, up_received = read(argv[2])
    phases = []
    for spec in argv[3:]:
        name, _, begin = spec.partition("=")
        phases.append((name, int(begin)))
    if not phases:
        phases = [("call", min(cli_meta["start"], srv_meta["start"]))]
    late_ns = int(late_ms * 1e6)
    result = {"up": direction(cli_meta, up_received, phases, late_ns),
              "down": direction(srv_meta, down_received, phases, late_ns), "late_ms": late_ms}
    if as_json:
        print(json.dumps(result))
        return
    for d in ("up", "down"):
        r = result[d]
        per = ", ".join("%s %d/%d" % (n, r["bad"][n], r["frames"][n]) for n, _ in phases)
        print("%-4s late or lost: %s; whole %d (lost %d); one-way p50 %s ms, p99 %s ms" %
              (d, per, r["whole"], r["lost"], r["p50_ms"], r["p99_ms"]))


if __name__ == "__main__":
    main(sys.argv)
