#!/usr/bin/env bash
# A client that restarts (kill -9, then SIGTERM) while the hub still holds its
# old session: the new process draws a new session id, the hub starts a fresh
# stream for it, and traffic flows at once (before the fix the hub dropped the
# new stream's packets as duplicate_data until its sequence overtook the old).
set -u
. "$(dirname "$0")/lab.sh"
require_root "client_restart_test"
trap lab_down EXIT

lab_up
lab_one_hub
status() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" "$@"; }
hub_drop() { nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -r ".drops.$1 // 0"; }
transfer() {  # transfer NAME BYTES: cli -> srv through the tunnel; prints "sent|received"
  lab_start srv "sink_$1" $NETPEER sink 5001
  wait_for 5 grep -q ready "$LAB_DIR/sink_$1.log"
  local out
  out=$(nsx cli timeout 60 $NETPEER send 10.4.0.2 5001 "$2" | cut -d' ' -f1,2)
  wait_for 10 bash -c "tail -n1 '$LAB_DIR/sink_$1.log' | grep -v ready | grep -q ' '"
  echo "$out|$(tail -n1 "$LAB_DIR/sink_$1.log" | cut -d' ' -f1,2)"
}
intact() { [ -n "${1%%|*}" ] && [ "${1%%|*}" = "${1##*|}" ]; }

# Give the old stream a long history (some 4000 data sequences each way).
r=$(transfer before 6000000)
check "a 6 MB transfer before the restart arrives intact" intact "$r"

for how in KILL TERM; do
  kill -s "$how" "$PID_cli"
  wait "$PID_cli" 2>/dev/null
  [ "$how" = TERM ] || nsx cli "$BIN/tund" cleanup -c "$LAB_DIR/cli.toml" >/dev/null
  dup_before=$(hub_drop duplicate_data)
  lab_start cli "cli_$how" "$BIN/tund" run -c "$LAB_DIR/cli.toml"
  check "SIG$how: the restarted client connects" wait_for 10 status
  took=$(wait_ms 3000 nsx cli ping -c1 -W1 10.4.0.2)
  echo "   SIG$how: first ping answered $took ms after connected"
  check "SIG$how: ping within 1 s of connected ($took ms)" test "$took" != timeout -a "${took:-9999}" -le 1000
  r=$(transfer "after_$how" 2000000)
  check "SIG$how: a TCP transfer after the restart arrives intact" intact "$r"
  dup_after=$(hub_drop duplicate_data)
  check "SIG$how: the hub dropped nothing of the new stream as a duplicate ($dup_before -> $dup_after)" \
    test "$dup_after" -le $(( dup_before + 2 ))
  eval "PID_cli=\$PID_cli_$how"
done
summary
