#!/usr/bin/env bash
# Issue 29's scenario, CI-sized (the measured runs, beside wireguard-go, on
# three profiles and both directions, are bench/crowded): cli's only uplink
# is wlan0 on the LTE trace (from 0 s), and a voice call runs for 10 s beside
# an unpaced bulk download that fills the link's 250 kB queue; first with no
# tunnel (direct), then through tund in the same lab.
# With the hub pacing the client's path (session/paced_sender.hpp) the queue
# is tund's, served per flow, not the link's 250 kB (about 2 s with no
# tunnel): the call's p99 one-way delay down must stay under 400 ms (it was
# 94-290 ms in 2026-12-05's runs, against 1.96 s direct) and its frames
# nearly all arrive; the bounds stay loose enough for the trace's swings
# and a busy machine. The download must arrive intact with at least a third
# of the direct goodput (48-58% in those runs: issue 29's 90% is not met
# yet, see docs/queueing.md). Without pacing the p99 check fails.
set -u
export LINKS=lte
. "$(dirname "$0")/lab.sh"
require_root "crowded_test"
BULK_S=10 WARMUP_S=2 LTE_TRACE_START=0
RESULTS=$(mktemp)
. "$(dirname "$0")/crowded.sh"
trap 'lab_down; rm -f "$RESULTS"' EXIT

# frames_delivered DIR: "delivered sent" of the call in DIR, from the last run.
frames_delivered() {
  echo "$CROWDED_REPORT" | jq -r --arg d "$1" '.[$d] | "\(([.frames[]] | add) - .lost) \([.frames[]] | add)"'
}
at_least_half() { [ "$1" -gt 0 ] && [ $(( 2 * $1 )) -ge "$2" ]; }

lab_up
crowded_setup
check "lte0 is out (no carrier, no default route)" bash -c \
  "ip -n $(ns cli) link show lte0 | grep -q NO-CARRIER && ! ip -n $(ns cli) route show default | grep -q lte0"

setup_direct
check "direct: srv answers across the emulated link" wait_for 10 ready_direct
crowded_run direct down 1
direct_mbit=$CROWDED_MBIT direct_report=$CROWDED_REPORT
check "direct: the download arrived intact ($CROWDED_INTACT)" test "$CROWDED_INTACT" = yes
check "direct: the download got through ($direct_mbit Mbit/s)" awk -v m="$direct_mbit" 'BEGIN { exit !(m > 0.5) }'
nsx inet ip route del 10.4.0.0/24 via 10.3.0.2

LAB_PERF='pacing = true' lab_one_hub
CLI_IP=10.77.0.2
check "tund connects over the emulated link" wait_for 10 bash -c \
  "[ \"\$(ip netns exec $(ns cli) '$BIN/tund' status -c '$LAB_DIR/cli.toml' --json | jq -r .active_uplink)\" = wlan0 ]"
sleep 1
crowded_run tund down 1
check "tund: the download arrived intact ($CROWDED_INTACT)" test "$CROWDED_INTACT" = yes
check "tund: the download kept at least a third of the direct goodput ($CROWDED_MBIT of $direct_mbit Mbit/s)" \
  awk -v t="$CROWDED_MBIT" -v d="$direct_mbit" 'BEGIN { exit !(3 * t >= d) }'
direct_p99=$(echo "$direct_report" | jq .down.p99_ms); tund_p99=$(echo "$CROWDED_REPORT" | jq .down.p99_ms)
check "tund: the call's p99 down under 400 ms, the queue kept in tund (direct: $direct_p99 ms, tund: $tund_p99 ms)" \
  awk -v t="$tund_p99" 'BEGIN { exit !(t != "null" && t < 400) }'
read -r got sent < <(frames_delivered down)
check "tund: at least half the call's frames delivered down ($got of $sent)" at_least_half "$got" "$sent"
read -r got sent < <(frames_delivered up)
check "tund: at least half the call's frames delivered up ($got of $sent)" at_least_half "$got" "$sent"
summary
