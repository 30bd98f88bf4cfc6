# The drive out of Wi-Fi on emulated radio links, shared by bench/radio and
# tests/netns/radio_test.sh: sourced after lab.sh (with LINKS set) and the
# system's setup (CLI_IP: where srv reaches the client).
#   radio_drive SYSTEM RUN    one drive; appends a row to $RESULTS
#   radio_table FILE          the rows as a table
#   radio_bulk SYSTEM RUN     BULK_S s of unpaced download on the healthy Wi-Fi
#                             (its queue full): appends a row to $BULK_RESULTS
# Phases (seconds, from the environment): BEFORE, FADE, LTE_S, BACK_S;
# DL_RATE: the download's pace in bytes/s. DRIVE=steady: no event at all for
# the whole time (satellite profiles: nothing may move).
CALL_REPORT="$PY $ROOT/bench/call_report.py"

tund_counts() {  # "handovers copied_bytes suspicions" of the lab's client
  nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json 2>/dev/null |
    jq -r '"\(.handovers) \(.copied_bytes) \(.suspicions)"' 2>/dev/null || echo "0 0 0"
}

radio_drive() {
  local sys=$1 run=$2 port=6100
  local total=$((BEFORE + FADE + LTE_S + BACK_S))
  local m0=- c0=- m1=- c1=-
  [ "$sys" = tund ] && read -r m0 c0 _ < <(tund_counts)
  lab_start cli "dl_$run" $NETPEER sink $((port + 1))
  wait_for 5 grep -q ready "$LAB_DIR/dl_$run.log"
  # The LTE trace is restarted with the drive, so every run sees the same
  # capacity in each phase: by default from its 45th second, so the fade and
  # the phase on LTE fall on its good stretch (8-17 Mbit/s down, above the
  # download's 4) and its dead zones elsewhere: this drive measures leaving
  # and coming back. LTE_TRACE_START=0 puts the phase on LTE on 1-5 Mbit/s,
  # under the download: the crowded link of the queueing issue.
  local lte_profile; lte_profile=$(lab_link_profiles | cut -d' ' -f2)
  lab_link_load lte "$lte_profile"
  lab_link lte both "trace_start=${LTE_TRACE_START:-45}s"
  local t0; t0=$(date +%s%N)
  lab_start cli "callc_$run" $NETPEER call 6000 10.4.0.2 6000 "$total" "$LAB_DIR/call_cli_$run.log"
  lab_start srv "calls_$run" $NETPEER call 6000 "$CLI_IP" 6000 "$total" "$LAB_DIR/call_srv_$run.log"
  nsx srv timeout $((total + 40)) $NETPEER send "$CLI_IP" $((port + 1)) $((DL_RATE * (total - 1))) "$DL_RATE" > "$LAB_DIR/ds_$run.out" 2>/dev/null & local s1=$!
  local phases="before=$t0"
  if [ "${DRIVE:-fade}" = steady ]; then
    sleep "$total"  # the links as they are, nothing happens: no move is the answer
  else
    sleep "$BEFORE"
    local t_fade; t_fade=$(date +%s%N); lab_link_load wlan wifi-fade
    [ "$sys" = tund ] && radio_watch_leave "$t_fade" > "$LAB_DIR/left_$run" &
    sleep "$FADE"
    # Carrier lost, and the connection manager's answer to it: the Wi-Fi's
    # default route goes (wireguard-go moves only through the routing table).
    local t_lte; t_lte=$(date +%s%N); nsx em ip link set wc down
    nsx cli ip route del default via 10.1.0.1 dev wlan0 metric 100 2>/dev/null
    sleep "$LTE_S"
    local t_back; t_back=$(date +%s%N); nsx em ip link set wc up; lab_link_load wlan wifi-good
    nsx cli ip route replace default via 10.1.0.1 dev wlan0 metric 100
    phases="$phases fade=$t_fade lte=$t_lte back=$t_back"
  fi
  wait $s1; local r1=$?
  wait_for 15 bash -c "grep -q '^sent' '$LAB_DIR/callc_$run.log' && grep -q '^sent' '$LAB_DIR/calls_$run.log'"
  wait_for 10 test -n "$(tail -n1 "$LAB_DIR/dl_$run.log" | grep -v ready)"
  [ "$sys" = tund ] && read -r m1 c1 _ < <(tund_counts)
  local got sent stall intact=no
  got=$(tail -n1 "$LAB_DIR/dl_$run.log" | grep -v ready); sent=$(cut -d' ' -f1 "$LAB_DIR/ds_$run.out")
  stall=$(echo "$got" | cut -d' ' -f4); [ -n "$stall" ] || stall=-
  [ "$r1" = 0 ] && [ -n "$sent" ] && [ "$sent" = "$(echo "$got" | cut -d' ' -f1)" ] && intact=yes
  local report; report=$($CALL_REPORT "$LAB_DIR/call_cli_$run.log" "$LAB_DIR/call_srv_$run.log" $phases --json)
  local moves=- copied=-
  [ "$m0" != - ] && moves=$((m1 - m0)) && copied=$((c1 - c0))
  local left=-; [ -s "$LAB_DIR/left_$run" ] && left=$(cat "$LAB_DIR/left_$run")
  echo "== $sys run $run: download stall ${stall} ms, intact $intact, moves $moves, copied $copied bytes, left the fade after ${left} ms"
  $CALL_REPORT "$LAB_DIR/call_cli_$run.log" "$LAB_DIR/call_srv_$run.log" $phases | sed 's/^/   /'
  lab_link_stats | sed 's/^/   linkem: /'
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sys" "$run" "$stall" "$intact" "$moves" "$copied" "$report" >> "$RESULTS"
  RADIO_STALL=$stall RADIO_INTACT=$intact RADIO_MOVES=$moves RADIO_REPORT=$report
  kill "$(eval echo \$PID_dl_$run)" 2>/dev/null
}

# radio_watch_leave START_NS: how long after START the client's active uplink
# was no longer wlan0 (status polled every 20 ms, for at most FADE s).
radio_watch_leave() {
  local start=$1 end=$(( $1 + FADE * 1000000000 )) now
  while now=$(date +%s%N); [ "$now" -lt "$end" ]; do
    if [ "$(nsx cli "$BIN/tund" status -c "$LAB_DIR/cli.toml" --json 2>/dev/null | jq -r .active_uplink)" != wlan0 ]; then
      echo $(( (now - start) / 1000000 )); return
    fi
    sleep 0.02
  done
  echo ">$((FADE * 1000))"
}

radio_table() {
  $PY - "$1" <<'PY'
import json, sys
names = {"tund": "tund", "wg": "wireguard-go (Debian)", "wgm": "wireguard-go 0.0.20250522"}
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print()
print("%-28s | %-9s | %-9s | %-9s | %-9s | %-11s | %-9s | %-6s | %-5s | %s" %
      ("system, run", "before", "fade", "on LTE", "back", "whole drive", "p99 down", "stall", "moves", "copied, intact"))
print("-" * 130)
for sys_, run, stall, intact, moves, copied, rep in rows:
    r = json.loads(rep)
    cell = lambda p: "%d / %d" % (r["up"]["bad"][p], r["down"]["bad"][p]) if p in r["up"]["bad"] else "-"
    print("%-28s | %-9s | %-9s | %-9s | %-9s | %-11s | %-9s | %-6s | %-5s | %s, %s" %
          ("%s, %s" % (names.get(sys_, sys_), run), cell("before"), cell("fade"), cell("lte"), cell("back"),
           "%d / %d" % (r["up"]["whole"], r["down"]["whole"]), "%s ms" % r["down"]["p99_ms"],
           stall, moves, copied, intact))
print("cells: the call's frames later than 150 ms one way or lost, up / down (50 a second each way);")
print("stall: the 4 Mbit/s download's longest gap in ms; moves and copied bytes: tund's uplink switches and data copies")
PY
}

radio_bulk() {
  local sys=$1 run=$2 port=6300 seconds=${BULK_S:-20}
  local m0=- c0=- s0=- m1=- c1=- s1=-
  [ "$sys" = tund ] && read -r m0 c0 s0 < <(tund_counts)
  lab_start cli "bulk_$run" $NETPEER sink $port
  wait_for 5 grep -q ready "$LAB_DIR/bulk_$run.log"
  nsx srv timeout "$seconds" $NETPEER send "$CLI_IP" $port 400000000 > /dev/null 2>&1
  wait_for 10 test -n "$(tail -n1 "$LAB_DIR/bulk_$run.log" | grep -v ready)"
  [ "$sys" = tund ] && read -r m1 c1 s1 < <(tund_counts)
  local bytes mbit peak
  bytes=$(tail -n1 "$LAB_DIR/bulk_$run.log" | cut -d' ' -f2)
  mbit=$(awk -v b="${bytes:-0}" -v s="$seconds" 'BEGIN{printf "%.1f", b * 8 / s / 1e6}')
  peak=$(lab_link_stats | awk '$1=="wlan" && $2=="down"{for(i=3;i<=NF;i++) if ($i ~ /^queue_peak=/) print substr($i, 12)}')
  local moves=- copied=- susp=-
  [ "$m0" != - ] && moves=$((m1 - m0)) && copied=$((c1 - c0)) && susp=$((s1 - s0))
  echo "== $sys bulk run $run: ${mbit} Mbit/s for ${seconds} s, Wi-Fi queue peak ${peak} bytes, moves $moves, copied $copied bytes, suspicions $susp"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sys" "$run" "$mbit" "$peak" "$moves" "$copied" "$susp" >> "$BULK_RESULTS"
  RADIO_BULK_MOVES=$moves RADIO_BULK_COPIED=$copied RADIO_BULK_MBIT=$mbit
}
