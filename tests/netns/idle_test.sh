#!/usr/bin/env bash
# An idle phone stays quiet: with no inner traffic, the client sends on its
# metered standby (lte0) nothing and on its active Wi-Fi only NAT keepalives,
# and the hub only answers. When Wi-Fi then blackholes silently while idle, a
# ping gets through (over lte0) within 1 s of its first packet.
set -u
. "$(dirname "$0")/lab.sh"
require_root "idle_test"
trap lab_down EXIT
WINDOW=${WINDOW:-40}   # seconds of idle measured

lab_up
# idle after 2 s (not 15) so the test is short; keepalive and standby
# intervals are the defaults (25 s, 120 s; lte0 is metered by the default glob).
lab_one_hub '[uplinks]
hold_down_ms = 1000
idle_after_ms = 2000'
# Count the tunnel's datagrams per uplink (client) and the hub's replies.
nsx cli nft -f - <<'NFT'
table inet idlecount {
  counter wlan0_out {}
  counter lte0_out {}
  chain out {
    type filter hook output priority 0;
    oifname "wlan0" udp dport 51900 counter name wlan0_out
    oifname "lte0" udp dport 51900 counter name lte0_out
  }
}
NFT
nsx hub nft -f - <<'NFT'
table inet idlecount {
  counter hub_out {}
  chain out { type filter hook output priority 0; udp sport 51900 counter name hub_out; }
}
NFT
packets() { nsx "$1" nft -j list counter inet idlecount "$2" | jq '.nftables[] | select(.counter) | .counter.packets'; }
traffic() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json | jq -r .traffic; }

nsx cli ping -q -c 5 -i 0.1 10.4.0.2 >/dev/null
check "the session goes idle after idle_after_ms" wait_for 5 bash -c "[ \"\$(ip netns exec $(ns cli) $BIN/tund status -c $LAB_DIR/cli.toml --json | jq -r .traffic)\" = idle ]"
w0=$(packets cli wlan0_out); l0=$(packets cli lte0_out); h0=$(packets hub hub_out)
sleep "$WINDOW"
w=$(( $(packets cli wlan0_out) - w0 )); l=$(( $(packets cli lte0_out) - l0 )); h=$(( $(packets hub hub_out) - h0 ))
echo "   ${WINDOW} s idle: client sent ${w} on wlan0 (active), ${l} on lte0 (metered standby); the hub sent ${h}"
check "nothing on the metered standby while idle ($l)" test "$l" -eq 0
check "the active uplink only keeps its NAT binding (${w} <= $((WINDOW / 25 + 1)))" test "$w" -le $((WINDOW / 25 + 1)) -a "$w" -ge 1
check "the hub only answered (${h} <= $((w + l)))" test "$h" -le $((w + l))
check "status says idle" test "$(traffic)" = idle
probes=$(nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json | jq '[.uplinks[] | select(.name == "lte0") | .probes_sent][0]')
check "status shows probes per uplink (lte0: $probes)" test -n "$probes" -a "$probes" != null

# A silent blackhole of Wi-Fi while idle, then a ping.
. "$(dirname "$0")/events.sh"
event_blackhole
sleep 3
out=$(nsx cli ping -n -i 0.05 -c 40 -W 1 10.4.0.2 2>&1)
first=$(echo "$out" | sed -n 's/.*icmp_seq=\([0-9]*\) .*time=\([0-9.]*\) ms.*/\1 \2/p' | head -n1)
if [ -n "$first" ]; then
  ms=$(echo "$first" | awk '{printf "%d", ($1 - 1) * 50 + $2}')
else
  ms=timeout
fi
echo "   after a silent blackhole during idle: first ping answered ${ms} ms after the first was sent"
check "a ping after a silent blackhole during idle gets through within 1 s ($ms ms)" test "$ms" != timeout -a "${ms:-9999}" -le 1000
check "the client moved to lte0" test "$(nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json | jq -r .active_uplink)" = lte0
check "traffic is active again" test "$(traffic)" = active
restore_blackhole
summary
