#!/usr/bin/env bash
# Garbage under load: for 30 s a flood of random datagrams of every length
# (0..1500 bytes, half with a valid type byte) from 32 source addresses and
# ever new ports hits the hub's port while two real clients ping through it.
# Expected: no reply to any of it, no ping lost, the hub's memory flat, every
# datagram counted by reason; then a handshake flood (valid mac1) makes the
# hub demand cookies, and the clients still pass traffic.
set -u
. "$(dirname "$0")/lab.sh"
require_root "flood_test"
trap lab_down EXIT
FLOOD_SECONDS=${FLOOD_SECONDS:-30}
FLOOD_RATE=${FLOOD_RATE:-40000}

lab_up
# The attacker: its own namespace behind the router, with 32 addresses.
lab_veth lan atk0 10.9.0.2/24 inet a9 10.9.0.1/24
nsx lan ip route add default via 10.9.0.1
srcs=()
for i in $(seq 10 41); do nsx lan ip addr add "10.9.0.$i/24" dev atk0; srcs+=("10.9.0.$i"); done

lab_keys hub phone laptop
{ lab_hub_toml; cat <<TOML
[[client]]
name = "phone"
public_key = "$(pub phone)"
[[client]]
name = "laptop"
public_key = "$(pub laptop)"
[limits]
under_load_handshakes = 200
TOML
} > "$LAB_DIR/hub.toml"
lab_phone_toml > "$LAB_DIR/cli.toml"
sed -e 's/phone.key/laptop.key/' -e 's/cli.sock/cli2.sock/' "$LAB_DIR/cli.toml" > "$LAB_DIR/cli2.toml"
lab_start hub hub "$BIN/tund-hub" run -c "$LAB_DIR/hub.toml"
wait_for 5 nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml"
lab_start cli cli "$BIN/tund" run -c "$LAB_DIR/cli.toml"
lab_start cli2 cli2 "$BIN/tund" run -c "$LAB_DIR/cli2.toml"
check "both clients connect" wait_for 10 bash -c \
  "ip netns exec $(ns cli) $BIN/tund status -c $LAB_DIR/cli.toml && ip netns exec $(ns cli2) $BIN/tund status -c $LAB_DIR/cli2.toml"
hub_status() { nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$PID_hub/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID_hub/stat"; }

nsx cli ping -c 3 -W 1 10.4.0.2 >/dev/null; nsx cli2 ping -c 3 -W 1 10.4.0.2 >/dev/null  # warm up
rss0=$(rss); ticks0=$(cpu_ticks); drops0=$(hub_status | jq '[.drops[]] | add // 0')
pings=$(( FLOOD_SECONDS * 5 ))
lab_start cli ping1 ping -q -c "$pings" -i 0.2 -W 1 10.4.0.2
lab_start cli2 ping2 ping -q -c "$pings" -i 0.2 -W 1 10.4.0.2
read -r sent replies cookies rate < <(nsx lan $NETPEER flood 10.3.0.2 51900 "$FLOOD_SECONDS" "$FLOOD_RATE" "${srcs[@]}")
wait "$PID_ping1"; wait "$PID_ping2"
rss1=$(rss); ticks1=$(cpu_ticks); drops1=$(hub_status | jq '[.drops[]] | add // 0')
loss1=$(grep -o '[0-9.]*% packet loss' "$LAB_DIR/ping1.log" | cut -d% -f1)
loss2=$(grep -o '[0-9.]*% packet loss' "$LAB_DIR/ping2.log" | cut -d% -f1)
cpu=$(( (ticks1 - ticks0) * 100 / $(getconf CLK_TCK) / FLOOD_SECONDS ))
echo "   flood: $sent datagrams in $FLOOD_SECONDS s ($rate/s offered) from ${#srcs[@]} addresses; $replies replies"
echo "   hub: CPU ${cpu}% of a core, RSS ${rss0} -> ${rss1} kB, drops counted +$(( drops1 - drops0 ))"
echo "   clients: ping loss ${loss1}% and ${loss2}% over $pings pings each"
check "no reply to any garbage datagram ($replies)" test "$replies" = 0
check "the phone lost no ping (${loss1}%)" test "$loss1" = 0
check "the laptop lost no ping (${loss2}%)" test "$loss2" = 0
check "the hub's memory stays flat (${rss0} -> ${rss1} kB)" test $(( rss1 - rss0 )) -le 4096
check "the garbage is counted by reason (+$(( drops1 - drops0 )) of $sent)" test $(( drops1 - drops0 )) -ge $(( sent * 9 / 10 ))

# A handshake flood: mac1 is valid (it needs only the hub's public key).
read -r isent ireplies icookies irate < <(nsx lan $NETPEER flood 10.3.0.2 51900 3 2000 "${srcs[@]}" --initiations "$(pub hub)")
echo "   handshake flood: $isent initiations ($irate/s), $icookies cookie replies, $(( ireplies - icookies )) other replies"
check "a handshake flood gets cookie replies, nothing else" test "$icookies" -gt 0 -a "$ireplies" = "$icookies"
check "the hub counted cookies demanded" test "$(hub_status | jq '.drops.cookie_sent // 0')" -gt 0
check "both clients still pass traffic" bash -c \
  "ip netns exec $(ns cli) ping -c2 -W1 10.4.0.2 >/dev/null && ip netns exec $(ns cli2) ping -c2 -W1 10.4.0.2 >/dev/null"
summary
