#!/usr/bin/env bash
# Install and systemd: `cmake --install` lays out binaries, units and
# examples (nothing in sysctl.d); the units pass `systemd-analyze verify`; under a
# notification socket (as systemd gives one) both daemons say READY=1 and a
# STATUS= line that follows handshakes and handovers, feed the watchdog from
# their event loops (none while stopped) and say STOPPING=1 on SIGTERM.
set -u
cd "$(dirname "$0")"
. ./lab.sh
require_root
BUILD=$(dirname "$BIN")
SRC=$(cd ../.. && pwd)
NETPEER="python3 $PWD/netpeer.py"

lab_up
trap lab_down EXIT

# 1. Install into a scratch prefix.
PREFIX="$LAB_DIR/prefix"
cmake --install "$BUILD" --prefix "$PREFIX" > "$LAB_DIR/install.log" 2>&1
for f in bin/tund bin/tund-hub lib/systemd/system/tund@.service lib/systemd/system/tund-hub.service \
         share/doc/tund/examples/client.toml share/doc/tund/examples/hub.toml \
         share/doc/tund/examples/sysctl/60-tund-forwarding.conf; do
  check "cmake --install puts $f in place" test -s "$PREFIX/$f"
done
check "cmake --install puts nothing in a sysctl.d directory" bash -c "! find '$PREFIX' -path '*sysctl.d*' | grep -q ."

# 2. The units, pointed at the binaries just built, pass systemd-analyze verify
#    (it prints nothing when a unit is clean; it also checks ExecStart exists).
mkdir -p "$LAB_DIR/units"
for u in tund@ tund-hub; do
  sed -e "s|@TUND_BINDIR@|$BIN|g" -e "s|@TUND_DOCDIR@|$SRC|g" "$SRC/systemd/$u.service.in" > "$LAB_DIR/units/$u.service"
done
cp "$LAB_DIR/units/tund@.service" "$LAB_DIR/units/tund@main.service"
verify_units "$LAB_DIR/units" tund@main tund-hub
check "the units are Type=notify with only CAP_NET_ADMIN and CAP_NET_RAW" \
  test "$(grep -h -e '^Type=' -e '^CapabilityBoundingSet=' "$LAB_DIR/units/tund@.service" "$LAB_DIR/units/tund-hub.service" | sort -u | tr '\n' ' ')" \
       = "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW Type=notify "
check "both units ask for the watchdog (WatchdogSec=10s)" \
  test "$(grep -h '^WatchdogSec=' "$LAB_DIR/units/tund@.service" "$LAB_DIR/units/tund-hub.service" | sort -u)" = "WatchdogSec=10s"

# 3. sd_notify: READY=1 and STATUS= that follows the session and the uplink.
lab_keys hub phone
{ lab_hub_toml 'metrics_listen = "127.0.0.1:9587"'; cat <<TOML
[[client]]
name = "phone"
public_key = "$(pub phone)"
[nat]
masquerade = ["10.4.0.0/24"]
TOML
} > "$LAB_DIR/hub.toml"
{ lab_phone_toml 'metrics_listen = "127.0.0.1:9586"'; cat <<TOML
[uplinks]
hold_down_ms = 500
TOML
} > "$LAB_DIR/cli.toml"
lab_start hub notify_hub $NETPEER notify "$LAB_DIR/hub.notify"
lab_start cli notify_cli $NETPEER notify "$LAB_DIR/cli.notify"
wait_for 5 grep -q ready "$LAB_DIR/notify_hub.log"
wait_for 5 grep -q ready "$LAB_DIR/notify_cli.log"
lab_start hub hub env NOTIFY_SOCKET="$LAB_DIR/hub.notify" "$BIN/tund-hub" run -c "$LAB_DIR/hub.toml"
wait_for 5 grep -q READY=1 "$LAB_DIR/notify_hub.log"
lab_start cli cli env NOTIFY_SOCKET="$LAB_DIR/cli.notify" "$BIN/tund" run -c "$LAB_DIR/cli.toml"
check "hub: READY=1 with a STATUS line" grep -q "READY=1 | STATUS=listening on 0.0.0.0:51900" "$LAB_DIR/notify_hub.log"
check "client: READY=1 with a STATUS line" wait_for 5 grep -q "^READY=1 | STATUS=main: " "$LAB_DIR/notify_cli.log"
check "client: STATUS says connected via wlan0" wait_for 10 grep -q "STATUS=main: connected via wlan0, vip 10.77.0.2" "$LAB_DIR/notify_cli.log"
check "hub: STATUS counts the session" wait_for 5 grep -q "STATUS=.*1 of 1 client(s) connected" "$LAB_DIR/notify_hub.log"
nsx cli "$BIN/tund" switch lte0 -c "$LAB_DIR/cli.toml" > /dev/null
check "client: STATUS follows a handover to lte0" wait_for 5 grep -q "STATUS=main: connected via lte0" "$LAB_DIR/notify_cli.log"
# The journal's events, outside the journal: their plain lines.
check "hub: the session's event line" grep -q "notice: client phone: session established from 10\.1\.0\.2:" "$LAB_DIR/hub.log"
check "client: the connected and uplink events' lines" bash -c "grep -q 'notice: hub main: connected to 10.3.0.2:51900 via wlan0' '$LAB_DIR/cli.log' &&
  grep -q 'notice: hub main: uplink wlan0 (IPv4) -> lte0 (IPv4) (switch lte0' '$LAB_DIR/cli.log'"
echo "   client notifications: $(tr '\n' '/' < "$LAB_DIR/notify_cli.log")"
# Prometheus: both daemons serve /metrics; the handover shows in the counters.
scrape() { nsx "$1" python3 -c "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$2$3', timeout=5).read().decode())" 2>&1; }
scrape cli 9586 /metrics > "$LAB_DIR/metrics.cli"
scrape hub 9587 /metrics > "$LAB_DIR/metrics.hub"
scrape cli 9586 /nope > "$LAB_DIR/metrics.404"
scrape cli 9586 '/metrics?x=1' > "$LAB_DIR/metrics.query"
MC="$LAB_DIR/metrics.cli"
MH="$LAB_DIR/metrics.hub"
check "client metrics: session info with hub, VIP and cipher" \
  grep -q '^tund_session_info{hub="main",vip="10.77.0.2",cipher="[a-z0-9-]*"} 1$' "$MC"
check "client metrics: the state is a value, not a label" \
  bash -c "grep -q '^tund_session_state{hub=\"main\",state=\"connected\"} 1$' '$MC' && grep -q '^tund_session_state{hub=\"main\",state=\"connecting\"} 0$' '$MC'"
check "client metrics: the active uplink is a value (lte0 after the switch)" \
  bash -c "grep -q '^tund_uplink_role{hub=\"main\",uplink=\"lte0\",role=\"active\"} 1$' '$MC' && grep -q '^tund_uplink_role{hub=\"main\",uplink=\"wlan0\",role=\"active\"} 0$' '$MC'"
check "client metrics: the build's version" grep -q '^tund_build_info{version="[0-9.]*"} 1$' "$MC"
check "client metrics: one manual handover" grep -q '^tund_handovers_total{reason="manual"} 1$' "$MC"
check "client metrics: the switching exchange is in the histogram" grep -q '^tund_handover_duration_seconds_count 1$' "$MC"
check "client metrics: byte counters" grep -q '^tund_session_tx_bytes_total{hub="main"} [1-9]' "$MC"
check "client metrics: last handshake as unix time" grep -q '^tund_session_last_handshake_seconds{hub="main"} 1[0-9]\{9\}$' "$MC"
check "client metrics: resend buffer occupancy" grep -q '^tund_resend_buffer_bytes{hub="main"} ' "$MC"
check "hub metrics: the session without its endpoint (it moves)" grep -q '^tund_hub_session_info{client="phone",vip="10.77.0.2",cipher="[a-z0-9-]*"} 1$' "$MH"
check "hub metrics: the build's version" grep -q '^tund_hub_build_info{version="[0-9.]*"} 1$' "$MH"
check "hub metrics: counters and sessions" bash -c "grep -q '^tund_hub_session_rx_bytes_total{client=\"phone\"} [1-9]' '$MH' && grep -q '^tund_hub_sessions 1$' '$MH'"
check "metrics: every family has HELP and TYPE" test "$(cat "$MC" "$MH" | grep -c '^# TYPE')" = "$(cat "$MC" "$MH" | grep -c '^# HELP')"
check "metrics: other paths are 404" grep -q 404 "$LAB_DIR/metrics.404"
check "metrics: a query string is ignored" grep -q '^tund_up 1$' "$LAB_DIR/metrics.query"
check "without NOTIFY_SOCKET nothing is sent (and nothing breaks)" nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"

# 4. Reload (ExecReload = SIGHUP): RELOADING=1 then READY=1; routes and the
#    client list change at once; live sessions stay; a bad config changes nothing.
hs_before=$(nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json | jq '.hubs[0].handshakes')
sed -i 's|^routes = .*|routes = ["10.4.0.0/24", "10.9.0.0/24"]|' "$LAB_DIR/cli.toml"
kill -HUP "$PID_cli"
check "client reload: RELOADING=1 then READY=1" wait_for 5 bash -c "grep -A1 '^RELOADING=1' '$LAB_DIR/notify_cli.log' | grep -q READY=1"
check "client reload: the new route is in place" wait_for 5 bash -c "ip netns exec $(ns cli) ip route show 10.9.0.0/24 | grep -q tun0"
check "client reload: the session stayed (no new handshake)" \
  test "$(nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json | jq '.hubs[0].handshakes')" = "$hs_before"
sed -i 's|^routes = .*|routes = ["10.4.0.0/24"]|' "$LAB_DIR/cli.toml"
kill -HUP "$PID_cli"
check "client reload: a route taken out of the config goes" wait_for 5 bash -c "! ip netns exec $(ns cli) ip route show 10.9.0.0/24 | grep -q tun0"
cat >> "$LAB_DIR/hub.toml" <<TOML
[[client]]
name = "laptop"
public_key = "$(wg_free_key=$(nsx hub "$BIN/tund" genkey); echo "$wg_free_key" | "$BIN/tund" pubkey)"
TOML
kill -HUP "$PID_hub"
check "hub reload: the new client is known" wait_for 5 bash -c \
  "ip netns exec $(ns hub) '$BIN/tund-hub' status -c '$LAB_DIR/hub.toml' --json | jq -e '.clients | map(.name) | index(\"laptop\") != null'"
check "hub reload: the phone's session stayed" \
  test "$(nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq '.sessions | length')" = 1
cp "$LAB_DIR/hub.toml" "$LAB_DIR/hub.toml.good"
echo "listen = 7" >> "$LAB_DIR/hub.toml"
kill -HUP "$PID_hub"
check "hub reload with a broken config: refused, logged, still serving" \
  wait_for 5 bash -c "grep -q 'reload refused, config unchanged' '$LAB_DIR/hub.log' && ip netns exec $(ns hub) '$BIN/tund-hub' status -c '$LAB_DIR/hub.toml.good' >/dev/null"
cp "$LAB_DIR/hub.toml.good" "$LAB_DIR/hub.toml"

# 5. cleanup (ExecStopPost): refuses while the daemon runs; after kill -9 it
#    removes the hub's nftables table and the stale control sockets; again, nothing.
check "tund-hub cleanup refuses while the hub runs" test "$(nsx hub "$BIN/tund-hub" cleanup -c "$LAB_DIR/hub.toml" >/dev/null 2>&1; echo $?)" = 1
kill -9 "$PID_hub" "$PID_cli"
wait "$PID_hub" "$PID_cli" 2>/dev/null
check "after kill -9 the hub's NAT table is left behind" bash -c "ip netns exec $(ns hub) nft list table ip tund_hub_hub0 >/dev/null"
out=$(nsx hub "$BIN/tund-hub" cleanup -c "$LAB_DIR/hub.toml")
echo "   $(echo "$out" | tr '\n' ';')"
check "tund-hub cleanup removes the table and the stale socket" \
  test "$(echo "$out" | grep -c -e 'nftables table ip tund_hub_hub0' -e 'control socket')" = 2
check "the table is gone" bash -c "! ip netns exec $(ns hub) nft list table ip tund_hub_hub0 >/dev/null 2>&1"
check "tund cleanup removes the client's stale socket" bash -c "ip netns exec $(ns cli) '$BIN/tund' cleanup -c '$LAB_DIR/cli.toml' | grep -q 'control socket'"
check "cleanup again: nothing to clean up, exit 0" \
  test "$(nsx hub "$BIN/tund-hub" cleanup -c "$LAB_DIR/hub.toml")" = "nothing to clean up"

# 6. The watchdog, as systemd drives it for WatchdogSec=2s (WATCHDOG_USEC in
#    the environment): WATCHDOG=1 from each daemon's event loop every second
#    (half the interval). A stopped process (SIGSTOP: to systemd, a wedged
#    loop) sends none for longer than the interval, which is what makes
#    systemd kill and restart it; after SIGCONT the pings resume at once and
#    at their pace (no burst). SIGTERM: STOPPING=1 before the daemon exits.
for d in hub cli; do
  lab_start $d "wdnotify_$d" $NETPEER notify "$LAB_DIR/wd_$d.notify" --times
  wait_for 5 grep -q ready "$LAB_DIR/wdnotify_$d.log"
done
lab_start hub wdhub env NOTIFY_SOCKET="$LAB_DIR/wd_hub.notify" WATCHDOG_USEC=2000000 "$BIN/tund-hub" run -c "$LAB_DIR/hub.toml"
lab_start cli wdcli env NOTIFY_SOCKET="$LAB_DIR/wd_cli.notify" WATCHDOG_USEC=2000000 "$BIN/tund" run -c "$LAB_DIR/cli.toml"
wait_for 5 grep -q READY=1 "$LAB_DIR/wdnotify_hub.log"
wait_for 5 grep -q READY=1 "$LAB_DIR/wdnotify_cli.log"
sleep 3.5
t_stop=$(date +%s.%N)
kill -STOP "$PID_wdhub" "$PID_wdcli"
sleep 3
t_cont=$(date +%s.%N)
kill -CONT "$PID_wdhub" "$PID_wdcli"
sleep 3.5
kill -TERM "$PID_wdhub" "$PID_wdcli"
wait "$PID_wdhub" "$PID_wdcli" 2>/dev/null
sleep 0.2
plus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a + b }'; }
# watchdog_pings LOG FROM TO: the arrival times of WATCHDOG=1 within (FROM, TO).
watchdog_pings() { awk -v a="$2" -v b="$3" '$2 == "WATCHDOG=1" && $1 > a && $1 < b { print $1 }' "$1"; }
# paced LOG FROM TO: two or more pings within (FROM, TO), each 0.8-1.3 s after the one before.
paced() { watchdog_pings "$@" | awk 'NR > 1 { g = $1 - p; if (g < 0.8 || g > 1.3) bad = 1 } { p = $1 } END { exit (NR < 2 || bad) }'; }
for d in hub cli; do
  log="$LAB_DIR/wdnotify_$d.log"
  echo "   $d watchdog pings (stop at $t_stop, cont at $t_cont): $(watchdog_pings "$log" 0 9e9 | tr '\n' ' ')"
  check "$d: WATCHDOG=1 every ~1 s (half of WATCHDOG_USEC) while running" paced "$log" 0 "$t_stop"
  check "$d: no WATCHDOG=1 while stopped (3 s, longer than the 2 s interval)" \
    test -z "$(watchdog_pings "$log" "$(plus "$t_stop" 0.2)" "$t_cont")"
  check "$d: pings resume within 0.5 s of SIGCONT" test -n "$(watchdog_pings "$log" "$t_cont" "$(plus "$t_cont" 0.5)")"
  check "$d: then at their pace, without a burst of the missed ones" paced "$log" "$t_cont" 9e9
  check "$d: STOPPING=1 on SIGTERM" grep -q " STOPPING=1$" "$log"
done

summary
