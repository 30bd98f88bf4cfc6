# A voice call beside a bulk TCP transfer on one crowded radio link (issue
# 29), shared by bench/crowded and tests/netns/crowded_test.sh: sourced after
# lab.sh, with LINKS naming the one profile under test (it goes on wlan0).
#   crowded_setup              takes lte0 out: the link under test is cli's only path
#   setup_direct, ready_direct no tunnel: the same flows routed across the link
#   crowded_run SYSTEM DIR RUN one run (DIR down: bulk srv -> cli, up: cli -> srv);
#                              appends a row to $RESULTS, sets CROWDED_MBIT,
#                              CROWDED_INTACT and CROWDED_REPORT (call_report's JSON)
#   crowded_table FILE TSV     the rows as one table per profile and direction,
#                              with issue 29's targets per tund row; TSV gets the rows
# The system's setup sets CLI_IP (where srv reaches the client). From the
# environment: BULK_S (how long the call runs, s), WARMUP_S (the bulk alone
# before it, so the call meets a full queue; at least 1), LTE_TRACE_START (where a traced
# profile starts, s; default 0).
CALL_REPORT="$PY $ROOT/bench/call_report.py"
CROWDED_PORT=6400  # the bulk's port; each run takes the next one

# crowded_setup: after lab_up, before the system's setup.
crowded_setup() { lab_uplink_out lte; }

# Direct routing, no VPN: the router reaches srv's subnet through the hub
# host (as bench/throughput does); srv reaches cli's wlan0 address by its
# default route through the hub and the router.
setup_direct() { nsx inet ip route add 10.4.0.0/24 via 10.3.0.2; CLI_IP=10.1.0.2; }
ready_direct() { nsx cli ping -c 1 -W 1 10.4.0.2 >/dev/null; }

crowded_profile() { lab_link_profiles | cut -d' ' -f1; }
# A call frame is late beyond 150 ms one way (ITU-T G.114); on a link whose
# own propagation delay is beyond that (geo: 300 ms) every frame would be,
# so there it is late beyond that delay plus 150 ms: what the queue adds.
crowded_late_ms() {
  local base
  base=$(sed -n 's/.*[[:space:]]delay=\([0-9]*\)ms.*/\1/p' "$LINKEM_PROFILES/$(crowded_profile).profile" | head -n1)
  if [ "${base:-0}" -ge 150 ]; then echo $((base + 150)); else echo 150; fi
}

# The link restarts for every run: a traced profile (lte) from the same
# second of its trace, so every system sees the same capacity.
crowded_restart_link() { lab_link_restart wlan "$(crowded_profile)" "${LTE_TRACE_START:-0}"; }

# A system named NAME_alone (tund_alone, direct_alone) runs the call with no
# bulk beside it: the link's floor, what its capacity alone does to the call
# through that system's framing (on the LTE uplink's dips, a call's 50
# frames a second do not fit even alone).
setup_direct_alone() { setup_direct; }
ready_direct_alone() { ready_direct; }

crowded_run() {
  local sys=$1 dir=$2 run=$3 tag="${1}_${2}_$3" port=$CROWDED_PORT alone=
  CROWDED_PORT=$((CROWDED_PORT + 1))
  case $sys in *_alone) alone=1 ;; esac
  local sink_ns=cli sender_ns=srv dest=$CLI_IP
  [ "$dir" = up ] && sink_ns=srv sender_ns=cli dest=10.4.0.2
  # What the last run left in the emulator's queues drains before the next.
  lab_link_drained wlan || echo "   (the link still held $(lab_link_queued wlan) bytes)"
  [ -z "$alone" ] && lab_start "$sink_ns" "sink_$tag" $NETPEER sink "$port" "$LAB_DIR/timeline_$tag" --cut-on-term &&
    wait_for 5 grep -q ready "$LAB_DIR/sink_$tag.log"
  crowded_restart_link
  # Unpaced and endless, under BULK_CC (default cubic: Linux's default,
  # Android's and most servers'): a loss-based sender fills whatever queue the
  # link has, where BBR (this host's default) keeps about a round trip of data
  # in it. The sink cuts the transfer once the call is over; timeout is only
  # a backstop.
  local call_at=$(( $(date +%s%N) + WARMUP_S * 1000000000 ))
  [ -z "$alone" ] && lab_start "$sender_ns" "bulk_$tag" timeout $((WARMUP_S + BULK_S + 20)) \
    $NETPEER send "$dest" "$port" 100000000000 --cc "${BULK_CC:-cubic}"
  # Both ends of the call start their schedule at one instant, their sockets
  # bound by then: no frame meets a port nobody listens on yet.
  lab_call_start "$tag" "$CLI_IP" "$BULK_S" "$call_at"
  lab_call_wait "$tag" $((BULK_S + 15))
  local peak; peak=$(lab_link_stats | awk -v d="$dir" '$1 == "wlan" && $2 == d { for (i = 3; i <= NF; i++) if ($i ~ /^queue_peak=/) print substr($i, 12) }')
  local sink_pid bulk_pid
  if [ -z "$alone" ]; then
    sink_pid=$(eval echo "\$PID_sink_$tag"); bulk_pid=$(eval echo "\$PID_bulk_$tag")
    kill -TERM "$sink_pid" 2>/dev/null; wait "$sink_pid" 2>/dev/null
    kill "$bulk_pid" 2>/dev/null; wait "$bulk_pid" 2>/dev/null
  fi
  # Goodput over the call's own window (it started WARMUP_S after the bulk):
  # the sink's 10 ms bins, placed on the wall clock by its first byte.
  local got= bytes= first_ms call_ms mbit intact=no
  [ -z "$alone" ] && got=$(tail -n1 "$LAB_DIR/sink_$tag.log" | grep -v ready) && bytes=$(echo "$got" | cut -d' ' -f2)
  first_ms=$(cat "$LAB_DIR/timeline_$tag.start" 2>/dev/null || echo 0)
  call_ms=$(( $(head -n1 "$LAB_DIR/call_cli_$tag.log" | cut -d' ' -f2) / 1000000 ))
  mbit=$(awk -v f="$first_ms" -v c="$call_ms" -v s="$BULK_S" '{ t = f + $1 } t >= c && t < c + s * 1000 { b += $2 }
    END { printf "%.2f", b * 8 / s / 1e6 }' "$LAB_DIR/timeline_$tag" 2>/dev/null || echo 0)
  [ -n "$bytes" ] && [ "$(echo "$got" | cut -d' ' -f1)" = "$($NETPEER prefix "$bytes")" ] && intact=yes
  [ -n "$alone" ] && intact=- mbit=0.00
  local late_ms report; late_ms=$(crowded_late_ms)
  report=$($CALL_REPORT "$LAB_DIR/call_cli_$tag.log" "$LAB_DIR/call_srv_$tag.log" --json --late-ms "$late_ms")
  echo "== $(crowded_profile) $sys bulk $dir run $run: ${mbit} Mbit/s over the call's ${BULK_S} s (${bytes:-0} bytes in all, intact $intact), queue peak ${peak:-?} bytes"
  $CALL_REPORT "$LAB_DIR/call_cli_$tag.log" "$LAB_DIR/call_srv_$tag.log" --late-ms "$late_ms" | sed "s/^/   (late: > $late_ms ms) /"
  lab_link_stats | grep -v '^lte' | sed 's/^/   linkem: /'
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(crowded_profile)" "$dir" "$sys" "$run" "$mbit" "$intact" "${peak:-}" "$report" >> "$RESULTS"
  CROWDED_MBIT=$mbit CROWDED_INTACT=$intact CROWDED_REPORT=$report
}

crowded_table() {
  $PY - "$1" "$2" <<'PY'
import json, sys
from collections import OrderedDict
names = {"direct": "direct (no tunnel)", "tund": "tund", "wg": "wireguard-go (Debian)",
         "wgm": "wireguard-go 0.0.20250522", "tund_alone": "tund, call alone: floor",
         "direct_alone": "direct, call alone: floor"}
# Issue 29's targets, in the bulk's direction: the call's frames late (over
# 150 ms) or lost at most 1% of those sent, its p99 one-way delay at most
# 100 ms, and the bulk keeps at least 90% of the direct goodput. Where the
# link's own delay moved the late line (geo), the p99 bound moves with it.
MAX_BAD, LATE_MS, MAX_P99_MS, MIN_GOODPUT = 0.01, 150, 100, 0.90
groups = OrderedDict()
for line in open(sys.argv[1]):
    if line.strip():
        profile, direction, system, run, mbit, intact, peak, report = line.rstrip("\n").split("\t")
        groups.setdefault((profile, direction), []).append(
            dict(system=system, run=run, mbit=float(mbit), intact=intact, report=json.loads(report)))
other = {"down": "up", "up": "down"}
flows = {"down": "srv -> cli", "up": "cli -> srv"}
header = ["profile", "bulk", "system", "run", "late_ms", "goodput_mbit", "goodput_vs_direct", "intact",
          "bulk_dir_late_or_lost", "bulk_dir_sent", "bulk_dir_lost", "bulk_dir_p50_ms", "bulk_dir_p99_ms",
          "other_late_or_lost", "other_sent", "other_lost", "other_p50_ms", "other_p99_ms", "target"]
tsv = ["\t".join(header)]


def call_cells(r):
    sent = sum(r["frames"].values())
    share = 100.0 * r["whole"] / sent if sent else 0.0
    return ("%d of %d (%.1f%%)" % (r["whole"], sent, share), "%d" % r["lost"],
            "%s / %s" % (r["p50_ms"], r["p99_ms"])), (r["whole"], sent, r["lost"], r["p50_ms"], r["p99_ms"])


def verdict(r, ratio, late_ms):
    sent = sum(r["frames"].values())
    max_p99 = MAX_P99_MS + late_ms - LATE_MS
    misses = []
    if not sent or r["whole"] > MAX_BAD * sent:
        misses.append("late or lost > 1%")
    if r["p99_ms"] is None or r["p99_ms"] > max_p99:
        misses.append("p99 > %g ms" % max_p99)
    if ratio is None:
        misses.append("no direct run")
    elif ratio < MIN_GOODPUT:
        misses.append("goodput < 90%")
    return "PASS" if not misses else "MISS (" + ", ".join(misses) + ")"


for (profile, direction), rows in groups.items():
    direct = [x["mbit"] for x in rows if x["system"] == "direct"]
    direct_mbit = sum(direct) / len(direct) if direct else None
    back = other[direction]
    late_ms = rows[0]["report"]["late_ms"]
    # The call alone through tund: what no scheduling inside tund can beat.
    floors = [x["report"][direction]["whole"] for x in rows if x["system"] == "tund_alone"]
    floor = min(floors) if floors else None
    print()
    print("== %s, bulk %s (%s) for the call's length, the call 50 frames a second each way; late: > %g ms%s" %
          (profile, direction, flows[direction], late_ms,
           " (the link's own delay + %d)" % LATE_MS if late_ms != LATE_MS else ""))
    fmt = "%-30s | %11s | %8s | %-22s | %4s | %-15s | %-22s | %4s | %-15s | %s"
    print(fmt % ("system, run", "bulk Mbit/s", "/ direct", "call %s: late|lost" % direction, "lost",
                 "p50 / p99 ms", "call %s: late|lost" % back, "lost", "p50 / p99 ms", "target (tund)"))
    print("-" * 164)
    for x in rows:
        ratio = x["mbit"] / direct_mbit if direct_mbit else None
        same, same_v = call_cells(x["report"][direction])
        rev, rev_v = call_cells(x["report"][back])
        target = verdict(x["report"][direction], ratio, x["report"]["late_ms"]) if x["system"] == "tund" else ""
        if target and floor is not None:
            target += "; floor %d" % floor
        alone = x["system"].endswith("_alone")
        mbit = "-" if alone else "%.2f" % x["mbit"] + ("" if x["intact"] == "yes" else " !")
        if alone:
            ratio = None
        print(fmt % ("%s, %s" % (names.get(x["system"], x["system"]), x["run"]), mbit,
                     "%.2f" % ratio if ratio is not None else "-", *same, *rev, target))
        tsv.append("\t".join(str(v) for v in (profile, direction, x["system"], x["run"], late_ms, x["mbit"],
                                              "%.3f" % ratio if ratio is not None else "", x["intact"],
                                              *same_v, *rev_v, target)))
print()
print("late|lost: the call's frames later than the line above one way or lost, of those sent; p50 / p99: one-way")
print("delay of those that arrived; bulk: unpaced TCP, goodput over the call's window ('!': the bytes")
print("received were not the stream sent); targets (issue 29), in the bulk's direction: late|lost <= 1%,")
print("p99 <= 100 ms (on geo: the link's own delay + 100), goodput >= 90% of direct; floor: the late|lost")
print("of the call alone through tund (no bulk), where that row ran")
with open(sys.argv[2], "w") as f:
    f.write("\n".join(tsv) + "\n")
PY
}
