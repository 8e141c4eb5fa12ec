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
