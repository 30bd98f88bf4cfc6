#!/usr/bin/env bash
# DNS in a full tunnel with the kill switch, the hub given by name:
#
#   cli (tun0, kill switch) ─wlan0/lte0─ inet (router; outside DNS 10.9.0.53) ─ hub ─ srv (inside DNS 10.4.0.53)
#
# cli's resolv.conf names the outside server, which answers hub.lab.test
# and counts every question. The daemon looks the hub's name up itself, from
# marked sockets the kill switch lets out (the tunnel connecting proves the
# lookup got through); then sets the TUN's DNS (dns = the inside server,
# dns_domains = corp.test, "~." for the full tunnel) through:
#   A. systemd-resolved: a stand-in on the test's own bus (fake_resolved.py)
#      records the calls and points the namespace's resolv.conf at the
#      tunnel's server, as resolved's stub would route every name there;
#   B. resolvconf, when resolved is absent: a stand-in on PATH records its
#      arguments and input and writes resolv.conf as openresolv -x would;
#   C. neither: a warning, and the tunnel still comes up.
# Applications' names are answered by the inside server; the outside one
# sees only the daemon's questions for the hub (an application forcing a
# query out of wlan0 is dropped by the kill switch). A stop, `tund cleanup`
# after a crash and `tund down` remove the TUN's DNS.
#
# Not covered: the real systemd-resolved (its routing of names by domain,
# its polkit check) and the real openresolv (its subscribers); the stand-ins
# check what tund says to them, per their documented interfaces.
set -u
. "$(dirname "$0")/lab.sh"
require_root "dns_test"
trap lab_down EXIT
started=$(date +%s%N)

lab_up
nsx inet ip addr add 10.9.0.53/32 dev lo
nsx srv ip addr add 10.4.0.53/24 dev eth0
lab_resolv_conf cli "nameserver 10.9.0.53"
netns_resolv="/etc/netns/$(ns cli)/resolv.conf"
lab_start inet outside "$PY" "$ROOT/tests/netns/dns_responder.py" 10.9.0.53 "$LAB_DIR/outside.queries" hub.lab.test=10.3.0.2
lab_start srv inside "$PY" "$ROOT/tests/netns/dns_responder.py" 10.4.0.53 "$LAB_DIR/inside.queries" '*.corp.test=10.4.0.80'
touch "$LAB_DIR/outside.queries" "$LAB_DIR/inside.queries"
wait_for 5 grep -q ready "$LAB_DIR/outside.log" && wait_for 5 grep -q ready "$LAB_DIR/inside.log"

lab_keys hub phone
lab_full_tunnel_hub_toml > "$LAB_DIR/hub.toml"
{ LAB_ENDPOINT=hub.lab.test:51900 lab_phone_toml 'kill_switch = true' '["0.0.0.0/0"]'; cat <<TOML
dns = ["10.4.0.53"]
dns_domains = ["corp.test"]
TOML
} > "$LAB_DIR/cli.toml"
lab_start hub hub "$BIN/tund-hub" run -c "$LAB_DIR/hub.toml"
wait_for 5 nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml"

status() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json 2>/dev/null; }
start_client() { lab_start cli cli "$BIN/tund" run -c "$LAB_DIR/cli.toml"; wait_for 10 nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"; }
stop_client() { kill "$PID_cli"; wait "$PID_cli" 2>/dev/null; }
via_is() { test "$(status | jq -r .dns.via)" = "$1"; }
asked() { grep -c "^$2\( \|\$\)" "$LAB_DIR/$1.queries"; }  # asked outside|inside 'NAME [TYPE]': questions logged
others_outside() { grep -vc '^hub\.lab\.test ' "$LAB_DIR/outside.queries"; }
app_resolves() { nsx cli getent ahostsv4 "$1" | grep -q '^10\.4\.0\.80 '; }
tunnel_dns_in_resolv_conf() { grep -q '^nameserver 10\.4\.0\.53$' "$netns_resolv"; }
resolv_conf_restored() { test "$(cat "$netns_resolv")" = "nameserver 10.9.0.53"; }
# An application that sends a DNS question out of wlan0 itself, around the TUN.
leak_query() {
  nsx cli "$PY" - <<'PY' 2>/dev/null
import socket, struct
q = struct.pack("!HHHHHH", 0x7777, 0x0100, 1, 0, 0, 0) + b"\x04leak\x07example\x04test\x00" + struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"wlan0")
s.settimeout(1)
try:
    s.sendto(q, ("10.9.0.53", 53))
    s.recv(512)
except OSError:
    pass
PY
}

# --- A: systemd-resolved (a stand-in on the test's bus) -----------------------
lab_bus
lab_start cli resolved "$PY" "$ROOT/tests/netns/fake_resolved.py"
check "the stand-in systemd-resolved is on the test's bus" wait_for 5 grep -q ready "$LAB_DIR/resolved.log"
start_client
check "the hub given by name connects with the kill switch on (its lookup left marked through the guard)" \
  test "$(status | jq -r .state)" = connected
check "the daemon looked the hub up itself" grep -q 'hub names: looked up by tund itself (kill switch)' "$LAB_DIR/cli.log"
check "the outside server was asked for the hub (A)" test "$(asked outside 'hub.lab.test A')" -ge 1
ifindex=$(nsx cli cat /sys/class/net/tun0/ifindex)
check "SetLinkDNS: tun0 ($ifindex) gets the inside server" wait_for 5 grep -qx "SetLinkDNS $ifindex 10.4.0.53" "$LAB_DIR/resolved.log"
check "SetLinkDomains: corp.test searched, ~. (every name, a full tunnel)" grep -qx "SetLinkDomains $ifindex corp.test ~." "$LAB_DIR/resolved.log"
check "SetLinkDefaultRoute: yes" grep -qx "SetLinkDefaultRoute $ifindex yes" "$LAB_DIR/resolved.log"
check "status says the DNS is set through systemd-resolved" wait_for 5 via_is systemd-resolved
check "an application resolves app.corp.test through the tunnel" app_resolves app.corp.test
check "and the short name app, searched under corp.test" app_resolves app
nsx cli "$PY" -c 'import socket; socket.getaddrinfo("www.example.test", 80)' >/dev/null 2>&1
check "a name outside corp.test goes to the inside server too (~.)" test "$(asked inside 'www.example.test A')" -ge 1
before=$(nsx cli nft list table inet tund_tun0_guard | grep 'kill switch' | head -1 | sed -n 's/.*packets \([0-9]*\).*/\1/p')
leak_query
after=$(nsx cli nft list table inet tund_tun0_guard | grep 'kill switch' | head -1 | sed -n 's/.*packets \([0-9]*\).*/\1/p')
echo "   a query sent out of wlan0 by an application: kill switch drops $before -> $after"
check "the outside server never saw the application's query" test "$(asked outside 'leak.example.test A')" = 0
sed -i 's/^dns_domains = .*/dns_domains = ["corp.test", "~lab.test"]/' "$LAB_DIR/cli.toml"
kill -HUP "$PID_cli"
check "a reload applies new dns_domains at once" \
  wait_for 5 grep -qx "SetLinkDomains $ifindex corp.test ~lab.test ~." "$LAB_DIR/resolved.log"
stop_client
check "stop: RevertLink for tun0" grep -qx "RevertLink $ifindex" "$LAB_DIR/resolved.log"
check "stop: resolv.conf is the network's again" resolv_conf_restored

# --- B: resolvconf (resolved absent: its stand-in leaves the bus) -------------
kill "$PID_resolved"; wait "$PID_resolved" 2>/dev/null
mkdir -p "$LAB_DIR/bin"
cp "$netns_resolv" "$LAB_DIR/resolv.conf.orig"
cat > "$LAB_DIR/bin/resolvconf" <<SH
#!/bin/sh
# A stand-in for openresolv: records the call and its input; -a writes the
# input as /etc/resolv.conf (the namespace's, in place), -d puts back the original.
echo "resolvconf \$*" >> "$LAB_DIR/resolvconf.calls"
case "\$1" in
  -a) cat > "$LAB_DIR/resolvconf.input"; cat "$LAB_DIR/resolvconf.input" > /etc/resolv.conf ;;
  -d) cat "$LAB_DIR/resolv.conf.orig" > /etc/resolv.conf ;;
esac
SH
chmod +x "$LAB_DIR/bin/resolvconf"
saved_path=$PATH
export PATH="$LAB_DIR/bin:$PATH"
start_client
check "no systemd-resolved: DNS through resolvconf" wait_for 5 via_is resolvconf
check "resolvconf -a tun0 -m 0 -x (exclusive: a full tunnel)" grep -qx "resolvconf -a tun0 -m 0 -x" "$LAB_DIR/resolvconf.calls"
check "its input: the inside server, search corp.test" \
  test "$(cat "$LAB_DIR/resolvconf.input")" = "$(printf 'nameserver 10.4.0.53\nsearch corp.test')"
check "an application resolves app.corp.test through the tunnel" app_resolves app.corp.test
kill -9 "$PID_cli"; wait "$PID_cli" 2>/dev/null
check "after kill -9 the tunnel's DNS stays (the kill switch too)" tunnel_dns_in_resolv_conf
nsx cli "$BIN/tund" cleanup -c "$LAB_DIR/cli.toml" > "$LAB_DIR/cleanup.out" 2>&1
check "tund cleanup runs resolvconf -d tun0 -f" grep -qx "resolvconf -d tun0 -f" "$LAB_DIR/resolvconf.calls"
check "and resolv.conf is the network's again" resolv_conf_restored
check "the kill switch stays after the cleanup" nsx cli nft list table inet tund_tun0_guard
lookups_before=$(asked outside 'hub.lab.test A')
start_client
check "under the kept kill switch the client looks the hub up again and connects" test "$(status | jq -r .state)" = connected
check "(a new question for the hub reached the outside server)" test "$(asked outside 'hub.lab.test A')" -gt "$lookups_before"
stop_client
check "stop: resolvconf -d tun0 -f again" test "$(grep -cx 'resolvconf -d tun0 -f' "$LAB_DIR/resolvconf.calls")" -ge 2
check "stop: resolv.conf is the network's again" resolv_conf_restored
start_client
kill -9 "$PID_cli"; wait "$PID_cli" 2>/dev/null
downs=$(grep -cx 'resolvconf -d tun0 -f' "$LAB_DIR/resolvconf.calls")
nsx cli "$BIN/tund" down -c "$LAB_DIR/cli.toml" > "$LAB_DIR/down.out" 2>&1
check "tund down after a crash removes the DNS too" test "$(grep -cx 'resolvconf -d tun0 -f' "$LAB_DIR/resolvconf.calls")" -gt "$downs"
check "and lifts the kill switch" bash -c "! ip netns exec $(ns cli) nft list table inet tund_tun0_guard >/dev/null 2>&1"
export PATH=$saved_path

# --- C: neither ----------------------------------------------------------------
start_client
check "neither resolved nor resolvconf: a warning" grep -q 'DNS of tun0 not set: no systemd-resolved on the system bus, resolvconf not found' "$LAB_DIR/cli.log"
check "and the tunnel is up all the same" test "$(status | jq -r .state)" = connected
check "status says none" via_is none
stop_client

inside=$(wc -l < "$LAB_DIR/inside.queries")
hub_q=$(asked outside 'hub.lab.test')
others=$(others_outside)
echo "   DNS questions: inside the tunnel $inside (applications'), outside $hub_q for the hub by tund and $others other(s)"
echo "   runtime: $(( ($(date +%s%N) - started) / 1000000 )) ms"
check "the outside server saw no question but the daemon's for the hub" test "$others" = 0
check "the inside server answered the applications" test "$inside" -ge 3
summary
