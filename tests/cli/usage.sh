#!/usr/bin/env bash
# tests/cli/usage.sh: the command line as a user meets it: exit statuses 0/1/2, help, and spec errors that name FILE:LINE:COL and the JSON path.
# usage: tests/cli/usage.sh PATH/TO/deltac SOURCE_DIR [PATH/TO/xor_predict]
. "$(dirname "$0")/lib.sh"

# ---- usage -------------------------------------------------------------------
expect 0 '^deltac [0-9]+\.[0-9]+\.[0-9]+$' "$DELTAC" --version
expect 0 'commands:' "$DELTAC" --help
expect 2 'usage: deltac' "$DELTAC"
expect 2 "unknown command 'frobnicate'" "$DELTAC" frobnicate
for c in check emit train gradcheck; do
    expect 0 "usage: deltac $c" "$DELTAC" $c --help
done
expect 2 "unknown option '--bogus'" "$DELTAC" check --bogus "$SRC/specs/iris.json"
expect 2 'usage: deltac check' "$DELTAC" check
expect 2 '--epochs: expected an integer' "$DELTAC" train "$SRC/specs/iris.json" --epochs abc
expect 2 '--lr: expected a positive number' "$DELTAC" train "$SRC/specs/iris.json" --lr -1
expect 2 'option --test needs a value' "$DELTAC" train "$SRC/specs/iris.json" --test

# ---- spec errors: FILE:LINE:COL: path: message, exit 1 ------------------------------
spec misspelt '{"name": "n", "input": 4,
  "layers": [{"units": 3, "activation": "softmax"}],
  "los": "cross_entropy"}'
expect 1 "misspelt.json:3:3: los: unknown key \"los\" \\(did you mean \"loss\"\\?\\)" "$DELTAC" check "$T/misspelt.json"
spec zero '{"name": "n", "input": 4,
  "layers": [{"units": 0, "activation": "tanh"}], "loss": "mse"}'
expect 1 'zero.json:2:24: layers\[0\]\.units: 0 is out of range' "$DELTAC" check "$T/zero.json"
spec frac '{"name": "n", "input": 4,
  "layers": [{"units": 2.5, "activation": "tanh"}], "loss": "mse"}'
expect 1 'frac.json:2:24: layers\[0\]\.units: 2\.5 is not an integer' "$DELTAC" check "$T/frac.json"
spec act '{"name": "n", "input": 4,
  "layers": [{"units": 2, "activation": "swish"}], "loss": "mse"}'
expect 1 'act.json:2:41: layers\[0\]\.activation: unknown activation "swish"' "$DELTAC" check "$T/act.json"
printf '' >"$T/empty.json"
expect 1 'empty.json:1:1: \$: the file is empty' "$DELTAC" check "$T/empty.json"
printf '{"name": "n", "input": ' >"$T/trunc.json"
expect 1 'trunc.json:1:24: \$: unexpected end of file' "$DELTAC" check "$T/trunc.json"
expect 1 'nope.json: cannot open' "$DELTAC" check "$T/nope.json"

finish cli_usage
