#!/usr/bin/env bash
# bench/bond's instrument, CI-sized (about 40 s; the measured runs are
# bench/bond): on the unlike pair (20 Mbit/s at 8 ms on wlan0, 8 Mbit/s at
# 40 ms on lte0), one TCP flow down for 3 s with a call beside it, direct over
# wlan0, through Linux MPTCP and through tund; then the table. Loose bounds:
# that each system carries the flow, that MPTCP really used both links (the
# check bench/bond warns on), and that the bond config check answers.
set -euo pipefail
export LINKS=bond-fast,bond-slow
. "$(dirname "$0")/lab.sh"
require_root "bond_smoke_test"
BOND_S=3 WARMUP_S=1 BOND_TRACE_START=0 BOND_PAIR=unlike
RESULTS=$(mktemp)
. "$(dirname "$0")/bond.sh"
trap 'lab_down || :; rm -f "$RESULTS" "$RESULTS.tsv"' EXIT

# row SYSTEM FIELD: a field of SYSTEM's row (5 goodput, 7 wlan share, 9 note).
row() { awk -F '\t' -v s="$1" -v f="$2" '$4 == s { print $f }' "$RESULTS"; }
above() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

refusal=$(bond_refusal)
echo "   tund-bond: ${refusal:-accepted}"
check "the bond config check answers (accepted, or refused on the [uplinks] mode key)" \
  bash -c "[ -z \"\$1\" ] || echo \"\$1\" | grep -q \"'mode'\"" _ "$refusal"

for sys in direct-a mptcp tund-failover; do
  bond_lab_up "$sys"
  check "$sys: srv answers through it" test -z "$BOND_NOTE"
  bond_run "$sys" tcp1 down
  lab_down || :
done

check "direct-a: the flow got through ($(row direct-a 5) Mbit/s of wlan0's 20)" above "$(row direct-a 5)" 10
check "direct-a: all on wlan0 ($(row direct-a 7)%)" test "$(row direct-a 7)" -ge 99
check "mptcp: a subflow joined on lte0 ($(row mptcp 9))" bash -c "echo \"\$1\" | grep -q 'joined: [1-9]' && ! echo \"\$1\" | grep -q WARNING" _ "$(row mptcp 9)"
check "mptcp: both links carried data (wlan0 $(row mptcp 7)%)" bash -c "[ \"\$1\" -ge 5 ] && [ \"\$1\" -le 95 ]" _ "$(row mptcp 7)"
check "mptcp: more than direct over wlan0 alone ($(row mptcp 5) Mbit/s)" above "$(row mptcp 5)" "$(row direct-a 5)"
check "tund-failover: the flow got through the tunnel ($(row tund-failover 5) Mbit/s)" above "$(row tund-failover 5)" 5
check "the table prints every system's row" bash -c \
  "$PY '$ROOT/bench/bond_table.py' '$RESULTS' '$RESULTS.tsv' | grep -c '^1 TCP flow' | grep -qx 3"
summary
