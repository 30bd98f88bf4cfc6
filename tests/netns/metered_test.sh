#!/usr/bin/env bash
# Metered from the system: NetworkManager knows that the Wi-Fi is a phone's
# hotspot (metered) and the LTE a flat-rate router, whatever their names say.
# A bus of the test's own (dbus-daemon) with a stand-in NetworkManager
# (fake_nm.py) on it; the client reads the Metered property of each uplink
# over it, follows its changes, lets configured globs override it, and falls
# back to the name globs when NetworkManager does not answer.
set -u
. "$(dirname "$0")/lab.sh"
require_root "metered_test"
trap lab_down EXIT

lab_up
lab_bus
printf 'wlan0 1\nlte0 2\n' > "$LAB_DIR/nm.state"   # a hotspot, and a flat-rate LTE router
lab_start inet nm "$PY" "$ROOT/tests/netns/fake_nm.py" "$LAB_DIR/nm.state"
check "the stand-in NetworkManager is on the test's bus" wait_for 5 grep -q ready "$LAB_DIR/nm.log"

lab_one_hub '[uplinks]
hold_down_ms = 300'
status() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json 2>/dev/null; }
active_is() { test "$(status | jq -r .active_uplink)" = "$1"; }
metered_is() {  # metered_is IF true|false SOURCE
  test "$(status | jq -r --arg u "$1" '.uplinks[] | select(.name == $u) | "\(.metered) \(.metered_by)"')" = "$2 $3"
}
restart_client() {
  kill "$PID_cli"; wait "$PID_cli" 2>/dev/null
  lab_start cli cli "$BIN/tund" run -c "$LAB_DIR/cli.toml"
  wait_for 10 nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"
}

check "NetworkManager was asked about the uplinks" grep -q "asked wlan0" "$LAB_DIR/nm.log"
check "wlan0 is metered, as NetworkManager says" wait_for 5 metered_is wlan0 true networkmanager
check "lte0 is not, as NetworkManager says (its name alone would make it metered)" metered_is lte0 false networkmanager
check "so the session runs on lte0" wait_for 5 active_is lte0
nsx cli ping -q -c 2 -i 0.2 -W 2 10.4.0.2 >/dev/null
check "and carries traffic" nsx cli ping -q -c 2 -i 0.2 -W 2 10.4.0.2

# The user leaves the hotspot's profile, the LTE becomes metered:
# NetworkManager emits PropertiesChanged and the client follows.
printf 'wlan0 4\nlte0 1\n' > "$LAB_DIR/nm.state"
took=$(wait_ms 5000 active_is wlan0)
echo "   back on wlan0 ${took} ms after NetworkManager's change"
check "a change NetworkManager announces moves the session to wlan0" test "$took" != timeout
check "wlan0 is now guessed unmetered" metered_is wlan0 false networkmanager
check "lte0 metered" metered_is lte0 true networkmanager

# Globs the user wrote override NetworkManager.
echo 'metered = ["wlan*"]' >> "$LAB_DIR/cli.toml"
restart_client
check "configured globs override NetworkManager: wlan0 metered by config" wait_for 5 metered_is wlan0 true config
check "and lte0 (not in the globs) is not: the session runs on lte0" wait_for 5 active_is lte0

# Without NetworkManager the default globs decide (lte* metered).
sed -i '/^metered = /d' "$LAB_DIR/cli.toml"
kill "$PID_nm"; wait "$PID_nm" 2>/dev/null
restart_client
check "NetworkManager gone: metered by the names (lte0 metered)" wait_for 5 metered_is lte0 true name
check "so the session runs on wlan0" wait_for 5 active_is wlan0
check "the client kept running throughout" kill -0 "$PID_cli"
summary
