#!/usr/bin/env bash
# The 60-second soak (bench/soak with DURATION=60): two checked TCP streams
# and a UDP stream through tund while an uplink event comes every 2-4 s.
# Loose bounds for CI (the long run and its targets are bench/soak's): every
# stream intact, no inner reset, no stall of 2 s or more.
set -u
. "$(dirname "$0")/lab.sh"
require_root "soak_test"
summary_file=$(mktemp)
trap 'rm -f "$summary_file"' EXIT
DURATION=${DURATION:-60} SOAK_SUMMARY=$summary_file BIN=$BIN bash "$ROOT/bench/soak"
val() { sed -n "s/^$1=//p" "$summary_file"; }
check "the soak ran and summed up" test -s "$summary_file"
check "events were injected ($(val events))" test "$(val events)" -ge 10
check "every stream arrived intact" test "$(val intact)" = yes
check "no inner TCP reset ($(val resets))" test "$(val resets)" = 0
check "every stall under 2 s ($(val longest_stall_ms) ms)" test "$(val longest_stall_ms)" -lt 2000
summary
