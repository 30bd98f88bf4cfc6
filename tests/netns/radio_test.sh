#!/usr/bin/env bash
# One radio scenario, CI-sized (the measured runs, beside wireguard-go, are
# bench/radio): the client's uplinks behind the link emulator (LINKS=radio:
# a 20 Mbit/s Wi-Fi, the LTE drive trace), a voice call and a 4 Mbit/s
# download while Wi-Fi fades for 3 s, loses carrier for 5 s and comes back.
# tund must leave the fade on its own data (a gray verdict, before the
# carrier goes), keep the download intact, keep the call within loose bounds
# (the target is 20 late-or-lost frames each way, here 40), be back on Wi-Fi
# at the end; and a bulk download filling the healthy Wi-Fi's queue must not
# move it (0 moves, 0 copies).
set -u
export LINKS=radio
. "$(dirname "$0")/lab.sh"
require_root "radio_test"
BEFORE=3 FADE=3 LTE_S=5 BACK_S=5 DL_RATE=500000 BULK_S=8
RESULTS=$(mktemp); BULK_RESULTS=$(mktemp)
. "$(dirname "$0")/radio.sh"
trap 'lab_down; rm -f "$RESULTS" "$BULK_RESULTS"' EXIT

lab_up
check "linkem runs the Wi-Fi and LTE links" bash -c "lab_link_stats() { :; }; ip netns exec $(ns em) '$BIN/linkem' ctl '$LAB_DIR/linkem.sock' stats | grep -q '^lte down'"
lab_one_hub
CLI_IP=10.77.0.2
status() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json; }
check "client connects over the emulated Wi-Fi" wait_for 10 bash -c "[ \"\$(ip netns exec $(ns cli) '$BIN/tund' status -c '$LAB_DIR/cli.toml' --json | jq -r .active_uplink)\" = wlan0 ]"
sleep 2

g0=$(status | jq .gray_verdicts)
radio_drive tund 1
g1=$(status | jq .gray_verdicts)
bad_up=$(echo "$RADIO_REPORT" | jq .up.whole); bad_dn=$(echo "$RADIO_REPORT" | jq .down.whole)
fade_dn=$(echo "$RADIO_REPORT" | jq .down.bad.fade)
check "the download arrived intact" test "$RADIO_INTACT" = yes
check "the fading Wi-Fi was left on its data (gray verdicts: $((g1 - g0)))" test "$((g1 - g0))" -ge 1
check "the call: at most 40 frames late or lost each way over the drive (up $bad_up, down $bad_dn)" \
  test "$bad_up" -le 40 -a "$bad_dn" -le 40
check "at most 3 moves in the drive ($RADIO_MOVES)" test "$RADIO_MOVES" -le 3
check "back on Wi-Fi at the end" wait_for 15 bash -c "[ \"\$(ip netns exec $(ns cli) '$BIN/tund' status -c '$LAB_DIR/cli.toml' --json | jq -r .active_uplink)\" = wlan0 ]"

sleep 3
radio_bulk tund 1
check "a bulk download on the healthy Wi-Fi: no move, no copy (moves $RADIO_BULK_MOVES, copied $RADIO_BULK_COPIED)" \
  test "$RADIO_BULK_MOVES:$RADIO_BULK_COPIED" = "0:0"
check "and it gets most of the 20 Mbit/s ($RADIO_BULK_MBIT Mbit/s)" awk -v m="$RADIO_BULK_MBIT" 'BEGIN{exit !(m >= 12)}'
summary
