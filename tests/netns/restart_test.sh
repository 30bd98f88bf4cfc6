#!/usr/bin/env bash
# Hub restarts: the hub keeps its VIP assignments in its state directory; after
# kill -9 and a restart (here with a config that lists a new client first), the
# client re-handshakes by itself within 5 s of the hub being back, gets the same
# VIP, and an inner TCP transfer running across the restart arrives intact.
# A hub that cannot write its state directory says so and exits non-zero.
set -u
. "$(dirname "$0")/lab.sh"
require_root "restart_test"
trap lab_down EXIT
NETPEER="python3 $(dirname "$0")/netpeer.py"

lab_up
lab_keys hub phone laptop
hub_config() {  # hub_config [EXTRA_CLIENT_FIRST]
  lab_hub_toml "" "$LAB_DIR/state"
  cat <<TOML
${1:-}
[[client]]
name = "phone"
public_key = "$(pub phone)"
TOML
}
hub_config > "$LAB_DIR/hub.toml"
lab_phone_toml > "$LAB_DIR/cli.toml"
lab_start hub hub "$BIN/tund-hub" run -c "$LAB_DIR/hub.toml"
wait_for 5 nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml"
lab_start cli cli "$BIN/tund" run -c "$LAB_DIR/cli.toml"
check "the client connects" wait_for 10 nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"
vip_before=$(nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json | jq -r .vip)
check "the hub wrote its leases" grep -q "$(pub phone) $vip_before" "$LAB_DIR/state/leases-hub0"

# A paced transfer (3 MB at 500 kB/s) across the restart.
lab_start srv sink $NETPEER sink 5001
wait_for 5 grep -q ready "$LAB_DIR/sink.log"
lab_start cli send bash -c "timeout 60 $NETPEER send 10.4.0.2 5001 3000000 500000 > '$LAB_DIR/send.out'"
sleep 1.5
kill -9 "$PID_hub"
wait "$PID_hub" 2>/dev/null
sleep 1
# The new config lists a new client first: without the lease it would take the phone's VIP.
hub_config "[[client]]
name = \"laptop\"
public_key = \"$(pub laptop)\"" > "$LAB_DIR/hub.toml"
lab_start hub hub2 "$BIN/tund-hub" run -c "$LAB_DIR/hub.toml"
wait_for 5 nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml"
back=$(date +%s%N)
session_up() { nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -e '.sessions | map(select(.name == "phone")) | length == 1' >/dev/null; }
until session_up || [ $(( ($(date +%s%N) - back) / 1000000 )) -gt 10000 ]; do sleep 0.05; done
took=$(( ($(date +%s%N) - back) / 1000000 ))
echo "   client back $took ms after the hub was"
check "the client re-handshakes within 5 s of the hub being back ($took ms)" test "$took" -le 5000
check "the phone keeps its VIP ($vip_before) though the config order changed" \
  test "$(nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json | jq -r .vip)" = "$vip_before"
check "the new client got another address" \
  test "$(nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -r '.clients[] | select(.name == "laptop") | .vip')" != "$vip_before"
wait_for 40 bash -c "tail -n1 '$LAB_DIR/sink.log' | grep -v ready | grep -q ' '"
wait_for 5 test -s "$LAB_DIR/send.out"
sent=$(cut -d' ' -f1,2 "$LAB_DIR/send.out"); got=$(tail -n1 "$LAB_DIR/sink.log" | cut -d' ' -f1,2)
echo "   transfer across the restart: sent $sent / received $got, longest gap $(tail -n1 "$LAB_DIR/sink.log" | cut -d' ' -f4) ms"
check "the inner TCP transfer survives the restart intact" test -n "$sent" -a "$sent" = "$got"

# A state directory the hub cannot write: a clear message, a non-zero exit.
sed -e "s|^state_directory = .*|state_directory = \"/proc/tund-nope\"|" -e "s|hub.sock|hub3.sock|" \
  -e 's|^\[tun\]|[tun]\nname = "hub9"|' "$LAB_DIR/hub.toml" > "$LAB_DIR/bad.toml"
nsx hub timeout 5 "$BIN/tund-hub" run -c "$LAB_DIR/bad.toml" > "$LAB_DIR/bad.log" 2>&1
rc=$?
check "an unwritable state directory: exit non-zero ($rc) and says why" \
  bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'state directory /proc/tund-nope' '$LAB_DIR/bad.log'"

summary
