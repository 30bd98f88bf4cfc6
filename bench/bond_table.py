#!/usr/bin/python3
"""bench/bond's table: per link pair and direction, every workload and system
side by side, and issue 30's targets on the tund-bond rows.

  bond_table.py RUNS_TSV OUT_TSV

RUNS_TSV holds bench/bond's raw rows (tests/netns/bond.sh, bond_run): pair,
direction, workload, system, goodput Mbit/s (NA: not available), UDP loss %,
wlan0's share of the bytes %, the call's report (call_report.py --json),
a note (the reason where NA). Each system is held to direct-a and direct-b
of the same pair, direction and workload: their sum (what bonding could
reach) and the better of them (what one uplink gives). OUT_TSV gets one row a
measurement with those ratios and the verdict.
"""
import json
import sys
from collections import OrderedDict

SYSTEMS = ["direct-a", "direct-b", "mptcp", "tund-a", "tund-b", "tund-failover", "tund-bond"]
WORKLOADS = {"tcp1": "1 TCP flow", "tcp8": "8 TCP flows", "udp": "UDP stream"}
FLOWS = {"down": "srv -> cli", "up": "cli -> srv"}
# Issue 30's targets for bonding: 8 flows at least 85% of the sum on alike
# links and never below the best single link on unlike ones; one flow at
# least 95% of the best single link on every pair and 75% of the sum on
# alike links; a call beside them no more than 20 ms above failover's p99.
TCP8_ALIKE_SUM, TCP8_UNLIKE_BEST = 0.85, 1.0
TCP1_BEST, TCP1_ALIKE_SUM = 0.95, 0.75
CALL_P99_OVER_FAILOVER_MS = 20
LEGEND = """\
/ sum: the goodput over direct-a + direct-b's (the links' direct goodputs added); / best: over the better
of them (UDP is offered at 90% of the pair's nominal capacity, so its / sum stays under about 0.9);
wlan%: wlan0's share of the bytes the emulator carried in the workload's direction; targets
(issue 30, tund-bond rows): 8 flows >= 85% of the sum on alike links and >= the best link on unlike ones;
1 flow >= 95% of the best link on every pair and >= 75% of the sum on alike links; the call's p99 (the
workload's direction) <= tund-failover's + 20 ms; where tund-a and tund-b ran, a tund-bond row also says its
ratio to the better of them (the tunnel alone on one link)"""


def read(path):
    rows = []
    for line in open(path):
        if not line.strip():
            continue
        pair, direction, work, system, mbit, loss, share, report, note = (line.rstrip("\n").split("\t") + [""] * 9)[:9]
        rows.append(dict(pair=pair, dir=direction, work=work, system=system,
                         mbit=None if mbit == "NA" else float(mbit), loss=loss, share=share,
                         report=json.loads(report) if report else None, note=note))
    return rows


def p99(row, direction):
    r = row["report"]
    return r[direction]["p99_ms"] if r and r.get(direction) else None


def verdict(row, pair, ref_sum, best, failover_p99):
    """PASS or MISS (what missed) for a tund-bond row; '' where no target applies."""
    misses, checked = [], False
    frac = row["mbit"] / ref_sum if ref_sum else None
    ratio = row["mbit"] / best if best else None
    if row["work"] == "tcp8":
        if pair == "alike":
            checked = True
            if frac is None or frac < TCP8_ALIKE_SUM:
                misses.append("< %.0f%% of the sum" % (100 * TCP8_ALIKE_SUM))
        if pair == "unlike":
            checked = True
            if ratio is None or ratio < TCP8_UNLIKE_BEST:
                misses.append("< the best link")
    if row["work"] == "tcp1":
        checked = True
        if ratio is None or ratio < TCP1_BEST:
            misses.append("< %.0f%% of the best link" % (100 * TCP1_BEST))
        if pair == "alike" and (frac is None or frac < TCP1_ALIKE_SUM):
            misses.append("< %.0f%% of the sum" % (100 * TCP1_ALIKE_SUM))
    if row["work"] in ("tcp1", "tcp8"):
        checked = True
        mine = p99(row, row["dir"])
        if mine is None or failover_p99 is None or mine > failover_p99 + CALL_P99_OVER_FAILOVER_MS:
            misses.append("call p99 > failover's + %d ms" % CALL_P99_OVER_FAILOVER_MS)
    if not checked:
        return ""
    return "PASS" if not misses else "MISS (" + ", ".join(misses) + ")"


def fmt(v, pattern, absent="-"):
    return pattern % v if v is not None else absent


def main():
    rows = read(sys.argv[1])
    groups = OrderedDict()
    for r in rows:
        groups.setdefault((r["pair"], r["dir"]), []).append(r)
    header = ["pair", "direction", "workload", "system", "goodput_mbit", "of_sum", "of_best", "udp_loss_pct",
              "call_p99_ms", "call_p99_other_ms", "wlan_share_pct", "target", "note"]
    tsv = ["\t".join(header)]
    other = {"down": "up", "up": "down"}
    line = "%-11s | %-13s | %7s | %6s | %6s | %6s | %12s | %5s | %s"
    for (pair, direction), group in groups.items():
        print()
        print("== %s links, %s (%s): goodput over the measured seconds; the call's p99 one-way delay (ms), "
              "its direction as the workload's / the other" % (pair, direction, FLOWS[direction]))
        print(line % ("workload", "system", "Mbit/s", "/ sum", "/ best", "loss %", "call p99 ms", "wlan%", "target (tund-bond) / note"))
        print("-" * 130)
        for work in WORKLOADS:
            by_system = {r["system"]: r for r in group if r["work"] == work}
            if not by_system:
                continue
            a, b = by_system.get("direct-a"), by_system.get("direct-b")
            directs = [x["mbit"] for x in (a, b) if x and x["mbit"] is not None]
            ref_sum = sum(directs) if len(directs) == 2 else None
            best = max(directs) if directs else None
            alone = [x["mbit"] for x in (by_system.get("tund-a"), by_system.get("tund-b")) if x and x["mbit"] is not None]
            tund_best = max(alone) if len(alone) == 2 else None
            failover = by_system.get("tund-failover")
            failover_p99 = p99(failover, direction) if failover and failover["mbit"] is not None else None
            order = [s for s in SYSTEMS if s in by_system] + [s for s in by_system if s not in SYSTEMS]
            for system in order:
                r = by_system[system]
                if r["mbit"] is None:
                    print(line % (WORKLOADS[work], system, "-", "-", "-", "-", "-", "-", "not available: " + r["note"]))
                    tsv.append("\t".join([pair, direction, work, system, "", "", "", "", "", "", "", "", r["note"]]))
                    continue
                frac = r["mbit"] / ref_sum if ref_sum else None
                ratio = r["mbit"] / best if best else None
                same, back = p99(r, direction), p99(r, other[direction])
                target = verdict(r, pair, ref_sum, best, failover_p99) if system == "tund-bond" else ""
                call = "%s / %s" % (fmt(same, "%d"), fmt(back, "%d")) if r["report"] else "-"
                of_tund = "%.2f of tund's better link" % (r["mbit"] / tund_best) if system == "tund-bond" and tund_best else ""
                tail = "; ".join(x for x in (target, of_tund, r["note"]) if x)
                print(line % (WORKLOADS[work], system, "%.2f" % r["mbit"], fmt(frac, "%.2f"), fmt(ratio, "%.2f"),
                              r["loss"] and "%.1f" % float(r["loss"]) or "-", call, r["share"] or "-", tail))
                tsv.append("\t".join(str(v) for v in (
                    pair, direction, work, system, "%.2f" % r["mbit"], fmt(frac, "%.3f", ""), fmt(ratio, "%.3f", ""),
                    r["loss"], fmt(same, "%s", ""), fmt(back, "%s", ""), r["share"], target, r["note"])))
    print()
    print(LEGEND)
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(tsv) + "\n")


if __name__ == "__main__":
    main()
