#!/bin/bash
# Sampling overhead of `tracekit perf record` vs Debian `perf record` at the
# same frequency on a CPU-bound workload (issue #9: slowdown <= 3 %, and not
# worse than perf). Usage: scripts/perf-overhead.sh [RUNS] [HZ]
# Needs root and a release build: cargo build --release -p tracekit
set -u
RUNS=${1:-7}
HZ=${2:-999}
TK=${TK:-$(dirname "$0")/../target-perf/release/tracekit}
[ -x "$TK" ] || TK=$(dirname "$0")/../target/release/tracekit
[ -x "$TK" ] || { echo "build first: cargo build --release -p tracekit" >&2; exit 1; }
command -v perf >/dev/null || apt-get install -y linux-perf >/dev/null
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
WORK=(/usr/bin/python3 -c 'x=0
for i in range(12_000_000): x+=i')
now() { date +%s.%N; }
run() { # label, command prefix...
	local label=$1; shift
	for i in $(seq "$RUNS"); do
		local t0 t1
		t0=$(now); "$@" "${WORK[@]}" >/dev/null 2>&1; t1=$(now)
		echo "$label $(echo "$t1 - $t0" | bc -l)"
	done
}
{
	run base env
	run tracekit "$TK" perf record -F "$HZ" -g -o "$OUT/tk.data" --
	run perf perf record -F "$HZ" -g -o "$OUT/perf.data" --
} > "$OUT/times"
python3 - "$OUT/times" "$HZ" <<'PY'
import sys, statistics as st
t = {}
for line in open(sys.argv[1]):
    k, v = line.split(); t.setdefault(k, []).append(float(v))
base = st.median(t["base"])
print(f"workload: python3 loop, {len(t['base'])} runs each, -F {sys.argv[2]} -g, median wall time")
for k in ("base", "tracekit", "perf"):
    m = st.median(t[k]); print(f"  {k:9s} {m:7.3f} s  ({100*(m/base-1):+5.2f} %)  min {min(t[k]):.3f} max {max(t[k]):.3f}")
PY
