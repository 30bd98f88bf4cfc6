#!/usr/bin/env bash
# The link emulator (bench/linkem) on its own: two hosts joined through it,
# and a direct veth beside for the baseline.
#   a  x 10.9.0.1 ──ea [em: linkem] eb── x 10.9.0.2  b
#   a  dir0 10.10.0.1 ─────────────── dir0 10.10.0.2 b  (direct)
# It must carry 200 Mbit/s of 1500-byte frames adding at most 0.2 ms each
# way of its own (ping through it while it does, against the direct veth),
# apply delay, rate, loss and queue limits as set at run time, keep going
# across a link going down and up, and print its counters on exit.
set -u
. "$(dirname "$0")/lab.sh"
require_root "linkem_test"
LAB_EXTRA_NS="a b em"
trap lab_down EXIT
LAB_DIR=$(mktemp -d /tmp/tund-linkem.XXXXXX)
for n in a b em; do ip netns add "$(ns $n)"; nsx $n ip link set lo up; done
ip link add x netns "$(ns a)" type veth peer name ea netns "$(ns em)"
ip link add x netns "$(ns b)" type veth peer name eb netns "$(ns em)"
ip link add dir0 netns "$(ns a)" type veth peer name dir0 netns "$(ns b)"
nsx a ip addr add 10.9.0.1/24 dev x; nsx b ip addr add 10.9.0.2/24 dev x
nsx a ip addr add 10.10.0.1/24 dev dir0; nsx b ip addr add 10.10.0.2/24 dev dir0
for n in a b; do nsx $n ip link set x up; nsx $n ip link set dir0 up; done
nsx em ip link set ea up; nsx em ip link set eb up
lab_offloads_off a x; lab_offloads_off b x; lab_offloads_off em ea; lab_offloads_off em eb

CTL="$LAB_DIR/linkem.sock"
lab_start em linkem $(lab_linkem_sched) "$BIN/linkem" run --control "$CTL" "lab:ea:eb:$ROOT/bench/linkem/profiles/ideal.profile"
check "linkem starts" wait_for 5 test -S "$CTL"
check "ping through it" wait_for 3 nsx a ping -c 1 -W 1 10.9.0.2

# p50 of N pings (ms) at interval I: rtt_p50 NS DEST N I
rtt_p50() {
  nsx "$1" ping -q -c "$3" -i "$4" -W 1 "$2" >/dev/null 2>&1  # warm ARP
  nsx "$1" ping -c "$3" -i "$4" -W 1 "$2" 2>/dev/null | sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -n |
    awk '{v[NR]=$1} END{if (NR) print v[int((NR+1)/2)]; else print 9999}'
}
ctl() { nsx em "$BIN/linkem" ctl "$CTL" "$@"; }
in_range() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN{exit !(x >= lo && x <= hi)}'; }

# 1. Its own cost: 250 Mbit/s of 1472-byte UDP offered, ping through it meanwhile.
nsx b iperf3 -s -1 -p 5201 -D
direct=$(rtt_p50 a 10.10.0.2 200 0.005)
sleep 0.3
nsx a iperf3 -u -b 250M -l 1472 -w 4M -t 6 -p 5201 -c 10.9.0.2 -J > "$LAB_DIR/iperf_udp.json" 2>/dev/null & ip_pid=$!
sleep 1
loaded=$(rtt_p50 a 10.9.0.2 400 0.005)
wait $ip_pid
mbit=$(jq -r '.end.sum.bits_per_second / 1e6 | floor' "$LAB_DIR/iperf_udp.json" 2>/dev/null || echo 0)
lost=$(jq -r '.end.sum.lost_percent' "$LAB_DIR/iperf_udp.json" 2>/dev/null || echo 100)
added=$(awk -v e="$loaded" -v d="$direct" 'BEGIN{printf "%.3f", (e - d) / 2}')
echo "   carried ${mbit} Mbit/s of 1472-byte UDP, ${lost}% lost; ping p50 ${loaded} ms through it under that load, ${direct} ms direct: ${added} ms added each way"
echo "   its own count: $(ctl stats | grep '^all')"
check "carries 200 Mbit/s of 1500-byte frames (${mbit} Mbit/s, ${lost}% lost)" \
  awk -v m="$mbit" -v l="$lost" 'BEGIN{exit !(m >= 200 && l < 1)}'
check "adds at most 0.2 ms each way while it does (${added} ms)" in_range "$added" -1 0.2

# 2. Delay and jitter as set.
check "set delay" bash -c "$BIN/linkem ctl $CTL set lab both delay=20ms | grep -qx ok"
rtt=$(rtt_p50 a 10.9.0.2 50 0.02)
check "20 ms each way: ping p50 ${rtt} ms (40-41.5)" in_range "$rtt" 40 41.5

# 3. Rate and queue: one TCP flow at 10 Mbit/s, 2 ms each way, a 100 kB queue.
ctl set lab both delay=2ms rate=10mbit queue=100kB >/dev/null
nsx b iperf3 -s -1 -p 5202 -D; sleep 0.3
nsx a iperf3 -t 4 -p 5202 -c 10.9.0.2 -J > "$LAB_DIR/iperf_tcp.json" 2>/dev/null
tcp=$(jq -r '.end.sum_received.bits_per_second / 1e6' "$LAB_DIR/iperf_tcp.json" 2>/dev/null || echo 0)
peak=$(ctl stats | awk '$1=="lab" && $2=="up"{for(i=3;i<=NF;i++) if ($i ~ /^queue_peak=/) print substr($i, 12)}')
echo "   TCP through 10 Mbit/s: ${tcp} Mbit/s; queue peak ${peak} bytes (limit 100000)"
check "10 Mbit/s: one TCP flow gets 8.5-10 Mbit/s (${tcp})" in_range "$tcp" 8.5 10.05
check "the queue never held more than its limit (${peak})" test "${peak:-999999}" -le 100000

# 4. Loss: 30% on the way up only.
ctl set lab both rate=0 delay=0ms >/dev/null
ctl set lab up loss=30% >/dev/null
loss=$(nsx a ping -c 400 -i 0.005 -W 1 10.9.0.2 2>/dev/null | sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')
check "30% loss one way: ping loses 24-36% (${loss}%)" in_range "${loss:-0}" 24 36
check "a bad setting is refused with its reason" bash -c "! '$BIN/linkem' ctl '$CTL' set lab up loss=130% 2>/dev/null | grep -q ok"
ctl set lab up loss=0 >/dev/null

# 5. A link that goes down and comes back: forwarding resumes.
nsx em ip link set ea down; sleep 0.3
check "a's side loses carrier" bash -c "ip netns exec $(ns a) ip link show x | grep -q NO-CARRIER"
nsx em ip link set ea up
check "forwarding resumes after the link comes back" wait_for 5 nsx a ping -c 1 -W 1 10.9.0.2

# 6. Counters on exit.
kill -TERM "$PID_linkem"; wait "$PID_linkem"
check "prints its counters on exit" grep -q '^lab up in=' "$LAB_DIR/linkem.log"
grep -E '^(lab|all)' "$LAB_DIR/linkem.log" | sed 's/^/   /'
summary
