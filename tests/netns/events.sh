# Uplink events on the lab's cli (wlan0 active, lte0 standby), shared by the
# handover test and bench/handover. Each event_X breaks something; restore_X
# puts it back.

event_down() { nsx cli ip link set wlan0 down; }
restore_down() {
  nsx cli ip link set wlan0 up
  wait_for 3 nsx cli ip route replace default via 10.1.0.1 dev wlan0 metric 100
}

# The uplink stays up; the router silently drops everything through it.
event_blackhole() {
  nsx inet nft -f - <<'NFT'
table inet blackhole {
  chain drop_all {
    type filter hook forward priority -10;
    iifname "w1" drop
    oifname "w1" drop
  }
}
NFT
}
restore_blackhole() { nsx inet nft delete table inet blackhole; }

# A DHCP renew to a new lease: new address first, then the old one goes.
event_addr() {
  nsx cli sysctl -qw net.ipv4.conf.wlan0.promote_secondaries=1
  nsx cli ip addr add 10.1.0.3/24 dev wlan0
  nsx cli ip addr del 10.1.0.2/24 dev wlan0
  nsx cli ip route replace default via 10.1.0.1 dev wlan0 metric 100
}
restore_addr() {
  nsx cli ip addr add 10.1.0.2/24 dev wlan0
  nsx cli ip addr del 10.1.0.3/24 dev wlan0
  nsx cli ip route replace default via 10.1.0.1 dev wlan0 metric 100
}

event_planned() { nsx cli "$BIN/tund" switch lte0 -c "$LAB_DIR/cli.toml" >/dev/null; }
restore_planned() { nsx cli "$BIN/tund" switch auto -c "$LAB_DIR/cli.toml" >/dev/null; }

# Nothing happens: what the traffic costs by itself (none_hog: what the CPU
# hog alone costs, the baseline planned_hog is read against).
event_none() { :; }
restore_none() { :; }

# Down and up three times within five seconds.
event_flap() {
  for i in 1 2 3; do
    nsx cli ip link set wlan0 down; sleep 0.4
    restore_down; sleep 1
  done
}
restore_flap() { :; }

# through NAME EVENT_CMD: a TCP transfer each way (cli -> 10.4.0.2, srv ->
# 10.77.0.2) of THROUGH_BYTES at THROUGH_RATE bytes/s, with EVENT_CMD 0.7 s
# in; checks that both complete without reset and arrive intact, and leaves
# the longest gaps (ms) in GAP_UP and GAP_DN. Ports from THROUGH_PORT, two a call.
THROUGH_PORT=${THROUGH_PORT:-7400}
THROUGH_BYTES=${THROUGH_BYTES:-6000000}
THROUGH_RATE=${THROUGH_RATE:-3000000}
through() {
  THROUGH_PORT=$((THROUGH_PORT + 2))
  local port=$THROUGH_PORT
  lab_start srv "up_$1" $NETPEER sink $port
  lab_start cli "dn_$1" $NETPEER sink $((port + 1))
  wait_for 5 grep -q ready "$LAB_DIR/up_$1.log"
  wait_for 5 grep -q ready "$LAB_DIR/dn_$1.log"
  nsx cli timeout 60 $NETPEER send 10.4.0.2 $port "$THROUGH_BYTES" "$THROUGH_RATE" > "$LAB_DIR/upsend_$1.out" & local s1=$!
  nsx srv timeout 60 $NETPEER send 10.77.0.2 $((port + 1)) "$THROUGH_BYTES" "$THROUGH_RATE" > "$LAB_DIR/dnsend_$1.out" & local s2=$!
  sleep 0.7
  $2
  wait $s1; local r1=$?; wait $s2; local r2=$?
  wait_for 10 test -n "$(tail -n1 "$LAB_DIR/up_$1.log" | grep -v ready)"
  wait_for 10 test -n "$(tail -n1 "$LAB_DIR/dn_$1.log" | grep -v ready)"
  local up_got dn_got
  up_got=$(tail -n1 "$LAB_DIR/up_$1.log"); dn_got=$(tail -n1 "$LAB_DIR/dn_$1.log")
  GAP_UP=$(echo "$up_got" | cut -d' ' -f4); GAP_DN=$(echo "$dn_got" | cut -d' ' -f4)
  echo "   $1: upload gap $GAP_UP ms, download gap $GAP_DN ms"
  check "$1: both transfers complete without reset" test "$r1:$r2" = "0:0"
  check "$1: data intact both ways (SHA-256)" test "$(cut -d' ' -f1 "$LAB_DIR/upsend_$1.out")" = "$(echo "$up_got" | cut -d' ' -f1)" -a \
    "$(cut -d' ' -f1 "$LAB_DIR/dnsend_$1.out")" = "$(echo "$dn_got" | cut -d' ' -f1)"
}
