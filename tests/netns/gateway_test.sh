#!/usr/bin/env bash
# Gateway mode: a LAN host (namespace "lan", 192.168.50.2) uses the client as
# its router; the client carries the LAN through the tunnel (masqueraded to
# its VIP, MSS clamped) and its uplink handover is as seamless for the LAN host
# as for local applications: a paced TCP transfer from the LAN host to srv
# crosses a wlan0 link-down and arrives intact. The LAN's IPv6 (fd50::/64)
# goes the same way, masqueraded to the client's IPv6 VIP.
set -u
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/events.sh"
require_root "gateway_test"
trap lab_down EXIT
NETPEER="python3 $(dirname "$0")/netpeer.py"

lab_up
lab_ipv6
lab_inner6
lab_veth cli lan0 192.168.50.1/24 lan eth0 192.168.50.2/24
nsx lan sysctl -qw net.ipv6.conf.all.disable_ipv6=0
nsx cli ip -6 addr add fd50::1/64 dev lan0 nodad
nsx lan ip -6 addr add fd50::2/64 dev eth0 nodad
nsx lan ip route add default via 192.168.50.1
nsx lan ip -6 route add default via fd50::1
nsx cli sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
LAB_TUN_ADDRESS='["10.77.0.1/24", "fd77::1/64"]' LAB_ROUTES='["10.4.0.0/24", "fd04::/64"]' lab_one_hub '[uplinks]
avoid = ["lan*"]
[gateway]
lan = ["192.168.50.0/24", "fd50::/64"]'

check "the client installed its gateway table" bash -c "ip netns exec $(ns cli) nft list table inet tund_tun0 | grep -q masquerade"
check "LAN host -> srv through the gateway's tunnel" nsx lan ping -q -c 3 -i 0.2 -W 2 10.4.0.2
check "LAN host -> srv over IPv6 through the gateway's tunnel" nsx lan ping -6 -q -c 3 -i 0.2 -W 2 fd04::2
lab_start srv sink6 $NETPEER sink 5002
wait_for 5 grep -q ready "$LAB_DIR/sink6.log"
nsx lan timeout 20 $NETPEER send fd04::2 5002 1000000 1000000 > "$LAB_DIR/send6.out"
wait_for 10 bash -c "tail -n1 '$LAB_DIR/sink6.log' | grep -v ready | grep -q ' '"
check "the LAN's IPv6 transfer arrives intact" test "$(cut -d' ' -f1,2 "$LAB_DIR/send6.out")" = "$(tail -n1 "$LAB_DIR/sink6.log" | cut -d' ' -f1,2)"
check "srv saw the client's IPv6 VIP, not the LAN address" test "$(tail -n1 "$LAB_DIR/sink6.log" | cut -d' ' -f3)" = fd77::2

lab_start srv sink $NETPEER sink 5001
wait_for 5 grep -q ready "$LAB_DIR/sink.log"
lab_start lan send bash -c "timeout 60 $NETPEER send 10.4.0.2 5001 4000000 1000000 > '$LAB_DIR/send.out'"
sleep 1.5
event_down
wait_for 40 bash -c "tail -n1 '$LAB_DIR/sink.log' | grep -v ready | grep -q ' '"
wait_for 5 test -s "$LAB_DIR/send.out"
restore_down
sent=$(cut -d' ' -f1,2 "$LAB_DIR/send.out"); got=$(tail -n1 "$LAB_DIR/sink.log" | cut -d' ' -f1,2)
gap=$(tail -n1 "$LAB_DIR/sink.log" | cut -d' ' -f4)
echo "   LAN transfer across wlan0 down: sent $sent / received $got, longest gap $gap ms"
check "the LAN host's transfer arrives intact across the handover" test -n "$sent" -a "$sent" = "$got"
check "srv saw the client's VIP, not the LAN address" test "$(tail -n1 "$LAB_DIR/sink.log" | cut -d' ' -f3)" = 10.77.0.2
check "the gateway moved to lte0" test "$(nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json | jq -r .active_uplink)" = lte0
check "the stall the LAN host saw stayed under 1 s ($gap ms)" test "${gap%.*}" -lt 1000
kill "$PID_cli"; wait "$PID_cli" 2>/dev/null
check "the gateway table goes with the client" bash -c "! ip netns exec $(ns cli) nft list table inet tund_tun0 >/dev/null 2>&1"

summary
