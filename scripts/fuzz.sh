#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [TARGET...]: builds the libFuzzer targets with
# clang (in build-fuzz/, or $DELTAC_FUZZ_BUILD) and runs each for SECONDS
# (default 600), one after the other, starting from fuzz/corpus/TARGET.
# New corpus entries go to fuzz/findings/corpus/TARGET, crashes, leaks and
# timeouts to fuzz/findings/TARGET/ (both gitignored). Prints the
# executions and findings of each target. Targets: spec csv idx checkpoint
# npy compile (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-600}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(spec csv idx checkpoint npy compile)
build=${DELTAC_FUZZ_BUILD:-$root/build-fuzz}

command -v clang >/dev/null || { echo "clang not found: apt-get install clang libclang-rt-14-dev" >&2; exit 2; }
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DDELTAC_FUZZ=ON -DDELTAC_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

status=0
for t in "${targets[@]}"; do
  out=$root/fuzz/findings/$t
  work=$root/fuzz/findings/corpus/$t
  mkdir -p "$out" "$work"
  log=$out/last-run.log
  echo "== fuzz_$t: ${seconds}s"
  # libFuzzer exits non-zero on a finding; keep going with the next target
  (cd "$out" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$build/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$out/" -print_final_stats=1 \
    "$work" "$root/fuzz/corpus/$t" >"$log" 2>&1) || status=1
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  if [ -z "$execs" ]; then
    execs=$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  fi
  found=$(find "$out" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  echo "fuzz_$t: ${execs:-?} executions, $found finding(s) in fuzz/findings/$t (log: $log)"
done
exit $status
