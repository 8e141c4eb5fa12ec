#!/usr/bin/env bash
# tests/cli/bench.sh: `deltac bench` as a script meets it: the table, the
# JSON, the engines agreeing (float64: exactly), --save-inputs and --gradcost,
# and its usage errors; and the JIT options (--jit, --unroll, --exact-math)
# of train and emit. A smoke run: a few steps, no timing asserted.
# usage: tests/cli/bench.sh PATH/TO/deltac SOURCE_DIR [PATH/TO/xor_predict]
. "$(dirname "$0")/lib.sh"
export DELTAC_CACHE="$T/cache"

expect 0 'usage: deltac bench' "$DELTAC" bench --help
expect 0 'max \|diff\|' "$DELTAC" bench "$SRC/specs/xor.json" --steps 20 --repeat 1
out=$("$DELTAC" bench "$SRC/specs/xor.json" --steps 20 --repeat 2 --json)
for e in reference tcc-exact; do
    # float64, same canonical arithmetic: the parameters agree exactly
    if grep -Eq "\"engine\": \"$e\".*\"max_abs_diff\": 0," <<<"$out"; then ok; else bad "bench json $e: $out"; fi
done
# libtcc in fast mode: tanh from compiler/fastmath.h (float64: ~3e-16 relative),
# so after 20 steps the parameters agree to far better than 1e-10
if grep -Eq '"engine": "tcc",.*"max_abs_diff": (0|[0-9.]+e-(1[0-9]|[2-9][0-9])),' <<<"$out"; then ok; else
    bad "tcc (fast) differs by more than 1e-10: $out"; fi
if command -v cc >/dev/null; then
    if grep -Eq '"engine": "cc-exact".*"max_abs_diff": 0,' <<<"$out"; then ok; else bad "cc-exact differs: $out"; fi
    if grep -Eq '"engine": "cc",.*"max_abs_diff": [0-9.e-]+,' <<<"$out"; then ok; else bad "cc missing: $out"; fi
    # the second run loads the objects from the cache
    expect 0 '"cache_hit": true' "$DELTAC" bench "$SRC/specs/xor.json" --steps 5 --repeat 1 --json --engines cc
fi
for f in '"ns_per_step_min": [0-9]' '"ns_per_step_median": [0-9]' '"compile_ms": [0-9]' '"n_params": 17'; do
    if grep -Eq "$f" <<<"$out"; then ok; else bad "bench json lacks /$f/"; fi
done
if python3 -c 'import json,sys; json.loads(sys.stdin.read())' <<<"$out" 2>/dev/null; then ok
elif ! command -v python3 >/dev/null; then ok; else bad "bench --json is not JSON: $out"; fi

# --save-inputs: what the peers in bench/ read
expect 0 '' "$DELTAC" bench "$SRC/specs/iris.json" --engines tcc --steps 10 --repeat 1 --save-inputs "$T/in"
for f in X.npy Y.npy W1.npy b1.npy W2.npy b2.npy ref/W1.npy ref/b2.npy meta.json; do
    if [ -s "$T/in/$f" ]; then ok; else bad "--save-inputs did not write $f"; fi
done
if grep -q '"sizes": \[4, 16, 3\]' "$T/in/meta.json"; then ok; else bad "meta.json: $(cat "$T/in/meta.json")"; fi

# random data when the spec has none
spec nodata '{"name": "nd", "input": 3, "layers": [{"units": 5, "activation": "tanh"},
  {"units": 2, "activation": "identity"}], "loss": "mse", "dtype": "float64"}'
expect 0 'of random data' "$DELTAC" bench "$T/nodata.json" --engines reference,tcc --steps 10 --repeat 1 --batch 4

expect 0 'finite-difference gradient' "$DELTAC" bench "$SRC/specs/xor.json" --gradcost --engines tcc
expect 0 '"fd_over_forward": [0-9]' "$DELTAC" bench "$SRC/specs/xor.json" --gradcost --engines tcc --json

# the JIT options of train: every --unroll form trains to the same losses
# (float64: the same digits), --jit cc with and without --exact-math
# the epoch number and loss of every epoch line (not the time)
losses() { grep '^epoch' | awk '{print $2, $4}'; }
ref=$("$DELTAC" train "$SRC/specs/xor.json" --engine reference --epochs 30 --no-progress | losses)
for u in full blocked kernels loops auto; do
    got=$("$DELTAC" train "$SRC/specs/xor.json" --unroll $u --epochs 30 --no-progress | losses)
    if [ -n "$got" ] && [ "$got" = "$ref" ]; then ok; else bad "--unroll $u: $got"; fi
done
if command -v cc >/dev/null; then
    got=$("$DELTAC" train "$SRC/specs/xor.json" --jit cc --exact-math --epochs 30 --no-progress | losses)
    if [ -n "$got" ] && [ "$got" = "$ref" ]; then ok; else bad "--jit cc --exact-math: $got"; fi
    expect 0 'jit: cc (compiled|loaded)' "$DELTAC" train "$SRC/specs/iris.json" --jit cc --epochs 2 --no-progress
fi
# no C compiler: a message, and libtcc instead
expect 0 "no C compiler '/nonexistent/cc' found; using libtcc" env CC=/nonexistent/cc "$DELTAC" train "$SRC/specs/xor.json" --jit cc --epochs 2 --no-progress
expect 2 "--unroll: expected auto, full, blocked, kernels or loops, got 'some'" "$DELTAC" train "$SRC/specs/xor.json" --unroll some
expect 2 "--jit: expected tcc or cc, got 'gcc'" "$DELTAC" train "$SRC/specs/xor.json" --jit gcc
expect 1 'only for the libtcc JIT' "$DELTAC" emit "$SRC/specs/xor.json" --unroll kernels
expect 0 'strategy: loops for cc' "$DELTAC" emit "$SRC/specs/xor.json" --unroll loops

# usage errors: exit 2
expect 2 "--engines: expected a comma-separated list" "$DELTAC" bench "$SRC/specs/xor.json" --engines gpu
expect 2 "named twice" "$DELTAC" bench "$SRC/specs/xor.json" --engines tcc,tcc
expect 2 '--steps: expected an integer' "$DELTAC" bench "$SRC/specs/xor.json" --steps x
expect 2 'usage: deltac bench' "$DELTAC" bench
expect 1 'larger than the 4 rows' "$DELTAC" bench "$SRC/specs/xor.json" --batch 5 --engines reference

finish bench
