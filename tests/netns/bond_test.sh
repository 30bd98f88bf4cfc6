#!/usr/bin/env bash
# Bonding (issue 30): `[uplinks] mode = "bond"` on two alike emulated links
# (LINKS=wifi-good,wifi-good: 20 Mbit/s each way each, 4 ms ± 2 ms one way,
# bench/linkem). Either link alone carries at most 20 Mbit/s (the emulator's
# rate), so 8 TCP flows up through the tunnel at 1.4 x that or more (28
# Mbit/s) cannot be one link: both carry their share (status JSON's
# per-uplink `share`); 8 flows down at 1.3 x one link or more (the hub
# returns each flow to the validated endpoint the client sends it from, each
# endpoint paced on its own; 27.7-34.1 Mbit/s in 8 runs of 2026-12-05, its
# pacers' estimates swinging between 12 and 31 Mbit/s per link); one flow
# down spread over both and delivered whole (below).
# Then 8 flows up again and lte0 is taken out mid-transfer
# (carrier and route gone, as a connection manager sees it): every stream
# arrives whole (the sender's and the sink's sha256 agree).
#
#   cli wlan0 ─┐ em (linkem 20 Mbit/s) ┌─ inet ── hub ── srv (8 sinks / senders)
#       lte0  ─┘                       └─
set -u
. "$(dirname "$0")/lab.sh"
require_root "bond_test"
trap lab_down EXIT
export LINKS=${LINKS:-wifi-good,wifi-good}
LINK_MBPS=20  # what one link of the profile carries at most
FLOWS=8
BYTES=${BOND_BYTES:-4000000}  # per flow

lab_up
# lte0 is metered by the default globs: it joins the bond only when told.
lab_one_hub '[uplinks]
mode = "bond"
bond_metered = true'
status() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json; }
hub_status() { nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json; }
bonded() { test "$(status | jq -r '.bond.bonding')" = true; }
check "status says mode bond" test "$(status | jq -r .mode)" = bond
check "both uplinks bonded (after the hold-down)" wait_for 15 bonded
share() { status | jq -r --arg n "$1" '.uplinks[] | select(.name == $n) | .share'; }
bytes_of() { status | jq -r --arg n "$1" '.uplinks[] | select(.name == $n) | .data_bytes'; }

# transfer NAME DIR [EVENT]: FLOWS TCP flows of BYTES each, up (cli -> srv)
# or down (srv -> cli's VIP); prints the goodput in kbit/s; EVENT runs in
# the background 2 s in. Each stream's hashes are compared after.
transfer() {
  local name=$1 dir=$2 event=${3:-} pids=() i port sink_ns send_ns to
  if [ "$dir" = up ]; then sink_ns=srv send_ns=cli to=10.4.0.2; else sink_ns=cli send_ns=srv to=10.77.0.2; fi
  for i in $(seq 1 $FLOWS); do
    port=$((5300 + i))
    lab_start $sink_ns "${name}_sink$i" $NETPEER sink $port
  done
  for i in $(seq 1 $FLOWS); do wait_for 5 grep -q ready "$LAB_DIR/${name}_sink$i.log"; done
  local start=$(date +%s%N)
  for i in $(seq 1 $FLOWS); do
    nsx $send_ns $NETPEER send $to $((5300 + i)) "$BYTES" > "$LAB_DIR/${name}_sent$i" 2>&1 & pids+=($!)
  done
  [ -z "$event" ] || (sleep 2; $event) &
  wait "${pids[@]}"
  local took=$(( ($(date +%s%N) - start) / 1000000 ))
  echo $(( FLOWS * BYTES * 8 / took ))
}
intact() {  # intact NAME: every stream's sink saw what its sender sent
  local i
  for i in $(seq 1 $FLOWS); do
    wait_for 10 test "$(wc -l < "$LAB_DIR/${1}_sink$i.log")" -ge 2 || return 1
    [ "$(tail -n1 "$LAB_DIR/${1}_sink$i.log" | cut -d' ' -f1-2)" = "$(cut -d' ' -f1-2 "$LAB_DIR/${1}_sent$i")" ] || return 1
  done
}

w0=$(bytes_of wlan0); l0=$(bytes_of lte0)
up=$(transfer up up)
w1=$(bytes_of wlan0); l1=$(bytes_of lte0)
wl=$(( w1 - w0 )); lt=$(( l1 - l0 ))
echo "   up: $FLOWS flows, $up kbit/s (one link: at most $((LINK_MBPS * 1000))); wlan0 carried $wl bytes, lte0 $lt"
check "8 flows up every byte intact" intact up
check "8 flows up: at least 1.4 x one link ($up kbit/s)" test "$up" -ge $((LINK_MBPS * 1400))
check "both uplinks carried the upload (each at least a quarter)" \
  test $(( wl * 4 )) -ge $(( wl + lt )) -a $(( lt * 4 )) -ge $(( wl + lt ))
status | jq -c '.bond | {active_flows, placed, moved, followed, paths}'

check "still bonded after the upload" wait_for 15 bonded
down=$(transfer down down)
echo "   down: $FLOWS flows, $down kbit/s"
hub_status | jq -c '.sessions[0] | {bonding, endpoint, drops: .pacing.drops, paths: .pacing.paths}'
status | jq -c '{uplinks: [.uplinks[] | {name, role, data_bytes}], bond: [.bond.paths[] | {path, flows}]}'
check "8 flows down every byte intact" intact down
check "the hub knows the client bonds" test "$(hub_status | jq -r '.sessions[0].bonding')" = true
check "8 flows down: at least 1.3 x one link ($down kbit/s)" test "$down" -ge $((LINK_MBPS * 1300))

# One flow down: the hub spills it onto the other endpoint when its own
# pacer has no room, and the client puts it back in order (issue 30 item 3).
# Here, right after the 8-flow transfers, it got 14.5-22 Mbit/s in 6 runs of
# 2026-12-05 (bench/bond's alike pair: 29.6): the check is that it spreads,
# arrives whole and does not collapse, not the aggregation target.
one=$(FLOWS=1 BYTES=$((FLOWS * BYTES / 2)) transfer one down)
echo "   down: 1 flow, $one kbit/s; $(status | jq -c '.bond.reorder')"
FLOWS=1 intact one && pass_one=1 || pass_one=0
check "1 flow down every byte intact" test $pass_one = 1
check "1 flow down: spread, held back for order at the client" test "$(status | jq -r '.bond.reorder.held_packets')" -gt 0
check "1 flow down: at least 0.6 x one link ($one kbit/s)" test "$one" -ge $((LINK_MBPS * 600))

cut=$(transfer cut up "lab_uplink_out lte")
echo "   up with lte0 out 2 s in: $cut kbit/s; $(status | jq -c '.bond | {followed, bonding}')"
check "lte0 out mid-transfer: every stream arrives whole" intact cut
check "the session carries on on wlan0" test "$(status | jq -r .active_uplink)" = wlan0
summary
