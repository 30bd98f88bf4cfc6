# The netns lab, sourced by tests, the demo and the benchmarks.
#
#   cli  (tun0) 10.1.0.2 ─wlan0─┐
#               10.2.0.2 ─lte0──┤
#   cli2 (tun0) 10.5.0.2 ─wlan0─┤ inet (router) ─eth0─ hub  (hub0 10.77.0.1/24) ─s0─ srv  10.4.0.2
#                               └─────────────── ─eth0─ hub2 (hub0 10.78.0.1/24) ─s0─ srv2 10.8.0.2
#
# inet routes between 10.1/24, 10.2/24, 10.5/24, 10.3/24 (hub) and 10.6/24
# (hub2). cli has a default route on each uplink (wlan0 metric 100, lte0 200)
# and loose reverse-path filtering, as a multi-homed host needs.
# srv and srv2 reach the VIP subnets through their hub. Every namespace name
# carries LAB_ID so parallel runs never collide. Needs root.

LAB_ID=${LAB_ID:-t$$}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BIN:-$ROOT/build/bin}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
NETPEER="$PY $ROOT/tests/netns/netpeer.py"
LAB_DIR=${LAB_DIR:-}  # made by lab_up, removed by lab_down
LAB_PIDS=()

ns() { echo "${LAB_ID}-$1"; }
nsx() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

lab_veth() {  # lab_veth NS_A IF_A ADDR_A/len NS_B IF_B ADDR_B/len
  ip link add "$2" netns "$(ns "$1")" type veth peer name "$5" netns "$(ns "$4")"
  nsx "$1" ip addr add "$3" dev "$2"
  nsx "$4" ip addr add "$6" dev "$5"
  nsx "$1" ip link set "$2" up
  nsx "$4" ip link set "$5" up
}

lab_up() {
  [ -n "$LAB_DIR" ] || LAB_DIR=$(mktemp -d /tmp/tund-lab.XXXXXX)
  for n in cli cli2 inet hub hub2 srv srv2 lan; do
    ip netns add "$(ns $n)"
    nsx $n ip link set lo up
  done
  if lab_radio; then
    lab_emulated_uplinks
  else
    lab_veth cli wlan0 10.1.0.2/24 inet w1 10.1.0.1/24
    lab_veth cli lte0 10.2.0.2/24 inet l2 10.2.0.1/24
  fi
  lab_veth cli2 wlan0 10.5.0.2/24 inet w5 10.5.0.1/24
  lab_veth hub eth0 10.3.0.2/24 inet e3 10.3.0.1/24
  lab_veth hub2 eth0 10.6.0.2/24 inet e6 10.6.0.1/24
  lab_veth hub s0 10.4.0.1/24 srv eth0 10.4.0.2/24
  lab_veth hub2 s0 10.8.0.1/24 srv2 eth0 10.8.0.2/24
  nsx cli ip route add default via 10.1.0.1 dev wlan0 metric 100
  nsx cli ip route add default via 10.2.0.1 dev lte0 metric 200
  for k in all default wlan0 lte0; do nsx cli sysctl -qw net.ipv4.conf.$k.rp_filter=2; done
  nsx cli2 ip route add default via 10.5.0.1
  nsx hub ip route add default via 10.3.0.1
  nsx hub2 ip route add default via 10.6.0.1
  nsx srv ip route add default via 10.4.0.1
  nsx srv2 ip route add default via 10.8.0.1
  for n in inet hub hub2; do nsx $n sysctl -qw net.ipv4.ip_forward=1; done
}

# Emulated radio uplinks (bench/linkem): with LINKS set, cli's wlan0 and
# lte0 reach the router through the link emulator in namespace em, which
# forwards frames between wc|wr (wlan0) and lc|lr (lte0) as the profiles
# say (bench/linkem/profiles/NAME.profile):
#   LINKS=radio             wlan0 wifi-good, lte0 lte
#   LINKS=WLAN,LTE          e.g. LINKS=wifi-good,geo
#   LINKS= or ideal         plain veths, no emulator (the default)
# Addresses, routes and interface names are those of the plain lab, so every
# event of events.sh works the same; lab_link changes a link at run time.
LINKEM_PROFILES="$ROOT/bench/linkem/profiles"
lab_radio() { [ -n "${LINKS:-}" ] && [ "${LINKS:-}" != ideal ]; }
lab_link_profiles() {  # prints "WLAN_PROFILE LTE_PROFILE"
  case "$LINKS" in
    radio) echo "wifi-good lte" ;;
    *,*) echo "${LINKS%,*} ${LINKS#*,}" ;;
    *) echo "$LINKS $LINKS" ;;
  esac
}
# The emulator is the network: it runs above the daemons' priority (RR 10)
# so what it models is not delayed by what it carries.
lab_linkem_sched() { echo "chrt --fifo 20"; }
# Frames into the emulator must be real frames: no TSO/GSO super-frames, no
# checksums left for a device to fill in (next-steps: linkem pitfalls).
lab_offloads_off() {  # lab_offloads_off NS DEV
  nsx "$1" ethtool -K "$2" tso off gso off gro off tx off rx off tx-udp-segmentation off >/dev/null 2>&1 ||
    nsx "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null
}
lab_emulated_uplinks() {
  local wlan lte
  read -r wlan lte <<< "$(lab_link_profiles)"
  ip netns add "$(ns em)"
  nsx em ip link set lo up
  local cif pif near far addr peer
  while read -r cif pif near far addr peer; do
    ip link add "$cif" netns "$(ns cli)" type veth peer name "$near" netns "$(ns em)"
    ip link add "$pif" netns "$(ns inet)" type veth peer name "$far" netns "$(ns em)"
    nsx cli ip addr add "$addr" dev "$cif"
    nsx inet ip addr add "$peer" dev "$pif"
    nsx cli ip link set "$cif" up; nsx inet ip link set "$pif" up
    nsx em ip link set "$near" up; nsx em ip link set "$far" up
    lab_offloads_off cli "$cif"; lab_offloads_off inet "$pif"
    lab_offloads_off em "$near"; lab_offloads_off em "$far"
  done <<'LINKS_EOF'
wlan0 w1 wc wr 10.1.0.2/24 10.1.0.1/24
lte0 l2 lc lr 10.2.0.2/24 10.2.0.1/24
LINKS_EOF
  lab_start em linkem $(lab_linkem_sched) "$BIN/linkem" run --control "$LAB_DIR/linkem.sock" \
    "wlan:wc:wr:$LINKEM_PROFILES/$wlan.profile" "lte:lc:lr:$LINKEM_PROFILES/$lte.profile"
  wait_for 5 test -S "$LAB_DIR/linkem.sock" || { echo "lab: linkem did not start:"; cat "$LAB_DIR/linkem.log"; return 1; }
}
# lab_link wlan|lte up|down|both WORD...: change a link now (profile.hpp's words);
# lab_link_load wlan|lte PROFILE: replace it with a shipped profile.
lab_link() { nsx em "$BIN/linkem" ctl "$LAB_DIR/linkem.sock" set "$@" >/dev/null; }
lab_link_load() { nsx em "$BIN/linkem" ctl "$LAB_DIR/linkem.sock" load "$1" "$LINKEM_PROFILES/$2.profile" >/dev/null; }
lab_link_stats() { nsx em "$BIN/linkem" ctl "$LAB_DIR/linkem.sock" stats; }
# lab_link_restart wlan|lte PROFILE START_S: the link as PROFILE says, its
# trace (if it has one) from START_S, so every run sees the same capacity.
lab_link_restart() {
  lab_link_load "$1" "$2"
  lab_link "$1" both "trace_start=${3}s"  # no effect without a trace
}
# lab_link_queued [wlan|lte]: bytes in the emulator's queues now, of one link
# or of every link; lab_link_drained [wlan|lte]: waits (up to 20 s) until
# what the last run left there has left.
lab_link_queued() {
  lab_link_stats | awk -v l="${1:-}" '$1 != "all" && (l == "" || $1 == l) {
    for (i = 3; i <= NF; i++) if ($i ~ /^queued=/) q += substr($i, 8) } END { print q + 0 }'
}
lab_link_empty() { test "$(lab_link_queued "$@")" = 0; }
lab_link_drained() { wait_for 20 lab_link_empty "$@"; }
# lab_uplink_out wlan|lte: cli loses that emulated uplink as a connection
# manager would see it: its carrier (the emulator's end of the veth goes
# down) and its default route; the client is left with the other path only.
lab_uplink_out() {
  case "$1" in
    wlan) nsx em ip link set wc down; nsx cli ip route del default via 10.1.0.1 dev wlan0 metric 100 2>/dev/null ;;
    lte) nsx em ip link set lc down; nsx cli ip route del default via 10.2.0.1 dev lte0 metric 200 2>/dev/null ;;
  esac
  return 0
}

# lab_ipv6: IPv6 beside IPv4 on the router's links (fd0N::/64 for 10.N.0.0/24,
# .1 = ::1, .2 = ::2), the hub's eth0 and its default route, forwarding on
# inet. The client's uplinks get none: each test gives them what it needs
# (lab_uplink6 NS IF N). Addresses skip duplicate detection (nodad) so they
# are usable at once.
lab_ipv6() {
  for n in cli cli2 inet hub hub2 srv srv2; do nsx $n sysctl -qw net.ipv6.conf.all.disable_ipv6=0; done
  nsx inet sysctl -qw net.ipv6.conf.all.forwarding=1
  local pair
  for pair in w1:1 l2:2 w5:5 e3:3 e6:6; do nsx inet ip -6 addr add "fd0${pair#*:}::1/64" dev "${pair%:*}" nodad; done
  nsx hub ip -6 addr add fd03::2/64 dev eth0 nodad
  nsx hub ip -6 route add default via fd03::1 dev eth0
}
# lab_inner6: srv's IPv6 network behind the hub (srv fd04::2/64, hub fd04::1),
# routed back via the hub, for IPv6 inside the tunnel.
lab_inner6() {
  nsx hub ip -6 addr add fd04::1/64 dev s0 nodad
  nsx srv ip -6 addr add fd04::2/64 dev eth0 nodad
  nsx srv ip -6 route add default via fd04::1
  nsx hub sysctl -qw net.ipv6.conf.all.forwarding=1
}
lab_uplink6() {  # lab_uplink6 NS IF N [METRIC]: fd0N::2/64 on IF, default route via fd0N::1
  nsx "$1" ip -6 addr add "fd0$3::2/64" dev "$2" nodad
  nsx "$1" ip -6 route add default via "fd0$3::1" dev "$2" metric "${4:-100}"
}
# lab_hosts NS LINE...: an /etc/hosts for processes started in NS (ip netns
# exec bind-mounts /etc/netns/NAME/hosts over /etc/hosts); lab_down removes it.
lab_hosts() {
  local n=$1; shift
  mkdir -p "/etc/netns/$(ns "$n")"
  printf '%s\n' "127.0.0.1 localhost" "$@" > "/etc/netns/$(ns "$n")/hosts"
}
# lab_resolv_conf NS LINE...: the same for /etc/resolv.conf.
lab_resolv_conf() {
  local n=$1; shift
  mkdir -p "/etc/netns/$(ns "$n")"
  printf '%s\n' "$@" > "/etc/netns/$(ns "$n")/resolv.conf"
}

# lab_bus: a system bus of the test's own (dbus-daemon, run in inet, a unix
# socket in LAB_DIR that every namespace reaches) for stand-ins of system
# services (fake_nm.py, fake_resolved.py); DBUS_SYSTEM_BUS_ADDRESS names it
# for everything started after, the daemons included.
lab_bus() {
  cat > "$LAB_DIR/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$LAB_DIR/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
CONF
  lab_start inet bus dbus-daemon --nofork --config-file="$LAB_DIR/bus.conf"
  wait_for 5 test -S "$LAB_DIR/bus" || return 1
  export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$LAB_DIR/bus"
}

lab_keys() {  # lab_keys NAME...: NAME.key and NAME.pub in LAB_DIR
  for k in "$@"; do
    (umask 077; "$BIN/tund" genkey > "$LAB_DIR/$k.key")
    "$BIN/tund" pubkey < "$LAB_DIR/$k.key" > "$LAB_DIR/$k.pub"
  done
}

pub() { cat "$LAB_DIR/$1.pub"; }

# lab_hub_toml [TOP_LEVEL_LINES] [STATE_DIR]: the lab hub's common settings
# (key, listen (LAB_LISTEN, a TOML value), control socket, state directory,
# top-level extras, hub0 10.77.0.1/24); callers append [[client]] and other tables.
lab_hub_toml() {
  cat <<TOML
private_key_file = "hub.key"
listen = ${LAB_LISTEN:-\"0.0.0.0:51900\"}
control_socket = "$LAB_DIR/hub.sock"
state_directory = "${2:-$LAB_DIR}"
${1:-}
[tun]
address = ${LAB_TUN_ADDRESS:-\"10.77.0.1/24\"}
TOML
}

# lab_phone_toml [TOP_LEVEL_LINES] [ROUTES]: the phone's common settings and
# its [[hub]] "main" (endpoint LAB_ENDPOINT, default 10.3.0.2:51900; routes
# default ["10.4.0.0/24"]); callers append tables.
lab_phone_toml() {
  cat <<TOML
private_key_file = "phone.key"
control_socket = "$LAB_DIR/cli.sock"
${1:-}
[[hub]]
name = "main"
endpoint = "${LAB_ENDPOINT:-10.3.0.2:51900}"
public_key = "$(pub hub)"
routes = ${2:-[\"10.4.0.0/24\"]}
TOML
}

# lab_full_tunnel_hub_toml: the lab hub with the phone (VIP 10.77.0.2) and
# everything it sends elsewhere masqueraded: the hub of a full tunnel.
lab_full_tunnel_hub_toml() {
  lab_hub_toml
  cat <<TOML
[[client]]
name = "phone"
public_key = "$(pub phone)"
vip = "10.77.0.2"
[nat]
masquerade = ["0.0.0.0/0"]
TOML
}

# lab_one_hub [EXTRA_CLIENT_TOML]: keys and configs for the common case, one
# hub (hub ns, hub0 10.77.0.1/24) and one client "phone" (cli ns, VIP
# 10.77.0.2, route 10.4.0.0/24), then starts both and waits until connected.
# EXTRA_CLIENT_TOML is appended to the client's config (e.g. an [uplinks] table);
# LAB_ROUTES (a TOML array) replaces the client's routes; LAB_VIP (a TOML
# line, maybe empty) replaces the client's vip line in the hub's config;
# LAB_HUB_TOP and LAB_CLIENT_TOP are top-level lines for either config.
lab_one_hub() {
  lab_keys hub phone
  { lab_hub_toml "${LAB_HUB_TOP:-}"; cat <<TOML
[[client]]
name = "phone"
public_key = "$(pub phone)"
${LAB_VIP-vip = \"10.77.0.2\"}
${LAB_PERF:+[performance]
$LAB_PERF}
TOML
  } > "$LAB_DIR/hub.toml"
  { lab_phone_toml "${LAB_CLIENT_TOP:-}" "${LAB_ROUTES:-}"; cat <<TOML
${1:-}
${LAB_PERF:+[performance]
$LAB_PERF}
TOML
  } > "$LAB_DIR/cli.toml"
  lab_start hub hub $(lab_unit_sched tund-hub) "$BIN/tund-hub" run -c "$LAB_DIR/hub.toml"
  wait_for 5 nsx hub "$BIN/tund-hub" status -c "$LAB_DIR/hub.toml"
  lab_start cli cli $(lab_unit_sched tund@) "$BIN/tund" run -c "$LAB_DIR/cli.toml"
  wait_for 10 nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml"
}

# lab_unit_sched UNIT: with LAB_AS_UNITS=1 (the benchmarks: they measure what
# ships), the chrt prefix that gives a daemon the scheduling its systemd unit
# sets (CPUSchedulingPolicy=, CPUSchedulingPriority=); otherwise nothing.
lab_unit_sched() {
  [ "${LAB_AS_UNITS:-}" = 1 ] || return 0
  local unit="$ROOT/systemd/$1.service.in" policy prio
  policy=$(sed -n 's/^CPUSchedulingPolicy=//p' "$unit")
  prio=$(sed -n 's/^CPUSchedulingPriority=//p' "$unit")
  case "$policy" in rr | fifo) echo "chrt --$policy $prio" ;; esac
}

# lab_start NS NAME CMD...: runs a process in the background, output to
# LAB_DIR/NAME.log; PID_NAME holds its pid (ip netns exec execs, so the pid
# is the process itself) and lab_down stops it.
lab_start() {
  local n=$1 name=$2; shift 2
  ip netns exec "$(ns "$n")" "$@" >"$LAB_DIR/$name.log" 2>&1 &
  LAB_PIDS+=($!)
  eval "PID_$name=$!"
}

# lab_call_start TAG CLI_IP SECONDS START_NS: a voice call (netpeer.py call,
# 50 frames a second each way) between cli and srv (10.4.0.2, which reaches
# cli at CLI_IP), both ends from START_NS (wall clock, ns); the logs
# call_report.py reads are LAB_DIR/call_cli_TAG.log and call_srv_TAG.log.
# lab_call_wait TAG TIMEOUT_S: until both ends have written them.
lab_call_start() {
  lab_start cli "callc_$1" $NETPEER call 6000 10.4.0.2 6000 "$3" "$LAB_DIR/call_cli_$1.log" --start-at "$4"
  lab_start srv "calls_$1" $NETPEER call 6000 "$2" 6000 "$3" "$LAB_DIR/call_srv_$1.log" --start-at "$4"
}
lab_call_wait() {
  wait_for "$2" bash -c "grep -q '^sent' '$LAB_DIR/callc_$1.log' && grep -q '^sent' '$LAB_DIR/calls_$1.log'"
}

# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
wait_for() {
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# wait_ms MILLISECONDS CMD...: retries CMD every 20 ms; prints how long it took.
wait_ms() {
  local start=$(date +%s%N); local deadline=$(( start + $1 * 1000000 )); shift
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s%N)" -ge "$deadline" ]; then echo "timeout"; return 1; fi
    sleep 0.02
  done
  echo $(( ($(date +%s%N) - start) / 1000000 ))
}

lab_down() {
  for p in "${LAB_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${LAB_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  LAB_PIDS=()
  # Anything else still running inside a lab namespace goes too.
  for n in cli cli2 inet hub hub2 srv srv2 lan em ${LAB_EXTRA_NS:-}; do
    ip netns pids "$(ns $n)" 2>/dev/null | xargs -r kill 2>/dev/null
    ip netns del "$(ns $n)" 2>/dev/null
    rm -rf "/etc/netns/$(ns $n)"
  done
  [ -n "${KEEP_LAB_DIR:-}" ] || [ -z "$LAB_DIR" ] || rm -rf "$LAB_DIR"
  LAB_DIR=""
}

require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIPPED: $1 needs root to create network namespaces (run as root, as CI does)"
    exit 77
  fi
}

# verify_units DIR UNIT...: systemd-analyze verify each DIR/UNIT.service, a
# check each (verify prints nothing for a clean unit; it also checks that
# ExecStart exists).
verify_units() {
  local dir=$1 u out; shift
  for u in "$@"; do
    out=$(cd "$dir" && systemd-analyze verify --man=no "./$u.service" 2>&1)
    check "systemd-analyze verify $u.service is clean${out:+: $out}" test -z "$out"
  done
}

# Results: check NAME CMD... counts a pass or a failure and says which.
PASSED=0
FAILED=0
check() {
  local name=$1; shift
  if "$@"; then
    PASSED=$((PASSED + 1)); echo "ok - $name"
  else
    FAILED=$((FAILED + 1)); echo "FAIL - $name"
  fi
}
summary() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
