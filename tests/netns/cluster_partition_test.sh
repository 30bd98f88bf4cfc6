#!/usr/bin/env bash
# A hub cluster member cut off from etcd (tests/netns/cluster_lab.sh), while
# its client transfers both ways:
#   - it keeps forwarding (fail static): the transfers go on without a stall;
#   - within a lease TTL (2 s) of its last answered keepalive it stops
#     claiming: status says so, etcd drops its ownership with the lease, and a
#     client it holds no session for is refused (not_serving);
#   - healed, it holds a lease again, claims its session anew, and the
#     refused client gets in;
#   - etcd itself down and back: both members fail static, the idle client's
#     session stays and its traffic goes on, and the VIP is the same after
#     etcd returns.
set -u
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/cluster_lab.sh"
cluster_require "cluster_partition_test"

CLUSTER_CLIENTS="phone tablet" cluster_up
member_start hub-a
member_start hub-b
wait_for 10 member_serving hub-a
wait_for 10 member_serving hub-b
lab_start cli cli "$BIN/tund" run -c "$LAB_DIR/cli.toml"
check "the client connects to the cluster" wait_for 10 nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"
vip=$(client_status | jq -r .vip)
on=$(client_member)
[ -n "$vip" ] && [ -n "$on" ] || { echo "FAIL - no VIP or member: the rest cannot run"; exit 1; }
owner_is() { [ "$(etcd_get "/tund/lab/owner/$(phone_hex)")" = "$1" ]; }
owner_gone() { [ -z "$(etcd_get "/tund/lab/owner/$(phone_hex)")" ]; }
not_serving() { ! member_serving "$1"; }
check "$on owns the phone's session" wait_for 5 owner_is "$on"
# BGP brings the router its route a moment after the member serves.
routed() { [ -n "$(router_via "$vip")" ]; }
check "the router has a route to the phone's VIP" wait_for 10 routed
# A second client that knows only $on (a lone endpoint), started while $on is cut off.
sed -e "s|^private_key_file = .*|private_key_file = \"tablet.key\"|" -e "s|cli.sock|tablet.sock|" \
  -e "s|^endpoints = .*|endpoint = \"$( [ "$on" = hub-a ] && echo 10.3.0.2 || echo 10.6.0.2 ):51900\"|" \
  "$LAB_DIR/cli.toml" > "$LAB_DIR/tablet.toml"

# Transfers both ways across the partition: 6 MB at 400 kB/s each (15 s).
lab_start rtr up_sink $NETPEER sink 5001
lab_start cli down_sink $NETPEER sink 5002
wait_for 5 grep -q ready "$LAB_DIR/up_sink.log"
wait_for 5 grep -q ready "$LAB_DIR/down_sink.log"
lab_start cli up bash -c "timeout 60 $NETPEER send 10.9.0.1 5001 6000000 400000 > '$LAB_DIR/up.out'"
lab_start rtr down bash -c "timeout 60 $NETPEER send $vip 5002 6000000 400000 > '$LAB_DIR/down.out'"
sleep 1.5

ns_on=$(member_ns "$on")
nsx "$ns_on" nft -f - <<'NFT'
table inet partition {
  chain out { type filter hook output priority 0; tcp dport 2379 drop; }
  chain in { type filter hook input priority 0; tcp sport 2379 drop; }
}
NFT
cut=$(date +%s%N)
check "$on stops claiming within the lease TTL of the cut" wait_for 4 not_serving "$on"
stopped=$(( ($(date +%s%N) - cut) / 1000000 ))
echo "   $on stopped claiming $stopped ms after the cut (TTL 2000 ms, keepalive every 666 ms)"
check "it stopped no later than 2 s after the cut ($stopped ms; polled every 100 ms)" test "$stopped" -le 2200
check "etcd let its claim go with the lease" wait_for 4 owner_gone
check "the client is still on $on (fail static)" test "$(client_member)" = "$on"
etcd_errors() { member_status "$on" | jq -e '.cluster.etcd_errors > 0' >/dev/null; }
check "$on counts its etcd errors" etcd_errors
metrics() { nsx "$ns_on" curl -sf http://127.0.0.1:9586/metrics; }
check "its metrics say so" bash -c "m=\$(cat); grep -qx 'tund_hub_cluster_serving 0' <<<\"\$m\" && grep -q '^tund_hub_cluster_etcd_errors_total [1-9]' <<<\"\$m\"" < <(metrics)
lab_start cli2 tablet "$BIN/tund" run -c "$LAB_DIR/tablet.toml"
refused() { member_status "$on" | jq -e '.drops.not_serving > 0' >/dev/null; }
check "a client without a session there is refused (not_serving)" wait_for 5 refused
tablet_connected() { nsx cli2 "$BIN/tund" status -c "$LAB_DIR/tablet.toml" >/dev/null 2>&1; }
check "and does not connect" test -n "$(tablet_connected || echo no)"

nsx "$ns_on" nft delete table inet partition
healed=$(date +%s%N)
check "healed, $on serves again" wait_for 5 member_serving "$on"
echo "   $on serving again $(( ($(date +%s%N) - healed) / 1000000 )) ms after the heal"
check "it claims the phone's session anew" wait_for 5 owner_is "$on"
check "the refused client gets in" wait_for 10 nsx cli2 "$BIN/tund" status -c "$LAB_DIR/tablet.toml"

intact() {  # intact DIR
  wait_for 40 bash -c "tail -n1 '$LAB_DIR/$1_sink.log' | grep -v ready | grep -q ' '" || return 1
  wait_for 5 test -s "$LAB_DIR/$1.out" || return 1
  local sent got
  sent=$(cut -d' ' -f1,2 "$LAB_DIR/$1.out"); got=$(tail -n1 "$LAB_DIR/$1_sink.log" | cut -d' ' -f1,2)
  [ -n "$sent" ] && [ "$sent" = "$got" ]
}
check "the upload went on through the partition intact" intact up
check "the download went on through the partition intact" intact down
up_gap=$(tail -n1 "$LAB_DIR/up_sink.log" | cut -d' ' -f4); down_gap=$(tail -n1 "$LAB_DIR/down_sink.log" | cut -d' ' -f4)
echo "   longest gaps: upload $up_gap ms, download $down_gap ms"
check "no stall over 200 ms either way (upload $up_gap, download $down_gap ms)" test "$up_gap" -le 200 -a "$down_gap" -le 200

# etcd itself down, then back (same data directory)
kill "$PID_etcd"; wait "$PID_etcd" 2>/dev/null
neither_serves() { not_serving hub-a && not_serving hub-b; }
both_serve() { member_serving hub-a && member_serving hub-b; }
check "etcd down: both members stop claiming" wait_for 4 neither_serves
# Idle for longer than a lease TTL: a session merely quiet stays (only data
# that goes unanswered ends one), so a server can still reach its client.
sleep 3
check "the idle client's session stays" member_has_phone "$on"
check "the client's traffic goes on (fail static)" nsx rtr ping -q -c3 -i0.2 -W1 "$vip"
cluster_etcd_start etcd2  # its users kept; the members' tokens forgotten: they ask anew
check "etcd back: both members serve again" wait_for 15 both_serve
check "etcd still holds the phone's VIP ($vip)" test "$(etcd_get "/tund/lab/client/$(phone_hex)")" = "$vip"
check "and the client still has it" test "$(client_status | jq -r .vip)" = "$vip"
summary
