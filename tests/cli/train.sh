#!/usr/bin/env bash
# tests/cli/train.sh: train, checkpoints (save, resume, corruption), eval, predict, export/import, a program embedding the library form, data errors.
# usage: tests/cli/train.sh PATH/TO/deltac SOURCE_DIR [PATH/TO/xor_predict]
. "$(dirname "$0")/lib.sh"

# ---- the shipped specs -----------------------------------------------------------
for s in xor sine iris; do
    expect 0 "specs/$s.json: ok" "$DELTAC" check "$SRC/specs/$s.json"
    expect 0 'gradcheck passed' "$DELTAC" gradcheck "$SRC/specs/$s.json"
done
expect 0 'test accuracy: (9[3-9]|100)\.[0-9]+ %' "$DELTAC" train "$SRC/specs/iris.json"
expect 0 'epoch  100  loss' "$DELTAC" train "$SRC/specs/iris.json"
expect 0 'test accuracy: (9[3-9]|100)\.[0-9]+ %' "$DELTAC" train "$SRC/specs/iris.json" --engine reference -q
expect 0 'trained 3 epochs' "$DELTAC" train "$SRC/specs/iris.json" --epochs 3 --lr 0.1 --batch-size 4 --seed 9 -q

# ---- checkpoints: save, resume exactly, eval, predict, export/import ----------------------
expect 0 'saved .*iris.ckpt' "$DELTAC" train "$SRC/specs/iris.json" -q --save "$T/iris.ckpt"
acc=$("$DELTAC" train "$SRC/specs/iris.json" -q | grep 'test accuracy' | sed 's/ (.*//')
expect 0 "^accuracy: ${acc#test accuracy: }$" "$DELTAC" eval "$SRC/specs/iris.json" --init "$T/iris.ckpt"
"$DELTAC" train "$SRC/specs/iris.json" -q --epochs 60 | grep accuracy >"$T/straight.txt"
"$DELTAC" train "$SRC/specs/iris.json" -q --epochs 25 --save "$T/half.ckpt" >/dev/null
"$DELTAC" train "$SRC/specs/iris.json" -q --epochs 35 --init "$T/half.ckpt" | grep accuracy >"$T/resumed.txt"
if [ -s "$T/straight.txt" ] && cmp -s "$T/straight.txt" "$T/resumed.txt"; then ok; else
    bad "25 + 35 resumed epochs differ from 60: $(cat "$T/straight.txt" "$T/resumed.txt")"; fi
expect 0 'resuming from .*half.ckpt after epoch 25' "$DELTAC" train "$SRC/specs/iris.json" --epochs 1 --init "$T/half.ckpt"
expect 0 'saved' "$DELTAC" train "$SRC/specs/iris.json" -q --epochs 4 --save "$T/every.ckpt" --save-every 2
expect 2 'needs --save' "$DELTAC" train "$SRC/specs/iris.json" --save-every 2
expect 0 'wrote 2 layers' "$DELTAC" export "$T/iris.ckpt" --npy "$T/npy"
for f in W1 b1 W2 b2; do [ -f "$T/npy/$f.npy" ] && ok || bad "export wrote no $f.npy"; done
expect 0 'wrote .*back.ckpt' "$DELTAC" import "$T/npy" --spec "$SRC/specs/iris.json" -o "$T/back.ckpt"
"$DELTAC" eval "$SRC/specs/iris.json" --init "$T/iris.ckpt" >"$T/e1.txt"
"$DELTAC" eval "$SRC/specs/iris.json" --init "$T/back.ckpt" >"$T/e2.txt"
if [ -s "$T/e1.txt" ] && cmp -s "$T/e1.txt" "$T/e2.txt"; then ok; else bad "export -> import changed eval"; fi
cp "$T/npy/W1.npy" "$T/W1.keep"; cp "$T/npy/b1.npy" "$T/npy/W1.npy"
expect 1 'W1.npy: shape \(16,\), but the spec.s layer needs \(16, 4\)' "$DELTAC" import "$T/npy" --spec "$SRC/specs/iris.json" -o "$T/bad.ckpt"
[ ! -e "$T/bad.ckpt" ] && ok || bad "a failed import wrote a checkpoint"
cp "$T/W1.keep" "$T/npy/W1.npy"
# corruptions, each with its own message; the model is not used
corrupt() { # corrupt OFFSET FILE: flips the bits of one byte
    printf "$(printf '\\%03o' $(( $(od -An -tu1 -j "$1" -N1 "$2") ^ 255 )))" |
        dd of="$2" bs=1 seek="$1" conv=notrunc status=none
}
cp "$T/iris.ckpt" "$T/h.ckpt"; corrupt 40 "$T/h.ckpt"
expect 1 'h.ckpt.*header is damaged' "$DELTAC" eval "$SRC/specs/iris.json" --init "$T/h.ckpt"
cp "$T/iris.ckpt" "$T/p.ckpt"; corrupt $(( $(stat -c %s "$T/iris.ckpt") - 100 )) "$T/p.ckpt"
expect 1 'p.ckpt.*payload is damaged' "$DELTAC" eval "$SRC/specs/iris.json" --init "$T/p.ckpt"
head -c 300 "$T/iris.ckpt" >"$T/t.ckpt"
expect 1 't.ckpt.*truncated' "$DELTAC" eval "$SRC/specs/iris.json" --init "$T/t.ckpt"
sed 's/"learning_rate": 0.05/"learning_rate": 0.06/' "$SRC/specs/iris.json" >"$T/iris2.json"
cp -r "$SRC/specs/data" "$T/data"
expect 1 'another spec' "$DELTAC" eval "$T/iris2.json" --init "$T/iris.ckpt"
expect 1 'iris.ckpt' "$DELTAC" eval "$SRC/specs/sine.json" --init "$T/iris.ckpt"
printf 'a,b,c,d\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n' >"$T/rows.csv"
expect 0 '^y0,y1,y2' "$DELTAC" predict "$SRC/specs/iris.json" --init "$T/iris.ckpt" --data "$T/rows.csv"
"$DELTAC" predict "$SRC/specs/iris.json" --init "$T/iris.ckpt" --data "$T/rows.csv" -o "$T/pred.csv"
if [ "$(wc -l <"$T/pred.csv")" = 3 ] && awk -F, 'NR==2 { exit !($1 > 0.9) } NR==3 { exit !($3 > 0.9) }' "$T/pred.csv"; then ok; else
    bad "predict: expected setosa then virginica: $(cat "$T/pred.csv")"; fi
expect 1 'iris.ckpt: saved with float32, the spec says float64' "$DELTAC" predict "$SRC/specs/xor.json" --init "$T/iris.ckpt" --data "$T/rows.csv"
printf 'a,b,c\n1,2,3\n' >"$T/wide.csv"
expect 1 'wide.csv:2:.*' "$DELTAC" predict "$SRC/specs/iris.json" --init "$T/iris.ckpt" --data "$T/wide.csv"

# ---- logs, plots, delta traces, validation, early stopping, metrics ---------------------------
expect 0 'wrote .*log.csv \(7 epochs\)' "$DELTAC" train "$SRC/specs/iris.json" -q --epochs 7 --log "$T/log.csv" --plot "$T/plot.svg"
if head -1 "$T/log.csv" | grep -q '^epoch,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,seconds$' &&
    [ "$(wc -l <"$T/log.csv")" = 8 ] && [ "$(tail -1 "$T/log.csv" | cut -d, -f1)" = 7 ]; then ok; else
    bad "--log: expected a header and 7 rows: $(cat "$T/log.csv")"; fi
if [ -s "$T/plot.svg" ] && head -c 400 "$T/plot.svg" | grep -q '<svg'; then ok; else bad "--plot wrote no SVG"; fi
# the same epochs, printed: the log's losses are the lines'
"$DELTAC" train "$SRC/specs/iris.json" --epochs 7 --trace-deltas --log "$T/dlog.csv" >"$T/dout.txt"
if head -1 "$T/dlog.csv" | grep -q ',seconds,delta_1,delta_2$' && [ "$(wc -l <"$T/dlog.csv")" = 8 ] &&
    awk -F, 'NR > 1 && !($10 > 0 && $11 > 0) { bad = 1 } END { exit bad }' "$T/dlog.csv"; then ok; else
    bad "--trace-deltas: no delta columns: $(cat "$T/dlog.csv")"; fi
if [ "$(grep -c '^ *|d| [0-9]' "$T/dout.txt")" = 7 ]; then ok; else bad "--trace-deltas printed no |d| lines: $(cat "$T/dout.txt")"; fi
cmp -s <(grep '^epoch' "$T/dout.txt" | sed 's/ *(.*//') \
       <("$DELTAC" train "$SRC/specs/iris.json" --epochs 7 | grep '^epoch' | sed 's/ *(.*//') &&
    ok || bad "--trace-deltas changed the losses"
expect 0 'wrote .*ref.csv' "$DELTAC" train "$SRC/specs/iris.json" -q --epochs 2 --engine reference --trace-deltas --log "$T/ref.csv"
# no bar in a pipe; on a terminal (script(1) gives one) a bar unless --no-progress
if "$DELTAC" train "$SRC/specs/sine.json" | grep -q 'samples/s'; then bad "a progress bar in a pipe"; else ok; fi
if command -v script >/dev/null; then
    # long enough for the bar's first drawing (0.1 s)
    out=$(script -qec "'$DELTAC' train '$SRC/specs/sine.json' --epochs 3000" /dev/null)
    grep -q 'samples/s' <<<"$out" && ok || bad "no progress bar on a terminal: $out"
    out=$(script -qec "'$DELTAC' train '$SRC/specs/sine.json' --no-progress" /dev/null)
    grep -q 'samples/s' <<<"$out" && bad "--no-progress drew a bar" || ok
fi
# a validation part and early stopping
sed 's/"standardize": true,/"standardize": true, "validation_fraction": 0.2,/; s/"epochs": 100,/"epochs": 400, "early_stopping": {"patience": 10},/' \
    "$SRC/specs/iris.json" >"$T/es.json"
expect 0 'data: 96 training rows, 24 validation rows, 30 test rows' "$DELTAC" train "$T/es.json" --epochs 2
expect 0 'epoch    1  loss [0-9.]+  train acc [0-9.]+  val loss [0-9.]+  val acc [0-9.]+  test loss' "$DELTAC" train "$T/es.json" --epochs 2
"$DELTAC" train "$T/es.json" --save "$T/es.ckpt" --log "$T/es.csv" >"$T/es.txt"
stop=$(sed -n 's/^stopped early after epoch \([0-9]*\): the validation loss did not improve for 10 epochs$/\1/p' "$T/es.txt")
best=$(sed -n 's/^best epoch \([0-9]*\) (validation loss [0-9.]*): its parameters were restored$/\1/p' "$T/es.txt")
if [ -n "$stop" ] && [ -n "$best" ] && [ "$stop" -lt 400 ] && [ "$((stop - best))" = 10 ] &&
    [ "$(wc -l <"$T/es.csv")" = $((stop + 1)) ] && grep -q "saved .*es.ckpt (the best epoch)" "$T/es.txt"; then ok; else
    bad "early stopping: $(tail -6 "$T/es.txt")"; fi
# the checkpoint is the best epoch's: it resumes from there
expect 0 "resuming from .*es.ckpt after epoch $best" "$DELTAC" train "$T/es.json" --init "$T/es.ckpt" --epochs 1
vbest=$(awk -F, -v e="$best" '$1 == e { print $5 }' "$T/es.csv")
if [ -n "$vbest" ] && grep -q "best epoch $best (validation loss $(printf '%.6f' "$vbest"))" "$T/es.txt"; then ok; else
    bad "the best epoch's validation loss $vbest is not the log's"; fi
sed 's/"epochs": 100,/"epochs": 100, "early_stopping": {"patience": 3},/' "$SRC/specs/iris.json" >"$T/nov.json"
expect 1 'train.early_stopping: early stopping watches the validation loss' "$DELTAC" train "$T/nov.json"
# eval: the confusion matrix, or RMSE and MAE
expect 0 'confusion matrix \(rows: true class, columns: predicted class\):' "$DELTAC" eval "$SRC/specs/iris.json" --init "$T/iris.ckpt"
"$DELTAC" eval "$SRC/specs/iris.json" --init "$T/iris.ckpt" >"$T/cm.txt"
if awk '/^confusion/ { t = 1; next } t { n++; if (n == 1 && $0 !~ /^ +0 +1 +2$/) bad = 1;
        if (n > 1) { if ($1 != n - 2 || NF != 4) bad = 1; for (i = 2; i <= 4; i++) s += $i } }
        END { exit bad || n != 4 || s != 30 }' "$T/cm.txt"; then ok; else bad "eval's confusion matrix: $(cat "$T/cm.txt")"; fi
"$DELTAC" train "$SRC/specs/sine.json" -q --epochs 3 --save "$T/sine.ckpt" >/dev/null
"$DELTAC" eval "$SRC/specs/sine.json" --init "$T/sine.ckpt" >"$T/reg.txt"
if grep -Eq '^rmse: [0-9.e+-]+$' "$T/reg.txt" && grep -Eq '^mae: [0-9.e+-]+$' "$T/reg.txt" && ! grep -q accuracy "$T/reg.txt"; then ok; else
    bad "eval of values: $(cat "$T/reg.txt")"; fi
# a loss that becomes infinite: what was recorded is written, then the error
expect 1 'epoch [0-9]+, batch [0-9]+: loss is (inf|nan)' "$DELTAC" train "$SRC/specs/sine.json" -q --lr 0.8 --log "$T/nan.csv"
ep=$("$DELTAC" train "$SRC/specs/sine.json" -q --lr 0.8 2>&1 | sed -n 's/.*epoch \([0-9]*\), batch.*/\1/p')
if [ -n "$ep" ] && [ "$ep" -gt 1 ] && [ "$(wc -l <"$T/nan.csv")" = "$ep" ]; then ok; else
    bad "the log after a divergence in epoch $ep has $(wc -l <"$T/nan.csv") lines"; fi
# a gradient that overflows while the loss does not names its layer (with one
# sample per batch and plain SGD the step is fused, so there is no gradient
# buffer: the parameters it made infinite are named instead)
printf 'x,y\n1e172,0\n' >"$T/huge.csv"
spec grad '{"name": "g", "dtype": "float64", "input": 1, "loss": "mse", "init": {"scheme": "uniform", "range": 1e-10},
  "layers": [{"units": 1, "activation": "identity"}, {"units": 1, "activation": "identity"}],
  "train": {"epochs": 1}, "data": {"train": "huge.csv", "target": {"kind": "values"}}}'
expect 1 'epoch 1, batch 1: the (gradient of layer [12] \((W|b)[12]\) is|parameters of layer [12] \((W|b)[12]\) are) (NaN|infinite); lower the learning rate' \
    "$DELTAC" train "$T/grad.json"
expect 1 'epoch 1, batch 1: the gradient of layer [12] \((W|b)[12]\) is (NaN|infinite); lower the learning rate' \
    "$DELTAC" train "$T/grad.json" --engine reference

# ---- a program embedding the library form predicts with saved weights ----------------------
expect 0 'saved' "$DELTAC" train "$SRC/specs/xor.json" -q --save "$T/xor.ckpt"
out=$("$XOR_PREDICT" "$T/xor.ckpt")
if awk '/= / { v = $NF; want = ($0 ~ /\(0, 1\)|\(1, 0\)/); if ((v > 0.5) != want) bad = 1 } END { exit bad }' <<<"$out" &&
    [ "$(grep -c '= ' <<<"$out")" = 4 ]; then ok; else bad "xor_predict: $out"; fi

# ---- data errors name FILE:LINE:COL ---------------------------------------------------------
printf 'a,b,c,d,y\n1,2,3,4,0\n1,2,3,0\n' >"$T/ragged.csv"
expect 1 'ragged.csv:3:[0-9]+: ' "$DELTAC" train "$SRC/specs/iris.json" --train "$T/ragged.csv"
printf 'a,b,c,d,y\n1,2,x,4,0\n' >"$T/nonnum.csv"
expect 1 'nonnum.csv:2:5: ' "$DELTAC" train "$SRC/specs/iris.json" --train "$T/nonnum.csv"
printf 'a,b,c,d,y\n1,2,3,4,7\n' >"$T/label.csv"
expect 1 'label.csv:2:9: .*out of range' "$DELTAC" train "$SRC/specs/iris.json" --train "$T/label.csv"
spec nodata '{"name": "n", "input": 4, "layers": [{"units": 3, "activation": "softmax"}], "loss": "cross_entropy"}'
expect 2 'no "data" section' "$DELTAC" train "$T/nodata.json"
expect 1 'batch size 500 is larger than' "$DELTAC" train "$SRC/specs/iris.json" --batch-size 500

# ---- Fashion-MNIST (Debian's dataset-fashion-mnist, installed by scripts/setup.sh) ----------
FM=/usr/share/datasets/fashion-mnist
if [ -f "$FM/train-images-idx3-ubyte.gz" ]; then
    expect 0 'specs/fashion_mnist.json: ok' "$DELTAC" check "$SRC/specs/fashion_mnist.json"
    # one epoch through the JIT on the real 60,000 images, tested on the 10,000
    expect 0 'test accuracy: (8[0-9]|9[0-9])\.' "$DELTAC" train "$SRC/specs/fashion_mnist.json" --epochs 1 -q
else
    echo "SKIP: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
fi

finish cli_train
