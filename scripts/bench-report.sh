#!/bin/bash
# Benchmark: `tracekit report` vs `trace-cmd report` (3.1.6) on the same
# >= 1M-event trace.dat, output to /dev/null, one core each, side by side.
# Usage: scripts/bench-report.sh [FILE.dat]   (records one with trace-cmd if absent; needs root)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FILE=${1:-/tmp/tk-bench/bench.dat}
CORPUS=$ROOT/../shared/corpus/tracecmd
if [ ! -f "$FILE" ]; then
  mkdir -p "$(dirname "$FILE")"
  W=$(mktemp -d); cp "$CORPUS"/tcrec.sh "$CORPUS"/restore.sh "$CORPUS"/state.sh "$W"/
  mkdir -p /tmp/tc/fake && (cd /tmp/tc/fake && echo 1 > ftrace_enabled && : > empty1 && : > empty2 && echo 'no pid' > nopid1 && echo 'no pid' > nopid2)
  # ~1.2M sys_enter/sys_exit_read/write events from a dd burst
  (cd "$W" && timeout 120 ./tcrec.sh record -o "$FILE" -e syscalls:sys_enter_read -e syscalls:sys_exit_read \
      -e syscalls:sys_enter_write -e syscalls:sys_exit_write \
      sh -c 'dd if=/dev/zero of=/dev/null bs=1 count=300000 2>/dev/null' >/dev/null 2>&1) || true
  echo 1 > /sys/kernel/tracing/tracing_on || true
fi
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-tc} cargo build -q --release -p tracekit
TK=${CARGO_TARGET_DIR:-$ROOT/target-tc}/release/tracekit
N=$($TK report -i "$FILE" | wc -l)
echo "file: $FILE  ($(du -h "$FILE" | cut -f1), $N lines)"
run() { /usr/bin/time -f "%e s  %M KB maxrss" taskset -c 0 "$@" > /dev/null; }
echo -n "trace-cmd report: "; TC=$( { /usr/bin/time -f "%e %M" taskset -c 0 trace-cmd report -i "$FILE" > /dev/null; } 2>&1 | tail -1)
echo "$TC"
echo -n "tracekit report:  "; TK_T=$( { /usr/bin/time -f "%e %M" taskset -c 0 "$TK" report -i "$FILE" > /dev/null; } 2>&1 | tail -1)
echo "$TK_T"
python3 - "$N" "$TC" "$TK_T" <<'PY'
import sys
n=int(sys.argv[1]); tc=sys.argv[2].split(); tk=sys.argv[3].split()
a=float(tc[0]); b=float(tk[0])
print(f"events/s: trace-cmd {n/a:,.0f}  tracekit {n/b:,.0f}  ratio {a/b:.1f}x ; maxrss trace-cmd {tc[1]} KB, tracekit {tk[1]} KB")
PY
