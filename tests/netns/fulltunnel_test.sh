#!/usr/bin/env bash
# Full tunnel without loops or leaks: a hub with routes 0.0.0.0/0 and ::/0
# takes everything through tun0 by policy routing (own table, rules keyed on
# the tunnel's fwmark), the tunnel's UDP never loops into tun0, and with
# kill_switch a route injected toward srv via wlan0 (TunnelVision) makes no
# plaintext packet toward srv leave wlan0 or lte0.
set -u
. "$(dirname "$0")/lab.sh"
require_root "fulltunnel_test"
trap lab_down EXIT

lab_up
lab_keys hub phone
lab_full_tunnel_hub_toml > "$LAB_DIR/hub.toml"
lab_phone_toml 'kill_switch = true' '["0.0.0.0/0", "::/0"]' > "$LAB_DIR/cli.toml"
# Plaintext toward srv as the router would see it, from either uplink.
nsx inet nft -f - <<NFT
table ip spy {
  chain pre {
    type filter hook prerouting priority -300;
    ip saddr { 10.1.0.2, 10.2.0.2 } ip daddr 10.4.0.0/24 counter
  }
}
NFT
lab_start hub hub "$BIN/tund-hub" run -c "$LAB_DIR/hub.toml"
wait_for 5 nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml"
lab_start cli cli "$BIN/tund" run -c "$LAB_DIR/cli.toml"
check "the client connects with the kill switch on" wait_for 10 nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"

rules=$(nsx cli ip rule show)
check "policy rules: main first without its default, then the tunnel's table for unmarked packets" \
  bash -c "grep -q 'lookup main suppress_prefixlength 0' <<< '$rules' && grep -q 'not from all fwmark 0x7475 lookup 29813' <<< '$rules'"
check "the tunnel's table holds the default route via tun0" bash -c "ip netns exec $(ns cli) ip route show table 29813 | grep -q 'default dev tun0'"
check "srv is reached through the tunnel" nsx cli ping -q -c 3 -i 0.2 -W 2 10.4.0.2
check "so is any other address (the hub's router, via the hub)" nsx cli ping -q -c 2 -i 0.2 -W 2 10.6.0.1
check "the tunnel's own UDP did not loop: the session is up on wlan0" \
  test "$(nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json | jq -r '.state + " " + .active_uplink')" = "connected wlan0"

# TunnelVision: a more specific route toward srv via wlan0's gateway.
nsx cli ip route add 10.4.0.0/24 via 10.1.0.1 dev wlan0
nsx cli ping -q -c 3 -i 0.2 -W 1 10.4.0.2 >/dev/null 2>&1
nsx cli timeout 3 bash -c 'echo x > /dev/tcp/10.4.0.2/80' 2>/dev/null
plain=$(nsx inet nft list table ip spy | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
dropped=$(nsx cli nft list table inet tund_tun0_guard | grep 'kill switch' | head -1 | sed -n 's/.*packets \([0-9]*\).*/\1/p')
echo "   injected route: plaintext packets toward srv seen by the router: $plain, dropped by the kill switch: $dropped"
check "no plaintext packet toward srv left wlan0 or lte0" test "$plain" = 0
check "the kill switch dropped them" test "${dropped:-0}" -gt 0
nsx cli ip route del 10.4.0.0/24 via 10.1.0.1 dev wlan0
check "the tunnel still works once the injected route is gone" nsx cli ping -q -c 2 -i 0.2 -W 2 10.4.0.2

# IPv6 is not carried, so it may not leave either.
nsx cli ping -6 -c 1 -W 1 -I wlan0 ff02::1 >/dev/null 2>&1
v6=$(nsx cli nft list table inet tund_tun0_guard | grep 'no IPv6' | head -1 | sed -n 's/.*packets \([0-9]*\).*/\1/p')
check "IPv6 leaving wlan0 is dropped ($v6 packets)" test "${v6:-0}" -gt 0

# The kill switch fails closed: a crash, and the cleanup systemd runs after
# it, keep it; only an explicit stop or `tund down` lifts it.
spied() { nsx inet nft list table ip spy | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'; }
guard_up() { nsx cli nft list table inet tund_tun0_guard >/dev/null 2>&1; }
blocked_since() { guard_up && [ "$(spied)" = "$1" ]; }
kill -9 "$PID_cli"; wait "$PID_cli" 2>/dev/null
before=$(spied)
nsx cli ping -q -c 3 -i 0.2 -W 1 10.4.0.2 >/dev/null 2>&1
check "after kill -9 the kill switch stays: no plaintext toward srv ($(( $(spied) - before )) seen)" blocked_since "$before"
nsx cli "$BIN/tund" cleanup -c "$LAB_DIR/cli.toml" > "$LAB_DIR/cleanup.out" 2>&1
nsx cli ping -q -c 3 -i 0.2 -W 1 10.4.0.2 >/dev/null 2>&1
check "the cleanup after a crash says it keeps the kill switch" grep -q 'kept the kill switch' "$LAB_DIR/cleanup.out"
check "and keeps it: no plaintext toward srv ($(( $(spied) - before )) seen)" blocked_since "$before"
lab_start cli cli "$BIN/tund" run -c "$LAB_DIR/cli.toml"
check "the client starts again under the kept kill switch and connects" wait_for 10 nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"
check "srv is reached through the tunnel again" nsx cli ping -q -c 2 -i 0.2 -W 2 10.4.0.2
kill -9 "$PID_cli"; wait "$PID_cli" 2>/dev/null
nsx cli "$BIN/tund" down -c "$LAB_DIR/cli.toml" > "$LAB_DIR/down.out" 2>&1
check "tund down lifts the kill switch after a crash" test "$(guard_up && echo up || echo gone)" = gone
lab_start cli cli "$BIN/tund" run -c "$LAB_DIR/cli.toml"
wait_for 10 nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"

kill "$PID_cli"; wait "$PID_cli" 2>/dev/null
check "an explicit stop (SIGTERM): rules, table and guard go with the client" bash -c \
  "! ip netns exec $(ns cli) ip rule show | grep -q 29813 && ! ip netns exec $(ns cli) nft list table inet tund_tun0_guard >/dev/null 2>&1"

# A full IPv4 tunnel without the kill switch and without "::/0" still keeps
# IPv6 from going around it, unless ipv6_outside says it may.
v6_dropped() {
  nsx cli ping -6 -c 1 -W 1 -I wlan0 ff02::1 >/dev/null 2>&1
  [ "$(nsx cli nft list table inet tund_tun0_guard 2>/dev/null | grep 'no IPv6' | head -1 | sed -n 's/.*packets \([0-9]*\).*/\1/p')" -gt 0 ] 2>/dev/null
}
for outside in false true; do
  lab_phone_toml "ipv6_outside = $outside" '["0.0.0.0/0"]' > "$LAB_DIR/cli.toml"
  lab_start cli cli "$BIN/tund" run -c "$LAB_DIR/cli.toml"
  wait_for 10 nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"
  if [ $outside = false ]; then
    check "full IPv4 tunnel: IPv6 leaving wlan0 is dropped" v6_dropped
  else
    check "full IPv4 tunnel with ipv6_outside = true: IPv6 may leave (no guard)" test "$(guard_up && echo up || echo none)" = none
  fi
  kill "$PID_cli"; wait "$PID_cli" 2>/dev/null
done
summary
