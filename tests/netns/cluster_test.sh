#!/usr/bin/env bash
# A hub cluster of two members (tests/netns/cluster_lab.sh: real etcd, BIRD
# on both members and the server-side router, BFD):
#   - the client's VIP comes from etcd, its session is owned there by the
#     member it is on, and the router reaches the VIP through that member;
#   - kill -9 of that member during transfers both ways (one opened by the
#     server toward the VIP): traffic flows through the other member with the
#     same VIP within 3 s and both TCP connections arrive intact;
#   - the killed member comes back and serves; the client stays put;
#   - `tund-hub drain` of the member holding the client: the client moves,
#     the drained member stops, no connection is lost, and the stall of each
#     direction is measured (target <= 100 ms);
#   - a member that cannot reach etcd at start says so and exits 1.
set -u
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/cluster_lab.sh"
cluster_require "cluster_test"

cluster_serving
lab_start cli cli "$BIN/tund" run -c "$LAB_DIR/cli.toml"
check "the client connects to the cluster" wait_for 10 nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"
vip=$(client_status | jq -r .vip)
on=$(client_member)
echo "   client on $on with VIP $vip"
[ -n "$vip" ] && [ -n "$on" ] || { echo "FAIL - no VIP or member: the rest cannot run"; exit 1; }
check "the VIP is etcd's ($vip)" test "$(etcd_get "/tund/lab/client/$(phone_hex)")" = "$vip"
owner_is() { [ "$(etcd_get "/tund/lab/owner/$(phone_hex)")" = "$1" ]; }
routed_through() { [ "$(router_via "$vip")" = "$(member_address "$1")" ]; }
check "etcd names $on as the session's owner" wait_for 5 owner_is "$on"
check "the router reaches $vip through $on ($(member_address $on))" wait_for 10 routed_through "$on"
check "the server reaches the client's VIP" wait_for 5 nsx rtr ping -c1 -W1 "$vip"

# transfers both ways: the client's upload, and a download the server opens
# toward the VIP; 4 MB at 400 kB/s each, across the kill.
transfers() {  # transfers TAG
  lab_start rtr "up_sink_$1" $NETPEER sink 5001
  lab_start cli "down_sink_$1" $NETPEER sink 5002
  wait_for 5 grep -q ready "$LAB_DIR/up_sink_$1.log"
  wait_for 5 grep -q ready "$LAB_DIR/down_sink_$1.log"
  lab_start cli "up_$1" bash -c "timeout 60 $NETPEER send 10.9.0.1 5001 4000000 400000 > '$LAB_DIR/up_$1.out'"
  lab_start rtr "down_$1" bash -c "timeout 60 $NETPEER send $vip 5002 4000000 400000 > '$LAB_DIR/down_$1.out'"
}
# intact TAG DIR: both sides agree on hash and length; prints the longest gap.
intact() {
  wait_for 40 bash -c "tail -n1 '$LAB_DIR/$2_sink_$1.log' | grep -v ready | grep -q ' '" || return 1
  wait_for 5 test -s "$LAB_DIR/$2_$1.out" || return 1
  local sent got
  sent=$(cut -d' ' -f1,2 "$LAB_DIR/$2_$1.out"); got=$(tail -n1 "$LAB_DIR/$2_sink_$1.log" | cut -d' ' -f1,2)
  [ -n "$sent" ] && [ "$sent" = "$got" ]
}
gap() { tail -n1 "$LAB_DIR/$2_sink_$1.log" | cut -d' ' -f4; }

transfers kill
sleep 2
victim=$on
survivor=$(other_member "$victim")
killed=$(date +%s%N)
kill -9 "$(eval echo \$PID_${victim/-/_})"
wait "$(eval echo \$PID_${victim/-/_})" 2>/dev/null
until nsx rtr ping -c1 -W0.2 "$vip" >/dev/null 2>&1 || [ $(( ($(date +%s%N) - killed) / 1000000 )) -gt 10000 ]; do :; done
failover=$(( ($(date +%s%N) - killed) / 1000000 ))
echo "   kill -9 $victim: the server reaches $vip through $survivor again after $failover ms"
check "failover within 3 s ($failover ms)" test "$failover" -le 3000
check "the client is on $survivor" test "$(client_member)" = "$survivor"
check "$survivor owns the session in etcd" owner_is "$survivor"
check "the VIP stayed $vip" test "$(client_status | jq -r .vip)" = "$vip"
check "the router reaches $vip through $survivor" routed_through "$survivor"
check "the client's upload survives the kill intact" intact kill up
check "the server's download to the VIP survives the kill intact" intact kill down
echo "   longest gaps across the kill: upload $(gap kill up) ms, download $(gap kill down) ms"

member_start "$victim" back
check "$victim comes back and serves" wait_for 10 member_serving "$victim"
sleep 1
check "the client stays on $survivor" test "$(client_member)" = "$survivor"

# drain the member holding the client, during transfers both ways
transfers drain
sleep 2
drained=$survivor
drain_out=$(nsx "$(member_ns "$drained")" "$BIN/tund-hub" drain -c "$LAB_DIR/$drained.toml" 2>&1)
drain_rc=$?
echo "   tund-hub drain: $drain_out"
check "tund-hub drain of $drained exits 0 once the member has stopped" test "$drain_rc" -eq 0
check "the client moved to $victim" test "$(client_member)" = "$victim"
check "the upload survives the drain intact" intact drain up
check "the download survives the drain intact" intact drain down
up_gap=$(gap drain up); down_gap=$(gap drain down)
echo "   stall across the drain: upload $up_gap ms, download $down_gap ms (target <= 100 ms)"
check "the drain stalls the upload <= 100 ms ($up_gap ms)" test "$up_gap" -le 100
check "the drain stalls the download <= 100 ms ($down_gap ms)" test "$down_gap" -le 100

# etcd unreachable at start: a clear message, exit 1
cluster_member_toml hub-b 10.9.2.2:2999 | sed -e 's|hub-b.sock|nope.sock|' -e 's|^\[tun\]|[tun]\nname = "hub9"|' > "$LAB_DIR/nope.toml"
nsx hub2 timeout 10 "$BIN/tund-hub" run -c "$LAB_DIR/nope.toml" > "$LAB_DIR/nope.log" 2>&1
rc=$?
check "etcd unreachable at start: exit 1 and says so (rc $rc: $(tail -n1 "$LAB_DIR/nope.log"))" \
  bash -c "[ $rc -eq 1 ] && grep -q 'etcd' '$LAB_DIR/nope.log'"
summary
