#!/usr/bin/env bash
# bench/run.sh [--quick]: deltac against FANN and PyTorch on the workloads of
# bench/README.md, written to bench/RESULTS.md, bench/results.svg,
# bench/gradcost.svg and the raw records bench/results.jsonl.
#
#   --quick     a smoke run of about a minute (few steps and repeats)
#
# Environment: DELTAC=path (a deltac binary to use instead of building one in
# build-bench/), BENCH_OUT=folder (where to write instead of bench/),
# BENCH_ONLY=W1,W3 (run only those workloads; C is the compile times),
# BENCH_ENGINES=LIST (deltac's engines, default reference,tcc-exact,tcc,cc-exact,cc), BENCH_TREE=1 (build deltac from
# the work tree instead of the last commit), BENCH_CC_CACHE=folder (a cache
# for the cc engines kept across runs; default a fresh one per run).
#
# Builds deltac in build-bench/ (-O2, no tests) and bench/fann_bench; a
# missing peer (libfann-dev, python3-torch) is reported and skipped, never
# fatal. `bash bench/setup.sh` installs the peers.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
QUICK=0
case "${1:-}" in
  --quick) QUICK=1 ;;
  "") ;;
  *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
esac
OUT=${BENCH_OUT:-$ROOT/bench}
ONLY=${BENCH_ONLY:-W1,W2,W3,W4,C}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
START=$(date +%s)
log() { printf '[bench %4ds] %s\n' "$(( $(date +%s) - START ))" "$*" >&2; }

# ---- deltac: built from the last commit (a snapshot in build-bench/src), so
# that the results belong to a commit and not to whatever is being edited;
# BENCH_TREE=1 builds the work tree as it is instead.
DELTAC_REV=""
if [ -n "${DELTAC:-}" ]; then
  log "deltac: $DELTAC (from DELTAC)"
else
  SRC=$ROOT
  mkdir -p build-bench
  # the last commit that changed anything outside bench/
  if [ "${BENCH_TREE:-0}" != 1 ] &&
     DELTAC_REV=$(git log -1 --format=%h -- . ':(exclude)bench' 2>/dev/null) && [ -n "$DELTAC_REV" ]; then
    if [ "$(cat build-bench/src/.rev 2>/dev/null)" != "$DELTAC_REV" ]; then
      rm -rf build-bench/src build-bench/obj && mkdir -p build-bench/src &&
        git archive "$DELTAC_REV" | tar -x -C build-bench/src && echo "$DELTAC_REV" > build-bench/src/.rev
    fi
    SRC=$ROOT/build-bench/src
  else
    DELTAC_REV="work tree"
  fi
  log "building deltac ($DELTAC_REV) in build-bench/obj (RelWithDebInfo: -O2 -g)"
  if ! { cmake -S "$SRC" -B build-bench/obj -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDELTAC_TESTS=OFF &&
         cmake --build build-bench/obj -j2 --target deltac-cli; } > build-bench/build.log 2>&1; then
    tail -n 20 build-bench/build.log >&2
    log "FAILED to build deltac (the log: build-bench/build.log)"
    exit 1
  fi
  DELTAC=$ROOT/build-bench/obj/deltac
fi
if ! "$DELTAC" bench --help >/dev/null 2>&1; then
  log "this deltac has no 'bench' command: nothing to compare against"
  exit 1
fi

# ---- peers
HAVE_FANN=0
if [ -f /usr/include/floatfann.h ] && [ -f /usr/include/cjson/cJSON.h ]; then
  mkdir -p build-bench
  if cc -O2 -std=c99 -Wall -Wextra -o build-bench/fann_bench bench/fann_bench.c \
       -lfloatfann -lcjson -lm; then
    HAVE_FANN=1
  else
    log "FANN peer: fann_bench did not build, skipped"
  fi
else
  log "FANN peer skipped: no /usr/include/floatfann.h (apt-get install libfann-dev libcjson-dev, or bash bench/setup.sh)"
fi
HAVE_TORCH=0
if "$PY" -c 'import torch, numpy' 2>/dev/null; then
  HAVE_TORCH=1
  case "$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null)" in
    *openblas*) ;;
    *) log "note: PyTorch's libblas.so.3 is not OpenBLAS: its matrix products are slow (bash bench/setup.sh installs libopenblas0-pthread)" ;;
  esac
else
  log "PyTorch peer skipped: '$PY -c \"import torch, numpy\"' fails (apt-get install python3-torch, or bash bench/setup.sh)"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/deltac-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# a fresh cache for the cc engines, so that their compile times are real
# (BENCH_CC_CACHE=folder keeps one across runs: compile_ms is then a load);
# --quick keeps one in build-bench/cc-cache, a smoke run needs no compile times
if [ $QUICK = 1 ]; then
  export DELTAC_CACHE=${BENCH_CC_CACHE:-$ROOT/build-bench/cc-cache}
else
  export DELTAC_CACHE=${BENCH_CC_CACHE:-$TMP/cc-cache}
fi
mkdir -p -m 700 "$DELTAC_CACHE"
RES=$TMP/results.jsonl
"$PY" bench/report.py machine > "$RES"

# run_cmd SOURCE WORKLOAD NET SPEC COMMAND...: runs COMMAND, appends its JSON
# output as one record (or, when it fails, a record with the error's last lines)
run_cmd() {
  local src=$1 w=$2 net=$3 spec=$4 rc
  shift 4
  "$@" > "$TMP/out.json" 2> "$TMP/err.txt"
  rc=$?
  if [ $rc = 0 ] && [ -s "$TMP/out.json" ]; then
    "$PY" bench/report.py wrap "source=$src" "workload=$w" "net=$net" "spec=$spec" \
      "batch=${CUR_BATCH:-null}" \
      < "$TMP/out.json" >> "$RES"
  else
    { echo "exit status $rc:"; tail -n 3 "$TMP/err.txt"; } |
      "$PY" bench/report.py wrap "source=$src" "workload=$w" "net=$net" "spec=$spec" \
      "batch=${CUR_BATCH:-null}" >> "$RES"
    log "  $src FAILED (exit $rc): $(tail -n 2 "$TMP/err.txt" | tr '\n' ' ')"
    return 1
  fi
}
want() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }

# run_workload W SPEC STEPS BATCH SAMPLES REPEAT REPEAT_TORCH ENGINES
run_workload() {
  local w=$1 spec=$2 steps=$3 batch=$4 samples=$5 rep=$6 rept=$7 engines=$8
  local name net dir
  name=$(basename "$spec" .json)
  net=$(echo "$name" | sed -e 's/^w[0-9]_//' -e 's/_b[0-9]*$//' -e 's/_/-/g')
  dir=$TMP/$name
  CUR_BATCH=$batch
  log "$w $net: deltac bench ($engines), $steps steps of batch $batch, $rep repeats"
  if ! run_cmd deltac "$w" "$net" "$spec" timeout 1200 "$DELTAC" bench "$spec" --json \
         --steps "$steps" --batch "$batch" --samples "$samples" --repeat "$rep" \
         --engines "$engines" --save-inputs "$dir"; then
    # without the saved inputs there is nothing for the peers to run
    [ -f "$dir/meta.json" ] || return 0
  fi
  if [ $HAVE_FANN = 1 ]; then
    log "  FANN"
    run_cmd fann "$w" "$net" "$spec" timeout 1200 build-bench/fann_bench "$dir" "$rep"
  fi
  if [ $HAVE_TORCH = 1 ]; then
    log "  PyTorch, 1 and 2 threads"
    run_cmd torch "$w" "$net" "$spec" timeout 1200 "$PY" bench/torch_bench.py "$dir" 1,2 "$rept"
  fi
  rm -rf "$dir"
}

# The workloads: W SPEC STEPS BATCH SAMPLES REPEAT REPEAT_TORCH ENGINES.
# Steps are what the slowest peer takes in a few seconds (PyTorch: ~0.2-1 ms
# per small step; deltac's tcc code: ~1-2 ms per sample on 784-128-10); the
# fast engines get more repeats instead. BENCH_ENGINES=tcc,reference (say)
# limits deltac's engines.
ALL=${BENCH_ENGINES:-reference,tcc-exact,tcc,cc-exact,cc}
if [ $QUICK = 1 ]; then
  GRADCOST_RUNS=1
  W4_SPECS="bench/specs/w4_4_4_1.json bench/specs/w4_32_64_8.json bench/specs/w4_128_128_16.json"
  WORK=(
    "W1 w1_2_8_1             200   1     1000  10 2 $ALL"
    "W1 w1_4_16_16_1         200   1     1000  10 2 $ALL"
    "W1 w1_16_32_32_4        200   1     1000   5 2 $ALL"
    "W1 w1_64_64_64_10       100   1     1000   3 2 $ALL"
    "W1 w1_784_128_10         10   1     1000   1 1 $ALL"
    "W2 w2_4_32_16_4           2   10000 10000  1 1 $ALL"
    "W3 w3_784_128_10_b32      2   32    1000   1 1 $ALL"
    "W3 w3_784_128_10_b128     1   128   1000   1 1 $ALL"
    "W3 w3_784_256_128_10_b64  1   64    1000   1 1 $ALL"
  )
else
  GRADCOST_RUNS=3
  W4_SPECS=$(ls bench/specs/w4_*.json)
  WORK=(
    "W1 w1_2_8_1             2000  1     1000  30 5 $ALL"
    "W1 w1_4_16_16_1         2000  1     1000  20 5 $ALL"
    "W1 w1_16_32_32_4        2000  1     1000  15 5 $ALL"
    "W1 w1_64_64_64_10       1000  1     1000  10 5 $ALL"
    "W1 w1_784_128_10         300  1     1000   7 5 $ALL"
    "W2 w2_4_32_16_4           20  10000 10000  5 5 $ALL"
    "W3 w3_784_128_10_b32      60  32    1000   7 5 $ALL"
    "W3 w3_784_128_10_b128     20  128   1000   5 5 $ALL"
    "W3 w3_784_256_128_10_b64  20  64    1000   5 5 $ALL"
  )
fi
for line in "${WORK[@]}"; do
  set -- $line
  want "$1" || continue
  run_workload "$1" "bench/specs/$2.json" "$3" "$4" "$5" "$6" "$7" "$8"
done
if want W4; then
  # each net GRADCOST_RUNS times, the runs of all nets interleaved; the report
  # takes the minimum of each time
  for run in $(seq 1 "$GRADCOST_RUNS"); do
    for spec in $W4_SPECS; do
      name=$(basename "$spec" .json)
      net=$(echo "$name" | sed -e 's/^w4_//' -e 's/_/-/g')
      log "W4 $net: deltac bench --gradcost (run $run of $GRADCOST_RUNS)"
      CUR_BATCH=null
      run_cmd gradcost W4 "$net" "$spec" timeout 600 "$DELTAC" bench "$spec" --gradcost --json \
        --engines tcc
    done
  done
fi

if want C; then
  # compile times (issue 7's targets): libtcc on the fully unrolled
  # 784-128-10, three times (the report takes the fastest); cc --unroll auto
  # on every shipped spec, from an empty cache and then from the cache
  CUR_BATCH=null
  for run in 1 2 3; do
    log "C: libtcc compiles 784-128-10 fully unrolled (run $run of 3)"
    run_cmd compile C "784-128-10 tcc full" bench/specs/w1_784_128_10.json timeout 600 \
      "$DELTAC" bench bench/specs/w1_784_128_10.json --engines tcc --unroll full --steps 1 --repeat 1 \
      --samples 10 --json
  done
  for spec in specs/*.json; do
    name=$(basename "$spec" .json)
    rm -rf "$TMP/c-cache" && mkdir -m 700 "$TMP/c-cache"
    for pass in empty cached; do
      log "C: cc --unroll auto compiles $name (cache: $pass)"
      DELTAC_CACHE=$TMP/c-cache run_cmd compile C "$name cc $pass" "$spec" timeout 600 \
        "$DELTAC" bench "$spec" --engines cc --steps 1 --repeat 1 --json
    done
  done
fi

SECS=$(( $(date +%s) - START ))
printf '{"run": {"quick": %s, "seconds": %d, "only": "%s", "deltac_rev": "%s", "load_after": %s}}\n' \
  "$([ $QUICK = 1 ] && echo true || echo false)" "$SECS" "$ONLY" "$DELTAC_REV" \
  "$(cut -d' ' -f1 /proc/loadavg)" >> "$RES"
mkdir -p "$OUT"
cp "$RES" "$OUT/results.jsonl"
"$PY" bench/report.py report "$OUT/results.jsonl" "$OUT"
log "done in ${SECS}s: $OUT/RESULTS.md, $OUT/results.svg, $OUT/gradcost.svg, $OUT/results.jsonl"
