#!/usr/bin/env bash
# Path MTU: every path finds its own by padded probes (no ICMP needed), and
# the tunnel adapts at handover. lte0's path carries 1280-byte IP packets,
# first because a router in the middle says so (the router's side of the link;
# the client's interface says 1500, and big packets toward it are dropped
# silently), then on the client's interface too. Bulk TCP both ways keeps
# flowing through a planned switch and a link-down onto the small path (the
# tunnel clamps SYNs and answers too-big packets with ICMP, as a router
# would); a DF ping gets its answer, one without DF is fragmented; a
# 1280-byte IPv6 packet crosses the small path both ways (IPv6's minimum,
# owed by every link); back on wlan0 full-size packets pass.
set -u
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/events.sh"
require_root "pmtu_test"
trap lab_down EXIT

lab_up
lab_inner6
LAB_TUN_ADDRESS='["10.77.0.1/24", "fd77::1/64"]' LAB_ROUTES='["10.4.0.0/24", "fd04::/64"]' lab_one_hub '[uplinks]
hold_down_ms = 1000'
status() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json; }
mtu_of() { status | jq -r --arg u "$1" --arg k "$2" '.uplinks[] | select(.name == $u) | .paths[0].mtu[$k]'; }
hub_mtu() { nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -r '.sessions[0].path_mtu'; }
found_between() {  # found_between UPLINK LOW HIGH
  test "$(mtu_of "$1" state)" = found && test "$(mtu_of "$1" bytes)" -ge "$2" -a "$(mtu_of "$1" bytes)" -le "$3"
}

# Both paths carry 1500: the tunnel's largest datagram (1420 + 40).
check "wlan0's path: 1460-byte datagrams found" wait_for 5 found_between wlan0 1460 1460
check "lte0's path: 1460-byte datagrams found" wait_for 5 found_between lte0 1460 1460
echo "   searches took wlan0 $(mtu_of wlan0 search_ms) ms, lte0 $(mtu_of lte0 search_ms) ms"
check "the hub was told the active path's MTU (1460)" wait_for 3 test "$(hub_mtu)" = 1460

# A router in the middle holds 1280: a new search finds 1252 (1280 - 28) less
# the granularity, without ICMP (the tunnel's sockets ignore it).
# A path is searched again when it becomes active (the last search being
# limits::kPmtuResearchAfter = 5 s old): a switch there and back does it.
nsx inet ip link set l2 mtu 1280
sleep 5
nsx cli "$BIN/tund" switch lte0 -c "$LAB_DIR/cli.toml" >/dev/null
nsx cli "$BIN/tund" switch auto -c "$LAB_DIR/cli.toml" >/dev/null
check "lte0's path: the middle router's 1280 is found (1244-1252 bytes)" wait_for 40 found_between lte0 1244 1252
echo "   lte0 found $(mtu_of lte0 bytes) bytes in $(mtu_of lte0 search_ms) ms"

# 12 MB each way at 4 MB/s (events.sh: through); traffic must flow again
# within 1 s of the switch.
THROUGH_PORT=7300 THROUGH_BYTES=12000000 THROUGH_RATE=4000000
through_small() {  # through_small NAME EVENT_CMD
  through "$1" "$2"
  check "$1: traffic flowing again within 1 s of the switch" test "$GAP_UP" -lt 1000 -a "$GAP_DN" -lt 1000
}

# IPv6 promises every link 1280 bytes (RFC 8200 §5), the tunnel too: a
# 1280-byte IPv6 packet (DF is implied) crosses a path that carries less,
# both ways, its outer datagram fragmented (by the sender's kernel or the
# router in the middle, as IPv4 allows; at 1280 by the sender for IPv6).
ipv6_1280_both_ways() {  # ipv6_1280_both_ways TAG
  check "$1: a 1280-byte IPv6 ping from the client crosses the small path" \
    nsx cli ping -6 -M do -s 1232 -c 3 -i 0.2 -W 1 -q fd04::2
  check "$1: a 1280-byte IPv6 ping from srv to the client's VIP crosses it" \
    nsx srv ping -6 -M do -s 1232 -c 3 -i 0.2 -W 1 -q fd77::2
}

through_small planned_middle event_planned
check "planned_middle: on lte0" test "$(status | jq -r .active_uplink)" = lte0
check "planned_middle: the hub clamps toward the client too ($(hub_mtu))" test "$(hub_mtu)" -le 1252
# To a destination the bulk transfer's ICMP did not teach the sender's stack.
dfping=$(nsx cli ping -M do -s 1372 -c 3 -i 0.2 -W 1 10.77.0.1 2>&1)
echo "$dfping" | grep -E "mtu" | head -2 | sed 's/^/   /'
check "a 1400-byte DF ping gets fragmentation-needed with the path's MTU" grep -Eq 'Frag needed and DF set \(mtu = 12[0-9][0-9]\)' <<< "$dfping"
check "a ping that fits goes through" nsx cli ping -M do -s 1100 -c 2 -i 0.2 -W 1 -q 10.4.0.2
# Without DF (and with the PMTUs the transfers taught both ends' stacks
# flushed, or they would fragment themselves), a 1400-byte ping is fragmented
# by the tunnel, as a router would, both ways: srv reassembles and its reply
# (1400 bytes, no DF) is fragmented by the hub.
dp() { nsx "$1" "$2" status -c "$LAB_DIR/$3.toml" --json | jq '.data_path.fragmented_packets'; }
nsx cli ip route flush cache
nsx srv ip route flush cache
check "a 1400-byte ping without DF goes through, fragmented" nsx cli ping -M dont -s 1372 -c 3 -i 0.2 -W 1 -q 10.4.0.2
check "the client fragmented it ($(dp cli "$BIN/tund" cli)) and so did the hub ($(dp hub "$BIN/tund-hub" hub))" \
  test "$(dp cli "$BIN/tund" cli)" -ge 3 -a "$(dp hub "$BIN/tund-hub" hub)" -ge 3
ipv6_1280_both_ways planned_middle
restore_planned
check "back on wlan0" wait_for 5 test "$(status | jq -r .active_uplink)" = wlan0
check "back on wlan0: the tunnel carries 1420-byte packets again (DF ping, cache flushed)" \
  wait_for 3 bash -c "ip netns exec $(ns cli) ip route flush cache; ip netns exec $(ns cli) ping -M do -s 1392 -c 1 -W 1 -q 10.77.0.1"
check "back on wlan0: the hub's limit is 1460 again" wait_for 3 test "$(hub_mtu)" = 1460

# The client's own interface says 1280 too; wlan0 then goes down.
nsx cli ip link set lte0 mtu 1280
check "lte0's ceiling follows its interface: 1252 found" wait_for 5 found_between lte0 1252 1252
through_small down_small event_down
check "down_small: on lte0" test "$(status | jq -r .active_uplink)" = lte0
ipv6_1280_both_ways down_small
restore_down
check "no inner packet was too big for the tunnel's buffers" test "$(status | jq '.drops.packet_too_big // 0')" = 0
echo "   too-big answers: client $(status | jq '.drops.path_mtu_exceeded // 0'), hub $(nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq '.drops.path_mtu_exceeded // 0')"
summary
