#!/usr/bin/env bash
# Onboarding in one command: `tund-hub add-client` on a running hub writes
# clients.d/NAME.toml, reloads the hub without touching the sessions it has,
# and prints a client config that connects as printed (in cli2, whose only
# uplink is 10.5.0.2). Bad input exits 2 and changes nothing;
# `remove-client` ends the new client's session.
set -u
. "$(dirname "$0")/lab.sh"
require_root "onboarding_test"
NAME="ob$$"  # the printed config's control socket is /run/tund/$NAME.sock
trap 'lab_down; rm -f /run/tund/$NAME.sock' EXIT

lab_up
lab_one_hub
echo '[nat]
masquerade = ["10.4.0.0/24"]' >> "$LAB_DIR/hub.toml"
nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" >/dev/null  # still loads
hubctl() { nsx hub "$BIN/tund-hub" "$@" -c "$LAB_DIR/hub.toml"; }
hub_json() { hubctl status --json; }
phone_handshakes() { hub_json | jq -r '[.sessions[] | select(.name == "phone") | .handshakes][0] // 0'; }
state() { find "$LAB_DIR/clients.d" -type f 2>/dev/null | sort | xargs -r md5sum; }

# The phone pings all along: a reload must not cost it a packet.
lab_start cli ping_phone ping -i 0.05 -c 200 10.4.0.2
hs_before=$(phone_handshakes)

hubctl add-client "$NAME" --endpoint 10.3.0.2:51900 > "$LAB_DIR/new.toml" 2> "$LAB_DIR/add.err"
rc=$?
check "add-client exits 0 ($(tr '\n' ' ' < "$LAB_DIR/add.err"))" test "$rc" -eq 0
check "it wrote clients.d/$NAME.toml" test -f "$LAB_DIR/clients.d/$NAME.toml"
check "the running hub reloaded" grep -q "the running hub: reloaded: 1 client(s) added" "$LAB_DIR/add.err"
check "the printed config routes the hub's masqueraded network" grep -q 'routes = \["10.4.0.0/24"\]' "$LAB_DIR/new.toml"
vip=$(sed -n 's/^vip = "\(.*\)"/\1/p' "$LAB_DIR/clients.d/$NAME.toml")
check "the new client got the next free VIP ($vip)" test "$vip" = 10.77.0.3

# Started exactly as printed, in a namespace of its own.
lab_start cli2 newcli "$BIN/tund" run -c "$LAB_DIR/new.toml"
check "the printed config connects" wait_for 10 nsx cli2 "$BIN/tund" status -c "$LAB_DIR/new.toml"
check "traffic passes through it" wait_for 5 nsx cli2 ping -c1 -W1 10.4.0.2
check "the hub gives it its VIP" test "$(hub_json | jq -r ".sessions[] | select(.name == \"$NAME\") | .vip")" = "$vip"

wait "$PID_ping_phone"
loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$LAB_DIR/ping_phone.log")
check "the phone lost no ping across the reload (${loss}% loss)" test "$loss" = 0
check "the phone's session was kept (handshakes $hs_before -> $(phone_handshakes))" test "$(phone_handshakes)" = "$hs_before"

# Bad input: one line, exit 2, nothing changed.
before=$(state)
bad() {  # bad DESCRIPTION ARGS...
  local what=$1; shift
  local err; err=$(hubctl "$@" 2>&1 >/dev/null); local rc=$?
  check "$what: exit 2, one line ($err)" test "$rc" -eq 2 -a "$(printf '%s\n' "$err" | wc -l)" -eq 1
  check "$what: nothing changed" test "$(state)" = "$before"
}
bad "an existing name" add-client "$NAME" --endpoint 10.3.0.2:51900
bad "a VIP taken" add-client other --vip 10.77.0.2 --endpoint 10.3.0.2:51900
bad "a VIP outside the subnet" add-client other --vip 10.78.0.5 --endpoint 10.3.0.2:51900
bad "a bad VIP" add-client other --vip 10.77.0.300 --endpoint 10.3.0.2:51900
bad "a bad name" add-client ../other --endpoint 10.3.0.2:51900
bad "no endpoint for a wildcard listen address" add-client other
bad "a bad route" add-client other --routes 10.9.0.0/99 --endpoint 10.3.0.2:51900
bad "removing a client of hub.toml" remove-client phone
bad "removing an unknown client" remove-client nobody
touch "$LAB_DIR/afile"
sed 's|^state_directory|clients_directory = "afile/clients.d"\nstate_directory|' "$LAB_DIR/hub.toml" > "$LAB_DIR/hub-unwritable.toml"
err=$(nsx hub "$BIN/tund-hub" add-client other --endpoint 10.3.0.2:51900 -c "$LAB_DIR/hub-unwritable.toml" 2>&1 >/dev/null)
rc=$?
check "an unwritable clients directory: exit 2 ($err)" test "$rc" -eq 2
check "an unwritable clients directory: nothing changed" test "$(state)" = "$before"

# Removal ends the session.
check "remove-client exits 0" hubctl remove-client "$NAME"
check "its file is gone" test ! -e "$LAB_DIR/clients.d/$NAME.toml"
no_session() { [ "$(hub_json | jq -r "[.sessions[] | select(.name == \"$NAME\")] | length")" = 0 ]; }
check "the hub ended its session" wait_for 3 no_session
check "its traffic stops" bash -c "! ip netns exec $(ns cli2) ping -c2 -W1 10.4.0.2 >/dev/null"
check "the phone still passes traffic" nsx cli ping -q -c1 -W1 10.4.0.2
summary
