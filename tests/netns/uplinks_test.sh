#!/usr/bin/env bash
# Uplinks: the client's lookup table, policy, manual switching and the hub
# following it, on real interfaces. cli has wlan0 (preferred) and lte0
# (metered); a docker0 (avoided) and, later, an eth0 (better) come and go.
set -u
. "$(dirname "$0")/lab.sh"
require_root "uplinks_test"
trap lab_down EXIT

lab_up
# An avoided interface with the best default route of all: never to be used.
lab_veth cli docker0 10.10.0.2/24 inet d10 10.10.0.1/24
nsx cli ip route add default via 10.10.0.1 dev docker0 metric 10
# Count any tunnel packet that would leave through tun0 (a routing loop).
nsx cli nft -f - <<NFT
table inet looptrap {
  chain out {
    type filter hook output priority 0;
    oifname "tun0" udp dport 51900 counter
  }
}
NFT

lab_one_hub '[uplinks]
prefer = ["eth*", "wlan*", "lte*"]
avoid = ["docker*"]
metered = ["lte*"]
max_rtt_ms = 500
max_loss = 0.2
hold_down_ms = 2000'
check "client connects" nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"

status() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json 2>/dev/null; }
active_is() { test "$(status | jq -r .active_uplink)" = "$1"; }
hub_endpoint_on() { nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -e --arg p "$1" '.sessions[0].endpoint | startswith($p)' >/dev/null; }
on() { active_is "$1" && hub_endpoint_on "$2"; }   # on IF HUB-SEES-PREFIX
tx() { nsx cli cat /sys/class/net/$1/statistics/tx_packets; }
ping_ok() { nsx cli ping -q -c 3 -i 0.1 -W 1 10.4.0.2 >/dev/null; }
moved_within() {  # moved_within MS IF PREFIX: the client and the hub are both on IF within MS
  local took; took=$(wait_ms "$1" on "$2" "$3"); echo "   moved to $2 in ${took} ms"; [ "$took" != timeout ]
}

check "starts on the preferred uplink wlan0; the hub sees 10.1.0.2" on wlan0 10.1.0.2:
check "ping through the tunnel" ping_ok

# Status shows the lookup table.
sj=$(status)
check "status --json uplinks[]: wlan0 active, lte0 standby, docker0 unusable" \
  test "$(echo "$sj" | jq -r '[.uplinks[] | select(.name=="wlan0" or .name=="lte0" or .name=="docker0") | "\(.name)=\(.role)"] | sort | join(",")')" \
       = "docker0=unusable,lte0=standby,wlan0=active"
check "status --json uplinks[] carries ifindex, kind, addresses, rtt, loss" \
  test "$(echo "$sj" | jq -r '.uplinks[] | select(.name=="wlan0") | [(.ifindex>0), .up, (.addresses|index("10.1.0.2/24")!=null), (.kind|length>0)] | all')" = true
check "standby lte0 is probed (it has an RTT)" wait_for 5 bash -c "ip netns exec $(ns cli) '$BIN/tund' status -c '$LAB_DIR/cli.toml' --json | jq -e '.uplinks[] | select(.name==\"lte0\") | .rtt_ms != null'"

# Manual switching.
check "tund switch lte0 exits 0" nsx cli "$BIN/tund" switch lte0 -c "$LAB_DIR/cli.toml"
check "switch lte0: client and hub on lte0 within 1 s" moved_within 1000 lte0 10.2.0.2:
before=$(tx lte0); ping_ok; after=$(tx lte0)
check "switch lte0: traffic leaves through lte0 ($((after - before)) packets)" test $((after - before)) -ge 3
check "tund switch auto exits 0" nsx cli "$BIN/tund" switch auto -c "$LAB_DIR/cli.toml"
check "switch auto: back on wlan0 within 1 s" moved_within 1000 wlan0 10.1.0.2:
out=$(nsx cli "$BIN/tund" switch nosuch0 -c "$LAB_DIR/cli.toml" 2>&1); rc=$?
check "switch to an unknown interface: exit 1 and a clear message ($out)" test "$rc" = 1 -a -n "$(echo "$out" | grep unknown)"
out=$(nsx cli "$BIN/tund" switch docker0 -c "$LAB_DIR/cli.toml" 2>&1); rc=$?
check "switch to an avoided interface: exit 1 ($out)" test "$rc" = 1

restore_wlan0() {
  nsx cli ip link set wlan0 up
  nsx cli ip addr replace 10.1.0.2/24 dev wlan0
  wait_for 2 nsx cli ip route replace default via 10.1.0.1 dev wlan0 metric 100
}
moves_back_after_hold_down() {  # the hold-down (2 s) holds, then the client returns
  local took; took=$(wait_ms 5000 on wlan0 10.1.0.2:); echo "   back on wlan0 after ${took} ms (hold-down 2000 ms)"
  [ "$took" != timeout ] && [ "$took" -ge 1500 ]
}

# Failures move at once.
nsx cli ip link set wlan0 down
check "wlan0 link down: on lte0 within 1 s" moved_within 1000 lte0 10.2.0.2:
check "ping works on lte0" ping_ok
restore_wlan0
check "wlan0 back: returns after the hold-down" moves_back_after_hold_down

nsx cli ip addr del 10.1.0.2/24 dev wlan0
check "wlan0 address deleted: on lte0 within 1 s" moved_within 1000 lte0 10.2.0.2:
restore_wlan0
check "wlan0 address back: returns after the hold-down" moves_back_after_hold_down

nsx cli ip route del default via 10.1.0.1 dev wlan0
check "wlan0 default route deleted: on lte0 within 1 s" moved_within 1000 lte0 10.2.0.2:
restore_wlan0
check "default route back: returns after the hold-down" moves_back_after_hold_down

# A new, better interface appears: used after the hold-down; removed: back at once.
lab_veth cli eth0 10.9.0.2/24 inet e9 10.9.0.1/24
nsx cli ip route add default via 10.9.0.1 dev eth0 metric 50
took=$(wait_ms 5000 on eth0 10.9.0.2:); echo "   on eth0 after ${took} ms"
check "new eth0: used after the hold-down (1.5-5 s)" test "$took" != timeout -a "${took/timeout/0}" -ge 1500
check "ping works on eth0" ping_ok
nsx cli ip link del eth0
check "eth0 removed: back on wlan0 within 1 s" moved_within 1000 wlan0 10.1.0.2:
check "handovers are counted" test "$(status | jq -r .handovers)" -ge 8

check "the avoided docker0 was never used" \
  test "$(status | jq -r '.uplinks[] | select(.name=="docker0") | .role + "/" + .reason')" = "unusable/avoided by policy"
loop=$(nsx cli nft -j list table inet looptrap | jq '[.. | .packets? // empty] | add')
check "no tunnel packet ever left through tun0 (counter: $loop)" test "$loop" = 0
summary
