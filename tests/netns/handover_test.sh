#!/usr/bin/env bash
# Handover end to end, each event once with loose bounds (the measured run
# with tight targets is bench/handover): an inner TCP transfer each way
# (cli -> srv and srv -> cli) keeps going through the event with its data
# intact, and the client switched uplinks.
set -u
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/events.sh"
require_root "handover_test"
trap lab_down EXIT

lab_up
lab_one_hub '[uplinks]
hold_down_ms = 1000'
check "client connects" nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"
status() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json; }
on_wlan0() {  # the client on wlan0 and the hub sending there
  test "$(status | jq -r .active_uplink)" = wlan0 &&
    nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -e '.sessions[0].endpoint | startswith("10.1.0.")' >/dev/null
}

BYTES=6000000   # 6 MB each way at 3 MB/s: two seconds, the event at 0.7 s
RATE=3000000
port=7100
for ev in down blackhole addr planned flap; do
  port=$((port + 2))
  check "$ev: starts on wlan0" wait_for 15 on_wlan0
  h0=$(status | jq .handovers)
  lab_start srv "up_$ev" $NETPEER sink $port
  lab_start cli "dn_$ev" $NETPEER sink $((port + 1))
  wait_for 5 grep -q ready "$LAB_DIR/up_$ev.log"
  wait_for 5 grep -q ready "$LAB_DIR/dn_$ev.log"
  nsx cli timeout 60 $NETPEER send 10.4.0.2 $port $BYTES $RATE > "$LAB_DIR/upsend_$ev.out" & s1=$!
  nsx srv timeout 60 $NETPEER send 10.77.0.2 $((port + 1)) $BYTES $RATE > "$LAB_DIR/dnsend_$ev.out" & s2=$!
  sleep 0.7
  "event_$ev"
  wait $s1; r1=$?; wait $s2; r2=$?
  wait_for 10 test -n "$(tail -n1 "$LAB_DIR/up_$ev.log" | grep -v ready)"
  wait_for 10 test -n "$(tail -n1 "$LAB_DIR/dn_$ev.log" | grep -v ready)"
  up_sent=$(cut -d' ' -f1 "$LAB_DIR/upsend_$ev.out"); up_got=$(tail -n1 "$LAB_DIR/up_$ev.log")
  dn_sent=$(cut -d' ' -f1 "$LAB_DIR/dnsend_$ev.out"); dn_got=$(tail -n1 "$LAB_DIR/dn_$ev.log")
  h1=$(status | jq .handovers)
  echo "   $ev: upload gap $(echo "$up_got" | cut -d' ' -f4) ms, download gap $(echo "$dn_got" | cut -d' ' -f4) ms, handovers +$((h1 - h0))"
  check "$ev: both transfers complete without reset" test "$r1:$r2" = "0:0"
  check "$ev: data intact both ways (SHA-256)" test -n "$up_sent" -a "$up_sent" = "$(echo "$up_got" | cut -d' ' -f1)" -a "$dn_sent" = "$(echo "$dn_got" | cut -d' ' -f1)"
  if [ "$ev" = addr ]; then
    # Same uplink, new address: no switch needed; the hub follows the new source.
    ep=$(nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -r '.sessions[0].endpoint')
    check "$ev: the hub follows the new address 10.1.0.3 ($ep)" test "${ep%:*}" = 10.1.0.3
  else
    check "$ev: the client switched uplinks" test "$h1" -gt "$h0"
  fi
  check "$ev: longest stall under 3 s both ways" test "$(echo "$up_got" | cut -d' ' -f4)" -lt 3000 -a "$(echo "$dn_got" | cut -d' ' -f4)" -lt 3000
  "restore_$ev"
done
summary
