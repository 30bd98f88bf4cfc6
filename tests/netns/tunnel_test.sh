#!/usr/bin/env bash
# The tunnel end to end on real namespaces, TUN devices, UDP and nftables:
# data both ways, server-initiated connections to each client's VIP, NAT and
# expose, a client holding two hubs, bad input refused, clean shutdown.
# Topology: see lab.sh.
set -u
. "$(dirname "$0")/lab.sh"
require_root "tunnel_test"
trap lab_down EXIT

lab_up
lab_keys hub hub2 phone laptop stranger

cat > "$LAB_DIR/hub.toml" <<TOML
private_key_file = "hub.key"
listen = "0.0.0.0:51900"
control_socket = "$LAB_DIR/hub.sock"
state_directory = "$LAB_DIR/hub-state"
[tun]
name = "hub0"
address = "10.77.0.1/24"
[[client]]
name = "phone"
public_key = "$(pub phone)"
vip = "10.77.0.2"
[[client]]
name = "laptop"
public_key = "$(pub laptop)"
[nat]
masquerade = ["10.4.0.0/24"]
[[expose]]
listen = "10.4.0.1:8080"
to = "phone:80"
TOML
cat > "$LAB_DIR/hub2.toml" <<TOML
private_key_file = "hub2.key"
listen = "0.0.0.0:51900"
control_socket = "$LAB_DIR/hub2.sock"
state_directory = "$LAB_DIR/hub2-state"
[tun]
name = "hub0"
address = "10.78.0.1/24"
[[client]]
name = "phone"
public_key = "$(pub phone)"
TOML
cat > "$LAB_DIR/cli.toml" <<TOML
private_key_file = "phone.key"
control_socket = "$LAB_DIR/cli.sock"
[tun]
name = "tun0"
[[hub]]
name = "main"
endpoint = "10.3.0.2:51900"
public_key = "$(pub hub)"
routes = ["10.4.0.0/24"]
[[hub]]
name = "second"
endpoint = "10.6.0.2:51900"
public_key = "$(pub hub2)"
routes = ["10.8.0.0/24"]
TOML
cat > "$LAB_DIR/cli2.toml" <<TOML
private_key_file = "laptop.key"
control_socket = "$LAB_DIR/cli2.sock"
[[hub]]
name = "main"
endpoint = "10.3.0.2:51900"
public_key = "$(pub hub)"
routes = ["10.4.0.0/24"]
# The laptop runs without offloads, crypto threads or AES: the fallback path.
[performance]
offload = false
crypto_threads = 0
cipher = "chacha20-poly1305"
TOML
cat > "$LAB_DIR/stranger.toml" <<TOML
private_key_file = "stranger.key"
control_socket = "$LAB_DIR/stranger.sock"
[tun]
name = "tun9"
[[hub]]
name = "main"
endpoint = "10.3.0.2:51900"
public_key = "$(pub hub)"
routes = ["10.9.0.0/24"]
TOML

lab_start hub hub "$BIN/tund-hub" run -c "$LAB_DIR/hub.toml"
lab_start hub2 hub2 "$BIN/tund-hub" run -c "$LAB_DIR/hub2.toml"
wait_for 5 nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml"
wait_for 5 nsx hub2 "$BIN/tund-hub" status -c "$LAB_DIR/hub2.toml"
lab_start cli cli "$BIN/tund" run -c "$LAB_DIR/cli.toml"
lab_start cli2 cli2 "$BIN/tund" run -c "$LAB_DIR/cli2.toml"

check "cli connects to both hubs" wait_for 10 nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"
check "cli2 connects" wait_for 10 nsx cli2 "$BIN/tund" status -c "$LAB_DIR/cli2.toml"

# 1. ping, 50 MB TCP with equal SHA-256 at both ends, UDP.
check "ping cli -> srv through the tunnel" nsx cli ping -q -c 3 -i 0.2 -W 2 10.4.0.2
lab_start srv sink $NETPEER sink 5001
wait_for 5 grep -q ready "$LAB_DIR/sink.log"
nsx cli timeout 120 $NETPEER send 10.4.0.2 5001 50000000 > "$LAB_DIR/send.out"
wait_for 10 bash -c "tail -n1 '$LAB_DIR/sink.log' | grep -v ready | grep -q ' '"
sent=$(cut -d' ' -f1,2 "$LAB_DIR/send.out")
got=$(tail -n1 "$LAB_DIR/sink.log" | cut -d' ' -f1,2)
echo "   50 MB transfer: sent $sent / received $got"
check "50 MB TCP cli -> srv arrives with the same SHA-256" test -n "$sent" -a "$sent" = "$got"
# The transfer went through the offloads: TSO super-packets split on the
# client, UDP GSO/GRO between the daemons, GRO super-packets on the hub's TUN.
dpc=$(nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json | jq -c .data_path)
dph=$(nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -c .data_path)
echo "   data path: client $dpc"
echo "              hub $dph"
check "offloads granted: TSO on both TUNs, UDP GSO on the client, UDP GRO on the hub" \
  test "$(echo "$dpc $dph" | jq -rs '[(.[0].tun_offloads|contains("tso4")), (.[1].tun_offloads|contains("tso4")), .[0].udp_gso, .[1].udp_gro] | all')" = true
check "the hub wrote coalesced super-packets to its TUN" test "$(echo "$dph" | jq '.coalesced_packets > 1000')" = true
# The same through the fallback path (cli2: no offloads, no threads, ChaCha20).
lab_start srv sink4 $NETPEER sink 5004
wait_for 5 grep -q ready "$LAB_DIR/sink4.log"
nsx cli2 timeout 60 $NETPEER send 10.4.0.2 5004 10000000 > "$LAB_DIR/send4.out"
wait_for 10 bash -c "tail -n1 '$LAB_DIR/sink4.log' | grep -v ready | grep -q ' '"
check "10 MB TCP cli2 -> srv without offloads arrives with the same SHA-256" \
  test "$(cut -d' ' -f1,2 "$LAB_DIR/send4.out")" = "$(tail -n1 "$LAB_DIR/sink4.log" | cut -d' ' -f1,2)"
dp2=$(nsx cli2 "$BIN/tund" status -c "$LAB_DIR/cli2.toml" --json | jq -c '[.data_path.tun_offloads, .data_path.udp_gso, .data_path.crypto_threads, .hubs[0].cipher]')
check "cli2 ran without offloads, threads or AES ($dp2)" test "$dp2" = '["none",false,0,"chacha20-poly1305"]'
check "masquerade: srv sees the hub's address 10.4.0.1" test "$(tail -n1 "$LAB_DIR/sink.log" | cut -d' ' -f3)" = 10.4.0.1
lab_start srv udpecho $NETPEER udpecho 5002
sleep 0.2
udp_ok=$(nsx cli timeout 60 $NETPEER udpcheck 10.4.0.2 5002 50)
check "UDP echo through the tunnel ($udp_ok/50)" test "${udp_ok:-0}" -ge 48

# 2. Server-initiated: both clients listen on port 7000 and srv reaches each by VIP.
lab_start cli answer1 $NETPEER answer 7000 phone
lab_start cli2 answer2 $NETPEER answer 7000 laptop
lab_start cli answer3 $NETPEER answer 80 phone-web
sleep 0.3
check "srv -> 10.77.0.2:7000 answers phone" test "$(nsx srv $NETPEER ask 10.77.0.2 7000)" = phone
check "srv -> 10.77.0.3:7000 answers laptop" test "$(nsx srv $NETPEER ask 10.77.0.3 7000)" = laptop

# 3. Expose: srv reaches the phone's port 80 at the hub's 10.4.0.1:8080.
check "expose: srv -> 10.4.0.1:8080 reaches phone:80" test "$(nsx srv $NETPEER ask 10.4.0.1 8080)" = phone-web

# 4. Two hubs at once, each with its own routes; hub2 has no NAT, so srv2 sees the VIP.
check "ping cli -> srv2 through the second hub" nsx cli ping -q -c 3 -i 0.2 -W 2 10.8.0.2
lab_start srv2 sink2 $NETPEER sink 5003
wait_for 5 grep -q ready "$LAB_DIR/sink2.log"
nsx cli timeout 30 $NETPEER send 10.8.0.2 5003 1000000 > /dev/null
wait_for 5 bash -c "tail -n1 '$LAB_DIR/sink2.log' | grep -v ready | grep -q ' '"
check "srv2 sees the VIP from the second hub (10.78.0.2)" test "$(tail -n1 "$LAB_DIR/sink2.log" | cut -d' ' -f3)" = 10.78.0.2

# Status output that other tooling reads.
cj=$(nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json)
check "client status --json: connected, two hubs with VIPs and counters" \
  test "$(echo "$cj" | jq -r '[.state, (.hubs|length), .hubs[0].vip, .hubs[1].vip, (.hubs[0].rx_bytes>0), (.hubs[0].last_handshake>1000000000), .hubs[0].state] | join(" ")')" \
       = "connected 2 10.77.0.2 10.78.0.2 true true connected"
check "client status --json: has active_uplink, handovers, uplinks" \
  test "$(echo "$cj" | jq -r 'has("active_uplink") and has("handovers") and has("uplinks")')" = true
hj=$(nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json)
echo "   hub sessions: $(echo "$hj" | jq -c "[.sessions[] | [.name, .endpoint]]")"
check "hub status --json: two sessions with endpoints and counters" \
  test "$(echo "$hj" | jq -r '[(.sessions|length), (.sessions[]|select(.name=="phone")|.endpoint|startswith("10.1.0.2:")), (.sessions[0].tx_bytes>0)] | map(tostring) | join(" ")')" = "2 true true"
check "human-readable status prints a table" bash -c "nsx() { ip netns exec $(ns cli) \"\$@\"; }; nsx '$BIN/tund' status -c '$LAB_DIR/cli.toml' | grep -q 'latest handshake'"

# 5. Bad input.
bad_config() {  # bad_config NAME EXPECTED-REGEX CONTENT
  printf '%s\n' "$3" > "$LAB_DIR/$1.toml"
  local out rc
  out=$("$BIN/tund" run -c "$LAB_DIR/$1.toml" 2>&1); rc=$?
  echo "   $1: exit $rc: $out"
  [ "$rc" -eq 2 ] && echo "$out" | grep -Eq "$2"
}
hub_pub=$(pub hub)
check "config: wrong type -> exit 2 with file:line:column" bad_config wrongtype "wrongtype.toml:4:7: .*mtu.*integer" \
  "private_key_file = \"phone.key\"
control_socket = \"$LAB_DIR/x.sock\"
[tun]
mtu = \"big\"
[[hub]]
name = \"a\"
endpoint = \"10.3.0.2:51900\"
public_key = \"$hub_pub\""
check "config: unknown key -> exit 2 with file:line:column" bad_config unknownkey "unknownkey.toml:2:[0-9]+: unknown key 'colour'" \
  "private_key_file = \"phone.key\"
colour = \"blue\"
[[hub]]
name = \"a\"
endpoint = \"10.3.0.2:51900\"
public_key = \"$hub_pub\""
check "config: missing key file -> exit 2 with file:line:column" bad_config nokeyfile "nokeyfile.toml:1:[0-9]+: cannot read private key file" \
  "private_key_file = \"does-not-exist.key\"
[[hub]]
name = \"a\"
endpoint = \"10.3.0.2:51900\"
public_key = \"$hub_pub\""
check "config: bad base64 key -> exit 2 with file:line:column" bad_config badkey "badkey.toml:5:[0-9]+: .*not a base64" \
  "private_key_file = \"phone.key\"
[[hub]]
name = \"a\"
endpoint = \"10.3.0.2:51900\"
public_key = \"not-a-key\""
check "config: syntax error -> exit 2 with file:line:column" bad_config syntax "syntax.toml:2:[0-9]+: syntax error" \
  "private_key_file = \"phone.key\"
[[hub"

lab_start cli2 stranger "$BIN/tund" run -c "$LAB_DIR/stranger.toml"
sleep 1.5
sj=$(nsx cli2 "$BIN/tund" status -c "$LAB_DIR/stranger.toml" --json); src=$?
check "unknown client key: no answer (not connected, 0 bytes received)" \
  test "$src:$(echo "$sj" | jq -r '.hubs[0].rx_bytes')" = "1:0"
check "unknown client key: the hub counts it" \
  test "$(nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -r '.drops.unknown_peer // 0')" -ge 1
kill "$PID_stranger"

replies=$(nsx cli $NETPEER garbage 10.3.0.2 51900)
check "garbage UDP to the hub port gets no reply ($replies replies)" test "$replies" = 0
check "garbage is counted by reason" \
  test "$(nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -r '(.drops.malformed // 0) + (.drops.bad_mac1 // 0) + (.drops.unknown_index // 0)')" -ge 40

nsx cli ip addr add 10.77.0.99/32 dev tun0
check "spoofed inner source does not reach srv" bash -c "! ip netns exec $(ns cli) ping -c 2 -W 1 -I 10.77.0.99 10.4.0.2 >/dev/null"
check "spoofed inner source is dropped and counted" \
  test "$(nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -r '.drops.inner_source_mismatch // 0')" -ge 2

# Clean shutdown removes the TUN devices, routes and nftables rules.
kill -TERM "$PID_cli"; wait "$PID_cli"; rc=$?
check "SIGTERM: tund exits 0" test "$rc" = 0
check "SIGTERM: tun0 and its routes are gone" bash -c "! ip netns exec $(ns cli) ip link show tun0 2>/dev/null && ! ip netns exec $(ns cli) ip route | grep -q 10.4.0.0"
check "status after shutdown exits 1" bash -c "ip netns exec $(ns cli) '$BIN/tund' status -c '$LAB_DIR/cli.toml'; test \$? = 1"
kill -TERM "$PID_hub"; wait "$PID_hub"; rc=$?
check "SIGTERM: tund-hub exits 0, hub0 and its nftables table are gone" \
  bash -c "test $rc = 0 && ! ip netns exec $(ns hub) ip link show hub0 2>/dev/null && ! ip netns exec $(ns hub) nft list tables | grep -q tund"

summary
