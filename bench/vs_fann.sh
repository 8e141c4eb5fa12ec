#!/usr/bin/env bash
# bench/vs_fann.sh DELTAC SPEC [STEPS] [REPEAT] [ENGINES]: one per-sample
# workload (batch 1) through deltac's engines and FANN on the same data, side
# by side in one run: the quick check behind docs/codegen.md's tables.
# Prints FANN's and each engine's minimum ns per step and the ratios.
# Needs build-bench/fann_bench (bash bench/run.sh builds it; libfann-dev).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: bench/vs_fann.sh DELTAC SPEC [STEPS] [REPEAT] [ENGINES]" >&2; exit 2; }
DELTAC=$1 SPEC=$2 STEPS=${3:-2000} REPEAT=${4:-10} ENGINES=${5:-tcc,cc}
FANN=$ROOT/build-bench/fann_bench
[ -x "$FANN" ] || { echo "no $FANN: run bash bench/run.sh --quick once (it builds it)" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vs_fann.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
"$DELTAC" bench "$SPEC" --json --steps "$STEPS" --batch 1 --samples 1000 --repeat "$REPEAT" \
  --engines "$ENGINES" --save-inputs "$TMP/in" > "$TMP/deltac.json"
"$FANN" "$TMP/in" "$REPEAT" > "$TMP/fann.json"
python3 - "$TMP/deltac.json" "$TMP/fann.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f = json.loads(open(sys.argv[2]).read().splitlines()[0])
fann = f["ns_per_step_min"]
print("%-10s %12s %12s %10s" % ("engine", "ns/step min", "median", "FANN/this"))
print("%-10s %12.1f %12.1f %10s" % ("fann", fann, f["ns_per_step_median"], "1.00"))
for e in d["engines"]:
    print("%-10s %12.1f %12.1f %10.2f" % (e["engine"], e["ns_per_step_min"], e["ns_per_step_median"],
                                          fann / e["ns_per_step_min"]))
PY
