#!/usr/bin/env bash
# IPv6 outside and inside the tunnel. Outside: the hub listens on [::] (one dual-stack socket),
# the client reaches it by name (an /etc/hosts entry with an A and an AAAA
# record), wlan0 has only IPv4 and lte0 only IPv6. The session comes up on
# wlan0 over IPv4 with lte0's IPv6 path probed as a standby; wlan0 going down
# moves it to lte0 over IPv6 with an inner TCP stream each way intact; it
# comes back after the hold-down; a planned switch crosses families too. A
# dual-stack wlan0 then prefers IPv6. Inside: the hub's tun has fd77::1/64
# beside 10.77.0.1/24, the client gets fd77::2 and routes fd04::/64 (srv's
# IPv6 network): ping and TCP both ways over inner IPv6, a server-opened
# connection to the client's IPv6 VIP, a spoofed inner IPv6 source dropped,
# masquerade toward an IPv6 network. Last, a hub with IPv6 alone inside: the
# client gets fd77::2 and no IPv4 VIP, and inner IPv6 flows both ways.
# Loose bounds; bench/handover measures.
set -u
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/events.sh"
require_root "ipv6_test"
trap lab_down EXIT

lab_up
lab_ipv6
# lte0: IPv6 only.
nsx cli ip route del default via 10.2.0.1 dev lte0
nsx cli ip addr del 10.2.0.2/24 dev lte0
lab_uplink6 cli lte0 2 200
lab_hosts cli "10.3.0.2 hub.lab" "fd03::2 hub.lab"
lab_inner6
LAB_LISTEN='"[::]:51900"' LAB_ENDPOINT=hub.lab:51900 LAB_TUN_ADDRESS='["10.77.0.1/24", "fd77::1/64"]' \
  LAB_ROUTES='["10.4.0.0/24", "fd04::/64"]' lab_one_hub '[uplinks]
hold_down_ms = 1000'
status() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json; }
hub_endpoint() { nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -r '.sessions[0].endpoint'; }
path_of() {  # path_of UPLINK FAMILY FIELD
  status | jq -r --arg u "$1" --arg f "$2" --arg k "$3" '.uplinks[] | select(.name == $u) | .paths[] | select(.family == $f) | .[$k]'
}
on() { test "$(status | jq -r '.active_uplink + " " + .active_family')" = "$1 $2"; }

check "the hub listens on [::]:51900" test "$(nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -r .listen)" = "[::]:51900"
check "connects by name, on wlan0 over IPv4" wait_for 10 on wlan0 ipv4
check "the hub sees the client's IPv4 address" test "${ep:=$(hub_endpoint)}" != "" -a "${ep%:*}" = 10.1.0.2
measured_standby() { test "$(path_of lte0 ipv6 role)" = standby -a "$(path_of lte0 ipv6 rtt_ms)" != null; }
check "lte0's IPv6 path is a measured standby" wait_for 5 measured_standby
check "lte0's path goes to the hub's AAAA record" test "$(path_of lte0 ipv6 remote)" = "[fd03::2]:51900"
check "wlan0 has no IPv6 path (no IPv6 address)" test "$(path_of wlan0 ipv6 reason)" = "no IPv6 address"

THROUGH_PORT=7200
through down event_down
check "down: now on lte0 over IPv6" on lte0 ipv6
check "down: the hub sends to the client's IPv6 address ($(hub_endpoint))" test "$(hub_endpoint | cut -c1-6)" = "[fd02:"
check "down: longest stall under 600 ms both ways" test "$GAP_UP" -lt 600 -a "$GAP_DN" -lt 600
restore_down
check "back on wlan0 over IPv4 after the hold-down" wait_for 6 on wlan0 ipv4

through planned event_planned
check "planned: now on lte0 over IPv6" on lte0 ipv6
check "planned: longest stall under 300 ms both ways" test "$GAP_UP" -lt 300 -a "$GAP_DN" -lt 300
restore_planned
check "planned: back on wlan0 over IPv4" wait_for 6 on wlan0 ipv4

# Dual-stack wlan0: both families measured, IPv6 preferred on a tie.
lab_uplink6 cli wlan0 1 100
check "dual-stack wlan0: moves to its IPv6 path" wait_for 8 on wlan0 ipv6
check "dual-stack wlan0: its IPv4 path stays a standby" test "$(path_of wlan0 ipv4 role)" = standby
check "dual-stack wlan0: traffic flows over IPv6" nsx cli ping -c 3 -i 0.2 -W 1 -q 10.4.0.2
check "no datagram was dropped as unroutable by family" test "$(status | jq '.drops.no_uplink // 0')" = 0

# IPv6 inside.
check "the client got the IPv6 VIP fd77::2" test "$(status | jq -r .vip6)" = fd77::2
check "the hub reports it" test "$(nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -r '.sessions[0].vip6')" = fd77::2
check "ping6 from the client to srv's IPv6 address" nsx cli ping -6 -c 3 -i 0.2 -W 1 -q fd04::2
check "srv pings the client's IPv6 VIP (a server-opened flow)" nsx srv ping -6 -c 3 -i 0.2 -W 1 -q fd77::2
lab_start srv up6 $NETPEER sink 7300
lab_start cli dn6 $NETPEER sink 7301
wait_for 5 grep -q ready "$LAB_DIR/up6.log"
wait_for 5 grep -q ready "$LAB_DIR/dn6.log"
nsx cli timeout 30 $NETPEER send fd04::2 7300 3000000 3000000 > "$LAB_DIR/up6.out"; r1=$?
nsx srv timeout 30 $NETPEER send fd77::2 7301 3000000 3000000 > "$LAB_DIR/dn6.out"; r2=$?
wait_for 10 test -n "$(tail -n1 "$LAB_DIR/up6.log" | grep -v ready)"
wait_for 10 test -n "$(tail -n1 "$LAB_DIR/dn6.log" | grep -v ready)"
check "TCP over inner IPv6 both ways, intact" test "$r1:$r2:$(cut -d' ' -f1 "$LAB_DIR/up6.out")" = "0:0:$(tail -n1 "$LAB_DIR/up6.log" | cut -d' ' -f1)" -a \
  "$(cut -d' ' -f1 "$LAB_DIR/dn6.out")" = "$(tail -n1 "$LAB_DIR/dn6.log" | cut -d' ' -f1)"
# A spoofed inner IPv6 source (not the VIP): the hub drops it.
before=$(nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq '.drops.inner_source_mismatch // 0')
nsx cli ip -6 addr add fd77::99/128 dev tun0 nodad
nsx cli ping -6 -c 2 -i 0.2 -W 1 -q -I fd77::99 fd04::2 >/dev/null 2>&1
after=$(nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq '.drops.inner_source_mismatch // 0')
nsx cli ip -6 addr del fd77::99/128 dev tun0
check "a spoofed inner IPv6 source is dropped by the hub ($before -> $after)" test "$after" -gt "$before"
# Masquerade toward an IPv6 network: srv forgets the way back to fd77::/64;
# with [nat] masquerade = ["fd04::/64"] (applied by reload) replies come to
# the hub's own address and still reach the client.
nsx srv ip -6 route del default
check "without masquerade srv cannot answer the client's IPv6 VIP" bash -c "! ip netns exec $(ns srv) ping -6 -c 1 -W 1 -q fd77::2 >/dev/null 2>&1"
# The same reload exposes the client's port 80 at [fd04::1]:8080 (IPv6 DNAT
# to its IPv6 VIP).
lab_start cli answer6 $NETPEER answer 80 "phone over IPv6"
printf '[nat]\nmasquerade = ["10.4.0.0/24", "fd04::/64"]\n[[expose]]\nlisten = "[fd04::1]:8080"\nto = "phone:80"\n' >> "$LAB_DIR/hub.toml"
kill -HUP "$PID_hub"
check "the hub installed an ip6 NAT table on reload" wait_for 3 nsx hub nft list table ip6 tund_hub_hub0
check "masqueraded: ping6 from the client to srv works again" wait_for 5 nsx cli ping -6 -c 1 -W 1 -q fd04::2
check "exposed over IPv6: srv reaches the client's port 80 at [fd04::1]:8080" \
  test "$(nsx srv $NETPEER ask fd04::1 8080 2>/dev/null)" = "phone over IPv6"

# IPv6 alone inside: both daemons again, the hub's tun with fd77::1/64 only.
for p in "$PID_cli" "$PID_hub"; do kill "$p"; wait "$p" 2>/dev/null; done
nsx srv ip -6 route add default via fd04::1
LAB_VIP= LAB_LISTEN='"[::]:51900"' LAB_ENDPOINT=hub.lab:51900 LAB_TUN_ADDRESS='"fd77::1/64"' LAB_ROUTES='["fd04::/64"]' lab_one_hub
check "IPv6 alone inside: connected" wait_for 10 on wlan0 ipv6
check "IPv6 alone inside: the client got fd77::2 and no IPv4 VIP" test "$(status | jq -r '.vip + "|" + .vip6')" = "|fd77::2"
check "IPv6 alone inside: tun0 carries no IPv4 address" test -z "$(nsx cli ip -4 -o addr show dev tun0)"
check "IPv6 alone inside: the hub reports vip6 only" \
  test "$(nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -r '.sessions[0].vip + "|" + .sessions[0].vip6')" = "|fd77::2"
check "IPv6 alone inside: ping6 both ways" nsx cli ping -6 -c 3 -i 0.2 -W 1 -q fd04::2
check "IPv6 alone inside: srv pings the client's VIP" nsx srv ping -6 -c 3 -i 0.2 -W 1 -q fd77::2
lab_start srv up6b $NETPEER sink 7302
wait_for 5 grep -q ready "$LAB_DIR/up6b.log"
nsx cli timeout 30 $NETPEER send fd04::2 7302 2000000 2000000 > "$LAB_DIR/up6b.out"; r=$?
wait_for 10 test -n "$(tail -n1 "$LAB_DIR/up6b.log" | grep -v ready)"
check "IPv6 alone inside: TCP intact" test "$r:$(cut -d' ' -f1 "$LAB_DIR/up6b.out")" = "0:$(tail -n1 "$LAB_DIR/up6b.log" | cut -d' ' -f1)"
check "IPv6 alone inside: the lease file names the IPv6 VIP" grep -q " fd77::2$" "$LAB_DIR/leases-hub0"
summary
