#!/usr/bin/env bash
# The C API's second shell (examples/embed: plain C, libtund.so.0 only, its
# own TUN and UDP sockets) against a real tund-hub, beside tund on the same
# lab: pings both ways, a transfer each way intact through wlan0's link going
# down (the stall measured), and a clean exit on SIGTERM. tund runs the same
# steps first, so the figures printed compare the two shells of one engine.
set -u
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/events.sh"
require_root "embed_test"
trap lab_down EXIT
if [ ! -x "$BIN/embed" ]; then
  echo "SKIPPED: $BIN/embed not built"
  exit 77
fi

lab_up
lab_one_hub
rtt() {  # rtt NS DEST: the average round trip of 20 pings (ms), or "lost"
  nsx "$1" ping -q -c 20 -i 0.05 -W 1 "$2" | sed -n 's|^rtt [^=]*= [^/]*/\([^/]*\)/.*|\1|p' | grep . || echo lost
}
# Both shells run these; figures go to FIG_<shell>_*.
steps() {
  local shell=$1 on_lte=$2
  check "$shell: connected" wait_for 10 "$3"
  local up dn
  up=$(rtt cli 10.4.0.2); dn=$(rtt srv 10.77.0.2)
  echo "   $shell: ping client -> server ${up} ms, server -> client ${dn} ms"
  check "$shell: ping both ways" test "$up" != lost -a "$dn" != lost
  through "${shell}_down" event_down
  check "$shell: moved to lte0" wait_for 5 "$on_lte"
  check "$shell: stall under 3 s both ways" test "$GAP_UP" -lt 3000 -a "$GAP_DN" -lt 3000
  eval "FIG_${shell}_PING='$up / $dn'; FIG_${shell}_GAP='$GAP_UP / $GAP_DN'"
  restore_down
}

# tund first: the reference.
tund_status() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json 2>/dev/null; }
tund_up() { tund_status | jq -e '.state == "connected"' >/dev/null; }
tund_on_lte() { tund_status | jq -e '.active_uplink == "lte0"' >/dev/null; }
steps tund tund_on_lte tund_up
kill -TERM "$PID_cli"; wait "$PID_cli" 2>/dev/null
wait_for 5 sh -c "! ip netns exec $(ns cli) ip link show tun0"

# The same key, its config in memory: private_key inline (the example reads
# the file itself and hands the text to tund_client_new).
sed "s|^private_key_file = .*|private_key = \"$(cat "$LAB_DIR/phone.key")\"|" "$LAB_DIR/cli.toml" > "$LAB_DIR/embed.toml"
lab_start cli embed "$BIN/embed" "$LAB_DIR/embed.toml" tun0 wlan0 lte0 --status "$LAB_DIR/embed.json"
embed_up() { jq -e '.state == "connected"' "$LAB_DIR/embed.json" >/dev/null; }
embed_on_lte() { jq -e '.active_uplink == "lte0"' "$LAB_DIR/embed.json" >/dev/null; }
steps embed embed_on_lte embed_up
check "embed: the engine counted a handover" test "$(jq .handovers "$LAB_DIR/embed.json")" -ge 1
check "embed: back on wlan0 once it returns" wait_for 10 jq -e '.active_uplink == "wlan0"' "$LAB_DIR/embed.json"
check "embed: the hub sees the client on wlan0" \
  wait_for 5 sh -c "ip netns exec $(ns hub) '$BIN/tund-hub' status -c '$LAB_DIR/hub.toml' --json | jq -e '.sessions[0].endpoint | startswith(\"10.1.0.\")'"
embed_gap_ok() {  # comparable to tund's: within a second of it, each way
  local tu td eu ed
  IFS=' /' read -r tu td <<< "$FIG_tund_GAP"; IFS=' /' read -r eu ed <<< "$FIG_embed_GAP"
  [ "$eu" -le $((tu + 1000)) ] && [ "$ed" -le $((td + 1000)) ]
}
check "embed: link-down stall comparable to tund's (within 1 s)" embed_gap_ok

kill -TERM "$PID_embed"; wait "$PID_embed"; rc=$?
check "embed: exits 0 on SIGTERM" test "$rc" = 0
check "embed: says it stopped" grep -q "embed: stopped" "$LAB_DIR/embed.log"
check "embed: its TUN is gone" sh -c "! ip netns exec $(ns cli) ip link show tun0 2>/dev/null"

echo "FIGURES (ms; client->server / server->client):"
echo "   tund : ping $FIG_tund_PING, link-down stall $FIG_tund_GAP"
echo "   embed: ping $FIG_embed_PING, link-down stall $FIG_embed_GAP"
echo "   libtund exports: $(nm -D --defined-only "$(dirname "$BIN")/lib/libtund.so.0" | awk '{print $3}' | sort | tr '\n' ' ')"
summary
