#!/usr/bin/env bash
# Redundancy by policy: the client's [uplinks] redundant and the hub's
# [handover] redundant name UDP port 5004. With the active uplink (wlan0)
# losing 10% of its packets each way at the router (nftables numgen), a UDP
# stream to port 5004 loses at most 0.1% in each direction, because every
# packet of it also goes on lte0 as a copy, while a stream to port 5005 sees
# wlan0's loss as before (no copies); the copies are counted in both
# daemons' status and metrics.
set -u
. "$(dirname "$0")/lab.sh"
require_root "redundancy_test"
trap lab_down EXIT

lab_up
# max_loss 0.5: the lossy wlan0 stays the active uplink (the point of the test).
LAB_CLIENT_TOP='metrics_listen = "127.0.0.1:9586"' LAB_HUB_TOP='metrics_listen = "127.0.0.1:9587"' lab_one_hub '[uplinks]
max_loss = 0.5
redundant = ["udp:5004"]'
printf '[handover]\nredundant = ["udp:5004"]\n' >> "$LAB_DIR/hub.toml"
kill -HUP "$PID_hub"
status() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json; }
hub_status() { nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json; }
scrape() { nsx "$1" python3 -c "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$2/metrics', timeout=5).read().decode())"; }
standby_measured() { test "$(status | jq -r '.uplinks[] | select(.name == "lte0") | .role')" = standby -a \
  "$(status | jq -r '.uplinks[] | select(.name == "lte0") | .rtt_ms')" != null; }
check "connected on wlan0 with lte0 a measured standby" wait_for 10 standby_measured

nsx inet nft -f - <<'NFT'
table inet lossy {
  chain forward {
    type filter hook forward priority -10;
    iifname "w1" numgen random mod 10 0 counter drop
    oifname "w1" numgen random mod 10 0 counter drop
  }
}
NFT
# 8 s of 1200-byte datagrams at 4 Mbit/s (3333 each), both ways, two ports.
for p in 5004 5005; do
  lab_start srv "up$p" $NETPEER udpsink $p
  lab_start cli "dn$p" $NETPEER udpsink $p
done
for p in 5004 5005; do wait_for 5 grep -q ready "$LAB_DIR/up$p.log"; wait_for 5 grep -q ready "$LAB_DIR/dn$p.log"; done
senders=()
for p in 5004 5005; do
  nsx cli $NETPEER udpsend 10.4.0.2 $p 4000000 8 > "$LAB_DIR/sent_up$p" & senders+=($!)
  nsx srv $NETPEER udpsend 10.77.0.2 $p 4000000 8 > "$LAB_DIR/sent_dn$p" & senders+=($!)
done
wait "${senders[@]}"
wait_for 10 bash -c "for f in up5004 dn5004 up5005 dn5005; do test \$(wc -l < '$LAB_DIR/'\$f.log) -ge 2 || exit 1; done"
got() { tail -n1 "$LAB_DIR/$1.log" | cut -d' ' -f1; }
sent() { cut -d' ' -f1 "$LAB_DIR/sent_$1"; }
dropped=$(nsx inet nft list table inet lossy | grep -o 'packets [0-9]*' | awk '{s += $2} END {print s}')
echo "   router dropped $dropped packets; port 5004 up $(got up5004)/$(sent up5004), down $(got dn5004)/$(sent dn5004);" \
  "port 5005 up $(got up5005)/$(sent up5005), down $(got dn5005)/$(sent dn5005)"
lost_per_mille() { echo $(( ( $(sent "$1") - $(got "$1") ) * 1000 / $(sent "$1") )); }
check "the router dropped packets on wlan0 ($dropped)" test "${dropped:-0}" -gt 300
# (Not checked: that the session stays on wlan0 afterwards. When a stream's
# last answer and the probe after it are both lost, 10% loss each way, the
# dead verdict moves it to lte0 now and then, after the streams.)
check "redundant stream up: at most 0.1% lost" test "$(lost_per_mille up5004)" -le 1
check "redundant stream down: at most 0.1% lost" test "$(lost_per_mille dn5004)" -le 1
check "other stream up sees wlan0's loss (3-20%, $(lost_per_mille up5005) per mille)" \
  test "$(lost_per_mille up5005)" -ge 30 -a "$(lost_per_mille up5005)" -le 200
check "other stream down sees wlan0's loss (3-20%, $(lost_per_mille dn5005) per mille)" \
  test "$(lost_per_mille dn5005)" -ge 30 -a "$(lost_per_mille dn5005)" -le 200
cb=$(status | jq .redundant_bytes); hb=$(hub_status | jq '.sessions[0].redundant_bytes')
# At most one copy per datagram of the named stream (1200 bytes inside,
# ~1268 outside), none for the other; fewer while a standby is unmeasured.
check "the client's copies: one per redundant datagram ($cb bytes)" \
  test "$cb" -ge $(( $(sent up5004) * 1200 * 7 / 10 )) -a "$cb" -le $(( $(sent up5004) * 1300 ))
check "the hub's copies: one per redundant datagram ($hb bytes)" \
  test "$hb" -ge $(( $(sent dn5004) * 1200 * 7 / 10 )) -a "$hb" -le $(( $(sent dn5004) * 1300 ))
metric() { scrape "$1" "$2" | grep -E "^$3" | awk '{print $2}'; }
check "the client's metrics count them" test "$(metric cli 9586 'tund_redundant_bytes_total\{hub="main"\}')" = "$cb"
check "the hub's metrics count them" test "$(metric hub 9587 'tund_hub_session_redundant_bytes_total\{client="phone"\}')" = "$hb"
summary
