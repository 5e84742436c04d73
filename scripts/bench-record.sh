#!/usr/bin/env bash
# Recorder benchmark, side by side in one run: `tracekit record` vs Debian's
# `trace-cmd record` (3.1.6) on the same workload: `-e syscalls` while
# LOAD x NCPU copies of `dd if=/dev/zero of=/dev/null bs=1` run for D seconds.
# Reports per run: events recorded, events lost (overrun + dropped, from the
# file's per-CPU stats), recorder CPU time (user+sys), wall time, file size.
#
#   scripts/bench-record.sh [SECONDS] [RUNS] [--stream-only]
#       (defaults 5 s, 3 runs; medians printed). --stream-only skips the
#       recorder table and compares `tracekit stream` (decode + print to
#       /dev/null) with `tracekit record` and trace-cmd record, alternating
#       the three in each trial so they see the same machine.
#   COMPS=none scripts/bench-record.sh 5 3     (only --compression none)
#
# trace-cmd needs the private-namespace recipe on this VM (EPERM on
# set_ftrace_*): ../shared/corpus/tracecmd/tcrec.sh. Run as root.
set -euo pipefail
D=${1:-5}; RUNS=${2:-3}; ONLY=${3:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TK=$ROOT/target/release/tracekit
TCREC=$ROOT/../shared/corpus/tracecmd/tcrec.sh
command -v trace-cmd >/dev/null || apt-get install -y -qq trace-cmd >/dev/null
[ -x "$TK" ] || (cd "$ROOT" && cargo build --release -q -p tracekit)
mkdir -p /tmp/tc/fake && (cd /tmp/tc/fake && echo 1 > ftrace_enabled && : > empty1 && : > empty2 && echo 'no pid' > nopid1 && echo 'no pid' > nopid2)
W=$(mktemp -d)
LOAD_PIDS=()   # the load this script started; only these are ever killed
stop_load() { [ ${#LOAD_PIDS[@]} -eq 0 ] || kill "${LOAD_PIDS[@]}" 2>/dev/null || true; LOAD_PIDS=(); }
trap 'stop_load; rm -rf "$W"' EXIT
NCPU=$(nproc)
export TRACEKIT_STATE_DIR=$W/state

load() { # $1 = copies per CPU
  for _ in $(seq $(( $1 * NCPU ))); do
    timeout "$((D + 3))" dd if=/dev/zero of=/dev/null bs=1 2>/dev/null &
    LOAD_PIDS+=("$!")
  done
}

stats() { # file -> "events lost"
  "$TK" report --stat -i "$1" 2>/dev/null | awk '
    /^entries:/ {e+=$2} /^overrun:/ {o+=$2} /^dropped events:/ {d+=$3} /^read events:/ {r+=$3}
    END {printf "%d %d", e+r, o+d}'
  printf ' %d\n' "$("$TK" report -i "$1" 2>/dev/null | wc -l)"
}

run_one() { # tool compression loadcopies -> prints "lost cpu_s wall_s size_bytes lines"
  local tool=$1 comp=$2 l=$3 out=$W/$1-$2-$3.dat
  rm -f "$out"
  load "$l"; sleep 0.3
  if [ "$tool" = tracekit ]; then
    /usr/bin/time -f '%U %S %e' -o "$W/time" "$TK" record -q -e syscalls --compression "$comp" -o "$out" --duration "${D}s" >/dev/null 2>&1
  else
    /usr/bin/time -f '%U %S %e' -o "$W/time" timeout -s INT "$D" "$TCREC" record -q -e syscalls --compression "$comp" -o "$out" >/dev/null 2>&1 || true
    echo 1 > /sys/kernel/tracing/tracing_on
  fi
  wait "${LOAD_PIDS[@]}" 2>/dev/null || true; LOAD_PIDS=()
  read -r u s e < <(tail -n 1 "$W/time")
  set -- $(stats "$out")
  printf '%s %s %s %s %s\n' "$2" "$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}')" "$e" "$(stat -c %s "$out")" "$3"
}

stream_one() { # load copies -> "lost cpu_s wall_s events"
  local l=$1
  load "$l"; sleep 0.3
  /usr/bin/time -f '%U %S %e' -o "$W/time" "$TK" stream -e syscalls --duration "${D}s" > /dev/null 2> "$W/stream.err"
  wait "${LOAD_PIDS[@]}" 2>/dev/null || true; LOAD_PIDS=()
  read -r u s e < <(tail -n 1 "$W/time")
  lost=$(sed -n 's/^tracekit: CPU[0-9]*: \([0-9]*\) events lost$/\1/p' "$W/stream.err" | awk '{s+=$1} END {print s+0}')
  events=$(sed -n 's/^tracekit: \([0-9]*\) events.*/\1/p' "$W/stream.err" | head -n 1)
  printf '%s %s %s %s\n' "$lost" "$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}')" "$e" "${events:-0}"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

if [ "$ONLY" = --stream-only ]; then
  printf '%-16s %-4s %12s %12s %10s %8s\n' tool load events lost cpu_s wall_s
  for l in 1 2; do
    : > "$W/rec"; : > "$W/tc"; : > "$W/str"
    for _ in $(seq "$RUNS"); do
      run_one tracekit none "$l" >> "$W/rec"
      run_one trace-cmd none "$l" >> "$W/tc"
      stream_one "$l" >> "$W/str"
    done
    for f in tc rec; do
      name=$([ $f = tc ] && echo "trace-cmd record" || echo "tracekit record")
      # run_one prints: lost cpu wall size lines (lines = events in the file)
      printf '%-16s %-4s %12s %12s %10s %8s\n' "$name" "${l}x" "$(cut -d' ' -f5 "$W/$f" | median)" \
        "$(cut -d' ' -f1 "$W/$f" | median)" "$(cut -d' ' -f2 "$W/$f" | median)" "$(cut -d' ' -f3 "$W/$f" | median)"
    done
    printf '%-16s %-4s %12s %12s %10s %8s\n' "tracekit stream" "${l}x" "$(cut -d' ' -f4 "$W/str" | median)" \
      "$(cut -d' ' -f1 "$W/str" | median)" "$(cut -d' ' -f2 "$W/str" | median)" "$(cut -d' ' -f3 "$W/str" | median)"
    echo "  per trial, lost (record | trace-cmd | stream): $(cut -d' ' -f1 "$W/rec" | tr '\n' ' ')| $(cut -d' ' -f1 "$W/tc" | tr '\n' ' ')| $(cut -d' ' -f1 "$W/str" | tr '\n' ' ')"
  done
  exit 0
fi

printf '%-9s %-5s %-4s %12s %10s %8s %12s %10s\n' tool comp load lost cpu_s wall_s size_B lines
for comp in ${COMPS:-none zstd}; do
  for l in 1 2; do
    for tool in trace-cmd tracekit; do
      : > "$W/res"
      for _ in $(seq "$RUNS"); do run_one "$tool" "$comp" "$l" >> "$W/res"; done
      printf '%-9s %-5s %-4s %12s %10s %8s %12s %10s\n' "$tool" "$comp" "${l}x" \
        "$(cut -d' ' -f1 "$W/res" | median)" "$(cut -d' ' -f2 "$W/res" | median)" \
        "$(cut -d' ' -f3 "$W/res" | median)" "$(cut -d' ' -f4 "$W/res" | median)" "$(cut -d' ' -f5 "$W/res" | median)"
    done
  done
done

echo
echo "stream (decode + print to /dev/null) on the same workload:"
printf '%-9s %-4s %12s %10s %8s\n' tool load lost cpu_s wall_s
for l in 1 2; do
  : > "$W/res"
  for _ in $(seq "$RUNS"); do stream_one "$l" >> "$W/res"; done
  printf '%-9s %-4s %12s %10s %8s\n' stream "${l}x" "$(cut -d' ' -f1 "$W/res" | median)" \
    "$(cut -d' ' -f2 "$W/res" | median)" "$(cut -d' ' -f3 "$W/res" | median)"
done
