#!/usr/bin/env bash
# tests/cli/badinput.sh: the bad input of GUIDE section 6 not covered by the other scripts, through
# the command line: each case exits with its status, names FILE:LINE:COL (and the JSON path for
# specs) or the file and offset, and leaves an existing output file (emit -o, train --save,
# predict -o) exactly as it was, with no temporary file left beside it. Then faults: kill -9 while a
# checkpoint is being written, and Ctrl-C (SIGINT) during deltac train and a standalone trainer.
# usage: tests/cli/badinput.sh PATH/TO/deltac SOURCE_DIR [PATH/TO/xor_predict]
. "$(dirname "$0")/lib.sh"

cp -r "$SRC/specs/data" "$T/data"
cp "$SRC/specs/iris.json" "$T/iris.json"
IRIS=$T/iris.json
printf 'do not touch\n' >"$T/keep.txt"

# untouched FILE...: each FILE still holds keep.txt's bytes, and no *.tmp* file is left in $T
untouched() {
    local f
    for f in "$@"; do
        if ! cmp -s "$f" "$T/keep.txt"; then bad "$f was changed"; return; fi
    done
    if [ -n "$(find "$T" -name '*.tmp*' -print -quit)" ]; then bad "temporary files left: $(find "$T" -name '*.tmp*')"; return; fi
    ok
}
# fresh: output files that exist before each case
fresh() { cp "$T/keep.txt" "$T/out.c"; cp "$T/keep.txt" "$T/out.ckpt"; cp "$T/keep.txt" "$T/out.csv"; }

# ---- specs: FILE:LINE:COL: path: message, exit 1; emit -o leaves the old file -------------------
# bad_spec NAME PATTERN JSON
bad_spec() {
    spec "$1" "$3"
    fresh
    expect 1 "$1\\.json:[0-9]+:[0-9]+: $2" "$DELTAC" emit "$T/$1.json" -o "$T/out.c"
    expect 1 "$1\\.json:[0-9]+:[0-9]+: $2" "$DELTAC" train "$T/$1.json" --save "$T/out.ckpt"
    untouched "$T/out.c" "$T/out.ckpt"
}
L='"layers": [{"units": 3, "activation": "softmax"}]'
bad_spec deep '\$: nested deeper than 64 levels' \
    "{\"name\": \"n\", \"input\": 4, \"x\": $(printf '%.0s[' {1..200})$(printf '%.0s]' {1..200})}"
bad_spec wtype 'input: expected an integer .*got a string' "{\"name\": \"n\", \"input\": \"4\", $L, \"loss\": \"cross_entropy\"}"
bad_spec wtype2 'layers: expected an array.*got an object' '{"name": "n", "input": 4, "layers": {"units": 3}, "loss": "cross_entropy"}'
bad_spec wtype3 'layers\[0\]\.activation: .*got a number' '{"name": "n", "input": 4, "layers": [{"units": 3, "activation": 1}], "loss": "mse"}'
bad_spec dup 'input: duplicate key "input" \(first given at 1:15\)' "{\"name\": \"n\", \"input\": 4, \"input\": 5, $L, \"loss\": \"cross_entropy\"}"
bad_spec casekey 'Input: unknown key "Input" \(keys are case-sensitive: did you mean "input"\?\)' \
    "{\"name\": \"n\", \"Input\": 4, $L, \"loss\": \"cross_entropy\"}"
bad_spec huge 'layers: the network has 3600240003 parameters, more than the limit DC_MAX_PARAMS = 2000000' \
    '{"name": "n", "input": 60000, "layers": [{"units": 60000, "activation": "tanh"}, {"units": 3, "activation": "softmax"}], "loss": "cross_entropy"}'
bad_spec bigint 'input: .*out of range' "{\"name\": \"n\", \"input\": 1e300, $L, \"loss\": \"cross_entropy\"}"
bad_spec loss 'loss: unknown loss "hinge" \(expected one of: mse, cross_entropy, binary_cross_entropy\)' \
    "{\"name\": \"n\", \"input\": 4, $L, \"loss\": \"hinge\"}"
bad_spec opt 'train\.optimizer\.type: unknown optimizer "rmsprop"' \
    "{\"name\": \"n\", \"input\": 4, $L, \"loss\": \"cross_entropy\", \"train\": {\"optimizer\": {\"type\": \"rmsprop\"}}}"
bad_spec mismatch 'loss: cross_entropy needs a softmax output layer, but layers\[0\]\.activation is tanh' \
    '{"name": "n", "input": 4, "layers": [{"units": 3, "activation": "tanh"}], "loss": "cross_entropy"}'
bad_spec name1 'name: "my net" is not a valid name' "{\"name\": \"my net\", \"input\": 4, $L, \"loss\": \"cross_entropy\"}"
bad_spec name2 'name: "a\*/b" is not a valid name' "{\"name\": \"a*/b\", \"input\": 4, $L, \"loss\": \"cross_entropy\"}"
bad_spec name3 'name: .* is not a valid name' "{\"name\": \"Net\", \"input\": 4, $L, \"loss\": \"cross_entropy\"}"
bad_spec name4 'name: .* is not a valid name' "{\"name\": \"n\\u002a\\u002f\", \"input\": 4, $L, \"loss\": \"cross_entropy\"}"
# \u0000 would end the C string early: "x\u0000y" must not be read as "x"
bad_spec nul '\$: \\u0000 \(a NUL character\) in a string is not allowed' "{\"name\": \"x\\u0000y\", \"input\": 4, $L, \"loss\": \"cross_entropy\"}"
bad_spec nulpath '\$: \\u0000' "{\"name\": \"n\", \"input\": 4, $L, \"loss\": \"cross_entropy\", \"data\": {\"train\": \"data/iris.csv\\u0000.gz\"}}"

# ---- CSV: FILE:LINE:COL, exit 1, train --save and predict -o untouched -----------------------------
train_ckpt=$T/iris.ckpt
"$DELTAC" train "$IRIS" -q --epochs 2 --save "$train_ckpt" >/dev/null
# bad_csv NAME PATTERN CONTENT (printf format)
bad_csv() {
    printf "$3" >"$T/$1.csv"
    fresh
    expect 1 "$1\\.csv:$2" "$DELTAC" train "$IRIS" --train "$T/$1.csv" --save "$T/out.ckpt"
    untouched "$T/out.ckpt"
}
H='a,b,c,d,y\n'
bad_csv ragged '3:[0-9]+: expected 5 fields, got 4' "${H}1,2,3,4,0\n1,2,3,0\n"
bad_csv emptyfield '2:5: empty field' "${H}1,2,,4,0\n"
bad_csv nonnumber '2:5: .*x' "${H}1,2,x,4,0\n"
bad_csv nan "2:5: 'nan' is not a finite number" "${H}1,2,nan,4,0\n"
bad_csv inf "2:5: '-inf' is not a finite number" "${H}1,2,-inf,4,0\n"
bad_csv overflow "2:5: .*1e999" "${H}1,2,1e999,4,0\n"
bad_csv zerorows ' no data rows after the header line' "$H"
bad_csv label '2:9: .*out of range' "${H}1,2,3,4,3\n"
bad_csv neglabel '2:9: ' "${H}1,2,3,4,-1\n"
bad_csv narrow '2:1: row has 4 fields; the network needs 4 inputs \+ 1 target field' 'a,b,c,y\n1,2,3,0\n'
bad_csv wide '2:1: row has 6 fields' 'a,b,c,d,e,y\n1,2,3,4,5,0\n'
# predict: the data has no target column; a bad row leaves -o alone
printf 'a,b,c,d\n5.1,3.5,1.4,0.2\n6.7,3.0,,2.3\n' >"$T/pred_bad.csv"
fresh
expect 1 'pred_bad\.csv:3:9: empty field' "$DELTAC" predict "$IRIS" --init "$train_ckpt" --data "$T/pred_bad.csv" -o "$T/out.csv"
untouched "$T/out.csv"
# accepted: a UTF-8 BOM, CRLF line ends, no final newline; each reads as the plain file
"$DELTAC" train "$IRIS" -q --epochs 3 | grep accuracy >"$T/plain.txt"
printf '\357\273\277' >"$T/bom.csv"; cat "$T/data/iris.csv" >>"$T/bom.csv"
sed 's/$/\r/' "$T/data/iris.csv" >"$T/crlf.csv"
head -c -1 "$T/data/iris.csv" >"$T/nonl.csv"
for f in bom crlf nonl; do
    "$DELTAC" train "$IRIS" -q --epochs 3 --train "$T/$f.csv" 2>&1 | grep -v '^trained' >"$T/$f.txt"
    if [ -s "$T/plain.txt" ] && cmp -s "$T/plain.txt" "$T/$f.txt"; then ok; else
        bad "$f.csv does not train like the plain file: $(cat "$T/$f.txt")"; fi
done

# ---- IDX: the file and the offset or count, exit 1 -----------------------------------------------
cat >"$T/idx.json" <<'EOF'
{"name": "im", "input": 4, "layers": [{"units": 2, "activation": "softmax"}], "loss": "cross_entropy",
 "train": {"batch_size": 1, "epochs": 1},
 "data": {"format": "idx", "train": "img.idx", "train_labels": "lab.idx", "test_fraction": 0}}
EOF
IMG='\0\0\10\3\0\0\0\2\0\0\0\2\0\0\0\2'  # 2 images of 2 x 2
printf "$IMG"'\0\20\40\60\100\120\140\160' >"$T/img.idx"
printf '\0\0\10\1\0\0\0\2\0\1' >"$T/lab.idx"
expect 0 'trained 1 epochs' "$DELTAC" train "$T/idx.json" -q
# bad_idx NAME PATTERN CONTENT [images|labels]
bad_idx() {
    printf "$3" >"$T/$1.idx"
    fresh
    local opt=--train
    [ "${4:-images}" = labels ] && opt=--train-labels
    expect 1 "$2" "$DELTAC" train "$T/idx.json" $opt "$T/$1.idx" --save "$T/out.ckpt"
    untouched "$T/out.ckpt"
}
bad_idx magic 'magic\.idx: not an IDX file: magic starts 0x03 0x08 at offset 0' '\3\10\0\0\2\0\0\0\2\0\0\0\2\0\0\0\0\20\40\60\100\120\140\160'
bad_idx rank 'rank\.idx: offset 3: rank 4, expected 3' '\0\0\10\4\0\0\0\2\0\0\0\2\0\0\0\2\0\20\40\60\100\120\140\160'
bad_idx trunc 'trunc\.idx: truncated: 4 bytes of pixels, expected 8' "$IMG"'\0\20\40\60'
bad_idx count 'img\.idx has 2 images but .*count\.idx has 3 labels' '\0\0\10\1\0\0\0\3\0\1\1' labels
bad_idx zero 'zero\.idx: offset 4: the number of images is zero' '\0\0\10\3\0\0\0\0\0\0\0\2\0\0\0\2'
bad_idx overflow 'overflow\.idx: .*overflows' '\0\0\10\3\377\377\377\377\377\377\377\377\377\377\377\377'
bad_idx trail 'trail\.idx: .*trailing' "$IMG"'\0\20\40\60\100\120\140\160\1'

# ---- checkpoints: each defect its own message, exit 1, --save untouched -------------------------------
# at byte OFFSET of FILE, write the printf string S
patch() { printf "$3" | dd of="$2" bs=1 seek="$1" conv=notrunc status=none; }
bad_ckpt() { # NAME PATTERN [SPEC]
    fresh
    expect 1 "$1\\.ckpt.*$2" "$DELTAC" eval "${3:-$IRIS}" --init "$T/$1.ckpt"
    expect 1 "$1\\.ckpt.*$2" "$DELTAC" train "${3:-$IRIS}" --init "$T/$1.ckpt" --save "$T/out.ckpt"
    untouched "$T/out.ckpt"
}
cp "$train_ckpt" "$T/magic.ckpt"; patch 0 "$T/magic.ckpt" 'X'
bad_ckpt magic 'not a deltac checkpoint \(bad magic\)'
cp "$train_ckpt" "$T/newer.ckpt"; patch 8 "$T/newer.ckpt" '\7'
bad_ckpt newer 'format version 7 is newer than this deltac reads \(1\)'
cp "$train_ckpt" "$T/dims.ckpt"
sed 's/"units": 16/"units": 17/' "$IRIS" >"$T/iris17.json"
bad_ckpt dims 'layer 1|units|17' "$T/iris17.json"
sed 's/"epochs": 100/"epochs": 101/' "$IRIS" >"$T/iris_other.json"
cp "$train_ckpt" "$T/other.ckpt"
bad_ckpt other 'another spec' "$T/iris_other.json"
head -c $(( $(stat -c %s "$train_ckpt") - 1 )) "$train_ckpt" >"$T/short.ckpt"
bad_ckpt short 'truncated'
cp "$train_ckpt" "$T/crc.ckpt"; patch $(( $(stat -c %s "$train_ckpt") - 1 )) "$T/crc.ckpt" '\377'
cmp -s "$train_ckpt" "$T/crc.ckpt" && patch $(( $(stat -c %s "$train_ckpt") - 1 )) "$T/crc.ckpt" '\0'
bad_ckpt crc 'damaged|CRC|checksum'

# ---- training settings ---------------------------------------------------------------------------------
fresh
expect 2 '--lr: expected a positive number' "$DELTAC" train "$IRIS" --lr 0 --save "$T/out.ckpt"
expect 2 '--batch-size: expected an integer from 1' "$DELTAC" train "$IRIS" --batch-size 0 --save "$T/out.ckpt"
sed 's/"learning_rate": 0.05/"learning_rate": 0/' "$IRIS" >"$T/lr0.json"
expect 1 'lr0\.json:[0-9]+:[0-9]+: train\.optimizer\.learning_rate: ' "$DELTAC" train "$T/lr0.json" --save "$T/out.ckpt"
sed 's/"learning_rate": 0.05/"learning_rate": -0.1/' "$IRIS" >"$T/lrneg.json"
expect 1 'lrneg\.json:[0-9]+:[0-9]+: train\.optimizer\.learning_rate: ' "$DELTAC" train "$T/lrneg.json" --save "$T/out.ckpt"
sed 's/"batch_size": 8/"batch_size": 0/' "$IRIS" >"$T/b0.json"
expect 1 'b0\.json:[0-9]+:[0-9]+: train\.batch_size: ' "$DELTAC" train "$T/b0.json" --save "$T/out.ckpt"
expect 1 'batch size 121 is larger than the 120 training rows' "$DELTAC" train "$IRIS" --batch-size 121 --save "$T/out.ckpt"
# a diverging run names the epoch, the batch and a layer; --save is not written
expect 1 'epoch 1, batch [0-9]+: loss is nan .*\(the (gradient|parameters) of layer [0-9]+ \((W|b)[0-9]+\) (is|are) (NaN|infinite)\)' \
    "$DELTAC" train "$IRIS" --lr 1e38 --save "$T/out.ckpt"
untouched "$T/out.ckpt"

# ---- kill -9 while saving: the checkpoint is the old or the new one, never a part ----------------------
# a 784-128-10 network in float64 (about 800 kB a checkpoint) saving after every epoch of 16 rows
awk 'BEGIN { srand(3); for (i = 0; i < 784; i++) printf "p%d,", i; print "y";
    for (r = 0; r < 16; r++) { for (i = 0; i < 784; i++) printf "%.3f,", rand(); print r % 10 } }' >"$T/big.csv"
spec big '{"name": "big", "dtype": "float64", "input": 784, "layers": [{"units": 128, "activation": "relu"},
  {"units": 10, "activation": "softmax"}], "loss": "cross_entropy",
  "train": {"batch_size": 16, "epochs": 1000000, "optimizer": {"type": "adam", "learning_rate": 0.001}},
  "data": {"train": "big.csv", "test_fraction": 0}}'
"$DELTAC" train "$T/big.json" -q --epochs 1 --save "$T/big.ckpt" >/dev/null
last=0
for i in 1 2 3 4 5 6; do
    # the reference engine: no JIT to wait for, so the time goes into saving
    before=$(stat -c %i.%y "$T/big.ckpt")
    "$DELTAC" train "$T/big.json" -q --engine reference --init "$T/big.ckpt" --save "$T/big.ckpt" --save-every 1 >/dev/null 2>&1 &
    pid=$!
    n=0
    while [ "$(stat -c %i.%y "$T/big.ckpt")" = "$before" ] && [ $n -lt 400 ]; do sleep 0.05; n=$((n + 1)); done
    sleep "$(awk -v s="$i" 'BEGIN { srand(s); printf "%.3f", rand() / 2 }')"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    ep=$("$DELTAC" train "$T/big.json" --engine reference --init "$T/big.ckpt" --epochs 1 2>&1 | sed -n 's/^resuming from .* after epoch \([0-9]*\)$/\1/p')
    if [ -n "$ep" ] && [ "$ep" -gt "$last" ] && "$DELTAC" eval "$T/big.json" --init "$T/big.ckpt" --data "$T/big.csv" >/dev/null 2>&1; then
        ok; last=$ep
    else
        bad "after kill -9 number $i the checkpoint does not load (epoch '$ep', before $last)"
    fi
done
[ "$last" -gt 1 ] && ok || bad "kill -9: the runs saved no checkpoint ($last epochs)"
# what a killed writer leaves is its temporary file beside the checkpoint, never the checkpoint itself
echo "kill -9: $(find "$T" -name 'big.ckpt.tmp*' | wc -l) of 6 kills landed while a checkpoint was being written"
rm -f "$T"/big.ckpt.tmp*

# ---- Ctrl-C: stop after the batch, say where, save, exit 130 -------------------------------------------
# interrupt CKPT command...: runs the command in the background, waits for its first checkpoint
# (--save-every 1: by then its handler is installed), sends SIGINT; sets $rc and $out
interrupt() {
    local ck=$1 pid n=0
    shift
    rm -f "$ck"
    "$@" >"$T/int.out" 2>&1 &
    pid=$!
    while [ ! -e "$ck" ] && [ $n -lt 600 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.05; n=$((n + 1)); done
    sleep 0.2
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    out=$(cat "$T/int.out")
}
cp "$SRC/specs/digits.json" "$T/digits.json"
interrupt "$T/int.ckpt" "$DELTAC" train "$T/digits.json" --epochs 1000000 --save "$T/int.ckpt" --save-every 1
done_=$(sed -n 's/.*interrupted after epoch [0-9]*, batch [0-9]*.*; saved .*int\.ckpt (\([0-9]*\) epochs done)$/\1/p' <<<"$out")
if [ "$rc" = 130 ] && [ -n "$done_" ]; then ok; else bad "Ctrl-C during deltac train: exit $rc: $(tail -3 <<<"$out")"; fi
expect 0 'accuracy' "$DELTAC" eval "$T/digits.json" --init "$T/int.ckpt"
expect 0 "resuming from .*int\\.ckpt after epoch ${done_:-X}\$" "$DELTAC" train "$T/digits.json" --init "$T/int.ckpt" --epochs 1
# the standalone trainer shares runtime/job.c
if "$DELTAC" emit "$T/iris.json" --standalone -o "$T/iris_trainer.c" &&
    cc -O1 -std=c99 "$T/iris_trainer.c" -o "$T/iris_trainer" -lm 2>"$T/cc.log"; then
    interrupt "$T/aot.ckpt" "$T/iris_trainer" --train "$T/data/iris.csv" --epochs 1000000 -q --save "$T/aot.ckpt" --save-every 1
    if [ "$rc" = 130 ] && grep -Eq 'interrupted after epoch [0-9]+, batch [0-9]+.*; saved .*aot\.ckpt' <<<"$out"; then ok; else
        bad "Ctrl-C in a standalone trainer: exit $rc: $(tail -3 <<<"$out")"; fi
    expect 0 'accuracy' "$DELTAC" eval "$T/iris.json" --init "$T/aot.ckpt"
else
    bad "the standalone trainer does not build: $(head -5 "$T/cc.log")"
fi

finish cli_badinput
