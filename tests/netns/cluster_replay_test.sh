#!/usr/bin/env bash
# A replayed initiation confuses no cluster member (issue 28): an attacker on
# the client's path records the client's initiation to one member and, during
# transfers both ways, replays it to the other member (which has never seen
# it) and to the same member. A member acts only on confirmed keys, so:
#   - no ownership change and no etcd write at all (the store's revision
#     stays; lease keepalives do not move it);
#   - the live session is not ended: both transfers arrive intact with no
#     gap beyond an undisturbed one (a takeover costs 1-2 s);
#   - the other member holds no live session for the client.
set -u
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/cluster_lab.sh"
cluster_require "cluster_replay_test"

cluster_serving
# The recorder listens before the client starts: its first initiation.
lab_start cli recorder $NETPEER record 51900 1 "$LAB_DIR/initiation.bin"
wait_for 5 grep -q ready "$LAB_DIR/recorder.log"
lab_start cli cli "$BIN/tund" run -c "$LAB_DIR/cli.toml"
check "the client connects to the cluster" wait_for 10 nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"
check "its initiation was recorded" wait_for 5 grep -q recorded "$LAB_DIR/recorder.log"
on=$(client_member)
other=$(other_member "$on")
vip=$(client_status | jq -r .vip)
owner_is() { [ "$(etcd_get "/tund/lab/owner/$(phone_hex)")" = "$1" ]; }
check "etcd names $on as the owner" wait_for 5 owner_is "$on"
check "the server reaches the client's VIP" wait_for 5 nsx rtr ping -c1 -W1 "$vip"

member_endpoint() { [ "$1" = hub-a ] && echo 10.3.0.2 || echo 10.6.0.2; }
transfers() {  # transfers TAG: 2 MB each way at 400 kB/s (5 s)
  lab_start rtr "up_sink_$1" $NETPEER sink 5001
  lab_start cli "down_sink_$1" $NETPEER sink 5002
  wait_for 5 grep -q ready "$LAB_DIR/up_sink_$1.log"
  wait_for 5 grep -q ready "$LAB_DIR/down_sink_$1.log"
  lab_start cli "up_$1" bash -c "timeout 60 $NETPEER send 10.9.0.1 5001 2000000 400000 > '$LAB_DIR/up_$1.out'"
  lab_start rtr "down_$1" bash -c "timeout 60 $NETPEER send $vip 5002 2000000 400000 > '$LAB_DIR/down_$1.out'"
}
intact() {  # intact TAG DIR
  wait_for 40 bash -c "tail -n1 '$LAB_DIR/$2_sink_$1.log' | grep -v ready | grep -q ' '" || return 1
  wait_for 5 test -s "$LAB_DIR/$2_$1.out" || return 1
  [ "$(cut -d' ' -f1,2 "$LAB_DIR/$2_$1.out")" = "$(tail -n1 "$LAB_DIR/$2_sink_$1.log" | cut -d' ' -f1,2)" ]
}
gap() { tail -n1 "$LAB_DIR/$2_sink_$1.log" | cut -d' ' -f4; }

# An undisturbed run first: the gaps a replay must not exceed by much.
transfers calm
check "undisturbed upload intact" intact calm up
check "undisturbed download intact" intact calm down
calm_gap=$(( $(gap calm up) > $(gap calm down) ? $(gap calm up) : $(gap calm down) ))

transfers replay
sleep 1
revision=$(etcd_revision)
owner_before=$(etcd_get "/tund/lab/owner/$(phone_hex)")
for i in 1 2 3; do
  nsx cli $NETPEER replay "$LAB_DIR/initiation.bin" "$(member_endpoint "$other")" 51900
  nsx cli $NETPEER replay "$LAB_DIR/initiation.bin" "$(member_endpoint "$on")" 51900
  sleep 0.5
done
sleep 2
check "the upload survives the replays intact" intact replay up
check "the download survives the replays intact" intact replay down
up_gap=$(gap replay up); down_gap=$(gap replay down)
echo "   longest gaps: undisturbed $calm_gap ms; with replays upload $up_gap ms, download $down_gap ms; etcd revision $revision -> $(etcd_revision)"
limit=$(( calm_gap + 200 ))
check "no gap beyond an undisturbed run's + 200 ms (upload $up_gap ms)" test "$up_gap" -le "$limit"
check "no gap beyond an undisturbed run's + 200 ms (download $down_gap ms)" test "$down_gap" -le "$limit"
check "no etcd write (revision $revision)" test "$(etcd_revision)" = "$revision"
check "the owner is still $owner_before" owner_is "$owner_before"
check "the client is still on $on" test "$(client_member)" = "$on"
no_session_on() { ! member_has_phone "$1"; }
refused_stale() { member_status "$1" | jq -e '.drops.stale_timestamp >= 3' >/dev/null; }
check "$other holds no live session for the client" no_session_on "$other"
check "$on refused the replays as stale" refused_stale "$on"
summary
