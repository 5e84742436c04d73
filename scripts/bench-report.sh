#!/bin/bash
# Benchmark: `tracekit report` vs `trace-cmd report` (3.1.6) on the same
# >= 1M-event trace.dat, output to /dev/null, each pinned to one core, run
# alternately in one invocation. Prints events/s of both tools (median of
# RUNS runs, by CPU time = user+sys, and by wall time), the ratio and the
# peak RSS (/usr/bin/time -v "Maximum resident set size").
# Usage: scripts/bench-report.sh [FILE.dat]   (records one with trace-cmd if absent; needs root)
#   RUNS=3 CPU=0 scripts/bench-report.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FILE=${1:-/tmp/tk-bench/bench.dat}
RUNS=${RUNS:-3}
CPU=${CPU:-0}
CORPUS=$ROOT/../shared/corpus/tracecmd
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-tc}

if [ ! -f "$FILE" ]; then
  # ~1.2M sys_enter/sys_exit read/write events of a dd burst, recorded by
  # trace-cmd in a private mount namespace (tracecmd.md §1 recipe A).
  mkdir -p "$(dirname "$FILE")"
  mkdir -p /tmp/tc/fake && (cd /tmp/tc/fake && echo 1 > ftrace_enabled && : > empty1 && : > empty2 \
    && echo 'no pid' > nopid1 && echo 'no pid' > nopid2)
  (cd "$(dirname "$FILE")" && timeout 120 sh "$CORPUS"/tcrec.sh record -o "$FILE" \
      -e syscalls:sys_enter_read -e syscalls:sys_exit_read \
      -e syscalls:sys_enter_write -e syscalls:sys_exit_write \
      sh -c 'dd if=/dev/zero of=/dev/null bs=1 count=300000 2>/dev/null' > "$FILE.record.log" 2>&1) || true
  echo 1 > /sys/kernel/tracing/tracing_on || true
fi

cargo build -q --release -p tracekit --manifest-path "$ROOT/Cargo.toml"
TK=$CARGO_TARGET_DIR/release/tracekit
N=$(trace-cmd report -i "$FILE" 2>/dev/null | wc -l)
if ! cmp -s <(trace-cmd report -i "$FILE" 2>/dev/null) <("$TK" report -i "$FILE" 2>/dev/null); then
  echo "WARNING: outputs differ" >&2
fi
echo "file: $FILE ($(du -h "$FILE" | cut -f1), $N lines = events+1), $RUNS runs each, pinned to CPU $CPU"

# one run: prints "wall cpu maxrss_kb"
one() {
  local t
  t=$(mktemp)
  /usr/bin/time -v -o "$t" taskset -c "$CPU" "$@" > /dev/null 2>/dev/null
  awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
              /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { m = $2 }
              END { printf "%.3f %.3f %d\n", w, u + s, m }' "$t"
  rm -f "$t"
}
TC_RES=() TK_RES=()
for _ in $(seq "$RUNS"); do
  TC_RES+=("$(one trace-cmd report -i "$FILE")")
  TK_RES+=("$(one "$TK" report -i "$FILE")")
done
python3 - "$N" "$(printf '%s;' "${TC_RES[@]}")" "$(printf '%s;' "${TK_RES[@]}")" <<'PY'
import statistics, sys
n = int(sys.argv[1]) - 1
def parse(s):
    runs = [list(map(float, r.split())) for r in s.split(';') if r.strip()]
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    rss = max(int(r[2]) for r in runs)
    return wall, cpu, rss
tcw, tcc, tcr = parse(sys.argv[2])
tkw, tkc, tkr = parse(sys.argv[3])
print(f"{'':10} {'wall s':>8} {'cpu s':>8} {'events/s (cpu)':>15} {'events/s (wall)':>16} {'peak RSS KB':>12}")
print(f"{'trace-cmd':10} {tcw:8.3f} {tcc:8.3f} {n/tcc:15,.0f} {n/tcw:16,.0f} {tcr:12}")
print(f"{'tracekit':10} {tkw:8.3f} {tkc:8.3f} {n/tkc:15,.0f} {n/tkw:16,.0f} {tkr:12}")
print(f"ratio (tracekit/trace-cmd events/s): {tcc/tkc:.1f}x by CPU time, {tcw/tkw:.1f}x by wall time; "
      f"peak RSS {tkr/tcr:.2f}x of trace-cmd's")
PY
