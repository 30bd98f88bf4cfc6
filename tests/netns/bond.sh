# Bonding's measuring instrument (issue 30), sourced by bench/bond after
# lab.sh: cli's wlan0 and lte0 behind the link emulator as a link pair, and
# the systems that use them.
#   bond_pair_links PAIR      the pair's LINKS (alike, unlike, traces)
#   bond_refusal              empty when this build's tund takes [uplinks]
#                             mode = "bond", else why not (the config check's words)
#   bond_lab_up SYSTEM        a lab with SYSTEM set up (direct-a, direct-b, mptcp,
#                             tund-a, tund-b, tund-failover, tund-bond:
#                             bond_setup_direct_a ...)
#                             and srv answering through it, or BOND_NOTE says not
#   bond_run SYSTEM WORKLOAD DIR   one measurement (tcp1, tcp8, udp; down:
#                             srv -> cli, up: cli -> srv); appends a row to $RESULTS
#   bond_unavailable SYSTEM WORKLOAD DIR REASON   the row of one that cannot run
#   BOND_NOTE                 what the next row's note starts with (the setup's trouble)
# cli always opens the connections (iperf3's client; -R for down), as an
# MPTCP client must: only it has the second address to join from. A voice
# call runs beside each TCP workload. From the environment: BOND_S (the
# measured seconds), WARMUP_S (the workload alone before them, omitted from
# its goodput), BOND_TRACE_START (where traced profiles start, s), UDP_MBIT
# (the UDP stream's rate; default 90% of the pair's nominal capacity).
CALL_REPORT="$PY $ROOT/bench/call_report.py"
BOND_PORT=5300  # iperf3's port; each run takes the next one
BOND_WRAP=()    # what the TCP applications run under (mptcpize run for MPTCP)

bond_pair_links() {
  case "$1" in
    alike) echo bond-alike,bond-alike ;;
    unlike) echo bond-fast,bond-slow ;;
    traces) echo lte,lte-b ;;
    *) return 1 ;;
  esac
}

# The config check is the daemon's own: `tund check -c` where the build has
# that command, else `tund run -c` in a namespace of its own, where a config
# error exits 2 before anything is set up and a config it takes runs until
# the timeout (then it stops and removes what it added).
bond_refusal() {
  local dir out rc=0
  dir=$(mktemp -d /tmp/tund-bondcheck.XXXXXX)
  (umask 077; "$BIN/tund" genkey > "$dir/phone.key"; "$BIN/tund" genkey > "$dir/hub.key")
  cat > "$dir/cli.toml" <<TOML
private_key_file = "phone.key"
control_socket = "$dir/cli.sock"
[uplinks]
mode = "bond"
[[hub]]
name = "main"
endpoint = "10.3.0.2:51900"
public_key = "$("$BIN/tund" pubkey < "$dir/hub.key")"
routes = ["10.4.0.0/24"]
TOML
  if "$BIN/tund" --help 2>&1 | grep -Ec '^ +check ' >/dev/null; then  # -c reads it all: no SIGPIPE under pipefail
    out=$("$BIN/tund" check -c "$dir/cli.toml" 2>&1) || rc=$?
  else
    ip netns add "$(ns bondcheck)"
    out=$(ip netns exec "$(ns bondcheck)" timeout 3 "$BIN/tund" run -c "$dir/cli.toml" 2>&1) || rc=$?
    ip netns del "$(ns bondcheck)"
    if [ "$rc" -eq 124 ]; then rc=0; fi
  fi
  rm -rf "$dir"
  if [ "$rc" -ne 0 ]; then echo "${out:-exit $rc}" | sed -n "/./{s#$dir/##;p;q}"; fi
}

# Direct routing, no tunnel: the router reaches srv's subnet through the hub
# host (as bench/crowded does); cli reaches srv over one uplink, and srv
# answers the address of that uplink by its default route.
bond_direct() {  # bond_direct IF GATEWAY ADDRESS
  nsx inet ip route add 10.4.0.0/24 via 10.3.0.2
  nsx cli ip route add 10.4.0.0/24 via "$2" dev "$1"
  CLI_IP=$3
}
bond_setup_direct_a() { bond_direct wlan0 10.1.0.1 10.1.0.2; }
bond_setup_direct_b() { bond_direct lte0 10.2.0.1 10.2.0.2; }
# Linux MPTCP: each uplink's address an endpoint that opens a subflow, each
# address routed out of its own uplink (a table per source), limits that
# allow both; the TCP applications at both ends under mptcpize. The call
# (UDP) takes the default route, wlan0.
bond_setup_mptcp() {
  nsx inet ip route add 10.4.0.0/24 via 10.3.0.2
  local n if gw addr table
  for n in cli srv; do
    nsx $n sysctl -qw net.mptcp.enabled=1
    nsx $n ip mptcp limits set subflows 4 add_addr_accepted 4
  done
  while read -r if gw addr table; do
    nsx cli ip rule add from "$addr" table "$table"
    nsx cli ip route add default via "$gw" dev "$if" table "$table"
    nsx cli ip mptcp endpoint add "$addr" dev "$if" subflow
  done <<'UPLINKS'
wlan0 10.1.0.1 10.1.0.2 101
lte0 10.2.0.1 10.2.0.2 102
UPLINKS
  BOND_WRAP=(mptcpize run)
  CLI_IP=10.1.0.2
}
# tund as configured by default (failover, pacing on), and with [uplinks]
# mode = "bond" and bond_metered = true (the lab's second uplink is named
# lte0, metered by the default globs: a user bonding it says so), nothing
# else changed. Measured once the bond has formed: a new uplink joins after
# the hold-down (2 s), as failover would switch to it.
bond_setup_tund_failover() { lab_one_hub; CLI_IP=10.77.0.2; }
# tund on one uplink only (the other avoided), as direct-a and direct-b are
# the links without a tunnel: what the tunnel itself gives on each link, so a
# bond's shortfall is told apart from the tunnel's on a radio trace.
bond_setup_tund_a() { lab_one_hub '[uplinks]
avoid = ["lte0"]'; CLI_IP=10.77.0.2; }
bond_setup_tund_b() { lab_one_hub '[uplinks]
avoid = ["wlan0"]'; CLI_IP=10.77.0.2; }
bond_setup_tund_bond() { lab_one_hub '[uplinks]
mode = "bond"
bond_metered = true'; CLI_IP=10.77.0.2; }
bond_ready() { nsx cli ping -c 1 -W 1 10.4.0.2; }
bond_formed() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json | jq -e '.bond.bonding' >/dev/null; }
bond_lab_up() {
  lab_up
  BOND_WRAP=() BOND_NOTE=""
  "bond_setup_${1//-/_}" || BOND_NOTE="its setup failed"
  wait_for 20 bond_ready || BOND_NOTE="${BOND_NOTE:+$BOND_NOTE; }srv did not answer through it in 20 s"
  [ "$1" != tund-bond ] || wait_for 20 bond_formed || BOND_NOTE="${BOND_NOTE:+$BOND_NOTE; }the bond did not form in 20 s"
  [ -z "$BOND_NOTE" ] || echo "   ($1: $BOND_NOTE)"
  sleep 1
}

# bond_capacity_mbit PROFILE DIR: what the profile carries in DIR (up|down)
# over the measured window: its rate, or its trace's mean over the window
# (mahimahi: a 1500-byte opportunity a line).
bond_capacity_mbit() {
  local file="$LINKEM_PROFILES/$1.profile" words
  words=$(awk -v d="$2" '$1 == "both" || $1 == d' "$file" | tr ' ' '\n')
  local trace; trace=$(echo "$words" | sed -n 's/^trace=//p' | tail -n1)
  if [ -n "$trace" ]; then
    awk -v a="$BOND_TRACE_START" -v s="$((WARMUP_S + BOND_S))" '
      $1 > a * 1000 && $1 <= (a + s) * 1000 { n++ } END { printf "%.1f", n * 12000 / s / 1e6 }' \
      "$LINKEM_PROFILES/$trace"
  else
    echo "$words" | sed -n 's/^rate=\([0-9.]*\)mbit$/\1/p' | tail -n1
  fi
}
bond_udp_mbit() {  # bond_udp_mbit DIR: UDP_MBIT, or 90% of the pair's capacity in DIR
  [ -n "${UDP_MBIT:-}" ] && { echo "$UDP_MBIT"; return; }
  local wlan lte
  read -r wlan lte <<< "$(lab_link_profiles)"
  awk -v a="$(bond_capacity_mbit "$wlan" "$1")" -v b="$(bond_capacity_mbit "$lte" "$1")" 'BEGIN { printf "%.1f", 0.9 * (a + b) }'
}

# bond_link_bytes DIR: "wlan lte" bytes the emulator has sent in DIR so far.
bond_link_bytes() {
  lab_link_stats | awk -v d="$1" '$2 == d { for (i = 3; i <= NF; i++) if ($i ~ /^bytes_out=/) b[$1] = substr($i, 11) }
    END { print b["wlan"] + 0, b["lte"] + 0 }'
}
# The emulator's own health: frames the kernel dropped because it fell behind.
bond_socket_drops() { lab_link_stats | sed -n 's/.* socket_drops=\([0-9]*\).*/\1/p'; }
# MPTCP subflows that cli joined (a second path opened and confirmed).
bond_mptcp_joins() { nsx cli nstat -az MPTcpExtMPJoinSynAckRx | awk '$1 == "MPTcpExtMPJoinSynAckRx" { print $2 }'; }

# tund's uplink moves so far (0 without tund), and its active uplink.
# (status exits 1 while not connected, with its JSON all the same.)
bond_tund_status() { nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json 2>/dev/null || :; }
bond_tund_moves() {
  local n=""
  if [ -f "$LAB_DIR/cli.toml" ]; then n=$(bond_tund_status | jq -r '.handovers // 0' 2>/dev/null) || n=""; fi
  case "$n" in '' | *[!0-9]*) echo 0 ;; *) echo "$n" ;; esac
}
bond_tund_active() { bond_tund_status | jq -r '.active_uplink' 2>/dev/null || :; }

bond_unavailable() {
  printf '%s\t%s\t%s\t%s\tNA\t\t\t\t%s\n' "$BOND_PAIR" "$3" "$2" "$1" "$4" >> "$RESULTS"
  echo "== $BOND_PAIR $1 $2 $3: not available: $4"
}

bond_run() {
  local sys=$1 work=$2 dir=$3 port=$BOND_PORT tag="${1//-/_}_${2}_$3"  # a tag names shell variables
  BOND_PORT=$((BOND_PORT + 1))
  local wlan lte
  read -r wlan lte <<< "$(lab_link_profiles)"
  lab_link_drained || echo "   (the links still held $(lab_link_queued) bytes)"
  lab_link_restart wlan "$wlan" "$BOND_TRACE_START"
  lab_link_restart lte "$lte" "$BOND_TRACE_START"
  local args=(-t "$BOND_S" -O "$WARMUP_S" -J) wrap=("${BOND_WRAP[@]}")
  [ "$dir" = down ] && args+=(-R)
  case "$work" in
    tcp1) args+=(-C cubic) ;;
    tcp8) args+=(-C cubic -P 8) ;;
    udp) args+=(-u -b "$(bond_udp_mbit "$dir")M" -l 1200); wrap=() ;;
  esac
  lab_start srv "iperf_$tag" "${wrap[@]}" iperf3 -s -1 -p "$port"
  wait_for 5 nsx srv ss -ltnH "sport = :$port" || echo "   (iperf3 does not listen in srv)"
  local b0 drops0 joins0 moves0
  b0=$(bond_link_bytes "$dir"); drops0=$(bond_socket_drops); joins0=$(bond_mptcp_joins); moves0=$(bond_tund_moves)
  # The call covers the measured seconds: it starts as the warm-up ends
  # (iperf3 connects within a few tens of ms of its start).
  local call=no
  if [ "$work" != udp ]; then
    call=yes
    lab_call_start "$tag" "$CLI_IP" "$BOND_S" $(( $(date +%s%N) + WARMUP_S * 1000000000 + 100000000 ))
  fi
  nsx cli timeout $((WARMUP_S + BOND_S + 30)) "${wrap[@]}" iperf3 -c 10.4.0.2 -p "$port" "${args[@]}" \
    > "$LAB_DIR/iperf_$tag.json" 2> "$LAB_DIR/iperf_$tag.err" || :  # a failure reads as no goodput below
  local b1 drops1 joins1 moves1
  b1=$(bond_link_bytes "$dir"); drops1=$(bond_socket_drops); joins1=$(bond_mptcp_joins); moves1=$(bond_tund_moves)
  local mbit="" loss="" report="" note=${BOND_NOTE:-}
  if [ "$work" = udp ]; then
    read -r mbit loss < <(jq -r '.end.sum | "\(.bits_per_second * (1 - .lost_percent / 100) / 1e6) \(.lost_percent)"' \
      "$LAB_DIR/iperf_$tag.json" 2>/dev/null) || :
  else
    mbit=$(jq -r '.end.sum_received.bits_per_second / 1e6' "$LAB_DIR/iperf_$tag.json" 2>/dev/null) || :
    # The sender's retransmissions (inner TCP's own losses, or reordering it took for loss).
    local retrans
    retrans=$(jq -r '.end.sum_sent.retransmits // empty' "$LAB_DIR/iperf_$tag.json" 2>/dev/null) || :
    [ -n "$retrans" ] && note="${note:+$note; }TCP retransmits: $retrans"
  fi
  [ -n "${mbit:-}" ] && [ "$mbit" != null ] || {
    mbit=0; note="iperf3: $(jq -r '.error // empty' "$LAB_DIR/iperf_$tag.json" 2>/dev/null | head -c 80)$(head -c 80 "$LAB_DIR/iperf_$tag.err")"
  }
  if [ "$call" = yes ]; then
    lab_call_wait "$tag" 15 || echo "   (the call's logs are missing)"
    report=$($CALL_REPORT "$LAB_DIR/call_cli_$tag.log" "$LAB_DIR/call_srv_$tag.log" --json) || report=""
  fi
  local share
  share=$(awk -v a="$b0" -v b="$b1" 'BEGIN { split(a, x, " "); split(b, y, " "); w = y[1] - x[1]; l = y[2] - x[2];
    if (w + l > 0) printf "%.0f", 100 * w / (w + l) }')
  if [ "$sys" = mptcp ] && [ "$work" != udp ]; then
    local want=1; [ "$work" = tcp8 ] && want=8
    note="${note:+$note; }subflows joined: $((joins1 - joins0)) (data connections: $want)"
    if [ $((joins1 - joins0)) -lt "$want" ] || [ "${share:-0}" -ge 99 ] || [ "${share:-100}" -le 1 ]; then
      note="$note; WARNING: not both subflows used"
      echo "   WARNING: MPTCP used one path only ($((joins1 - joins0)) joins for $want connections, wlan share ${share:-?}%)"
    fi
  fi
  [ $((moves1 - moves0)) -gt 0 ] && note="${note:+$note; }tund moved uplinks $((moves1 - moves0)) times, now on $(bond_tund_active)"
  [ $((drops1 - drops0)) -gt 0 ] && note="${note:+$note; }emulator fell behind: $((drops1 - drops0)) frames dropped by its sockets"
  printf '%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\n' "$BOND_PAIR" "$dir" "$work" "$sys" "$mbit" "$loss" "$share" "$report" "$note" >> "$RESULTS"
  echo "== $BOND_PAIR $sys $work $dir: $(printf %.2f "$mbit") Mbit/s${loss:+, UDP loss ${loss}%}, wlan share ${share:-?}%${note:+ ($note)}"
  lab_link_stats | sed -n 's/^all /   linkem (how late frames left against the model, since the lab began): /p' || :
  if [ -n "$report" ]; then $CALL_REPORT "$LAB_DIR/call_cli_$tag.log" "$LAB_DIR/call_srv_$tag.log" | sed 's/^/   /' || :; fi
  return 0
}
