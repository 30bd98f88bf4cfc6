#!/usr/bin/env bash
# Clients behind NAT: the router masquerades both of the client's uplinks
# with random source ports. A transfer survives the NAT forgetting its
# mappings mid-session (conntrack flushed: the hub sees a new port and
# follows, validating it), and a handover from one NATed uplink to the other.
set -u
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/events.sh"
require_root "nat_test"
command -v conntrack >/dev/null || { echo "SKIPPED: nat_test needs conntrack (./scripts/setup installs it)"; exit 77; }
trap lab_down EXIT

lab_up
nsx inet nft -f - <<'NFT'
table ip labnat {
  chain post {
    type nat hook postrouting priority 100;
    ip saddr { 10.1.0.0/24, 10.2.0.0/24 } oifname "e3" masquerade random
  }
}
NFT
lab_one_hub '[uplinks]
hold_down_ms = 1000'
hub_endpoint() { nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml" --json | jq -r '.sessions[0].endpoint'; }
check "the client connects through the NAT" nsx cli ping -q -c1 -W1 10.4.0.2
ep0=$(hub_endpoint)
check "the hub sees the router's address, not the client's ($ep0)" test "${ep0%%:*}" = 10.3.0.1

transfer() {  # transfer NAME ACTION: 8 MB cli -> srv, ACTION run 1.5 s in; "sent|received"
  lab_start srv "sink_$1" $NETPEER sink "$2"
  wait_for 5 grep -q ready "$LAB_DIR/sink_$1.log"
  nsx cli timeout 30 $NETPEER send 10.4.0.2 "$2" 8000000 2000000 > "$LAB_DIR/send_$1.out" & local s=$!
  sleep 1.5
  "$3"
  wait $s
  wait_for 5 bash -c "grep -v ready '$LAB_DIR/sink_$1.log' | grep -q ' '"
  echo "$(cut -d' ' -f1,2 "$LAB_DIR/send_$1.out")|$(grep -v ready "$LAB_DIR/sink_$1.log" | cut -d' ' -f1,2)"
}
intact() { [ -n "${1%%|*}" ] && [ "${1%%|*}" = "${1##*|}" ]; }
flush_nat() { nsx inet conntrack -F >/dev/null 2>&1; }

r=$(transfer flush 7601 flush_nat)
check "a transfer survives the NAT forgetting its mappings" intact "$r"
ep1=$(hub_endpoint)
echo "   hub's view of the client: $ep0 before the flush, $ep1 after"
check "the hub followed the rebinding to a new port" test "$ep1" != "$ep0"

r=$(transfer handover 7602 event_down)
check "a transfer survives a handover between NATed uplinks" intact "$r"
check "the client is on lte0" test "$(nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json | jq -r .active_uplink)" = lte0
summary
