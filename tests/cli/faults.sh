#!/usr/bin/env bash
# tests/cli/faults.sh: saving when the disk is full or the folder is read-only, through the real
# deltac binary. Every failed save must exit 1 with a message naming the file and the reason, and
# leave the previous file byte for byte as it was (a checkpoint still loads with eval), with no
# temporary file beside it.
#   - a full disk: RLIMIT_FSIZE (ulimit -f, SIGXFSZ ignored, so write(2) fails with EFBIG) always;
#     a tiny tmpfs (ENOSPC) too when this machine lets us mount one (root with CAP_SYS_ADMIN);
#   - a read-only folder: chmod 555; root ignores modes, so as root the saves run as uid/gid 65534
#     (setpriv, or runuser -u nobody).
# Cases: train --save, --save-every, --init CK --save CK, export --npy.
# usage: tests/cli/faults.sh PATH/TO/deltac SOURCE_DIR [PATH/TO/xor_predict]
. "$(dirname "$0")/lib.sh"

# $T must be reachable by the unprivileged user, and removable after chmod 555 inside it
chmod 755 "$T"
cleanup() {
    if mountpoint -q "$T/fs" 2>/dev/null; then umount "$T/fs"; fi
    chmod -R u+w "$T" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

cp -r "$SRC/specs/data" "$T/data"
cp "$SRC/specs/iris.json" "$T/iris.json"
IRIS=$T/iris.json
# 256 hidden units: an 8.2 KiB checkpoint, more than a 4 KiB ulimit and a 4 KiB page, so that the
# write fails part way through rather than at its first byte
sed 's/"units": 16,/"units": 256,/' "$IRIS" >"$T/wide.json"
WIDE=$T/wide.json
grep -q '"units": 256' "$WIDE" && ok || bad "wide.json: the sed did not apply"

# full KIB command...: the command with files limited to KIB KiB (EFBIG beyond)
full() {
    local kib=$1
    shift
    (trap '' XFSZ; ulimit -f "$kib"; exec "$@")
}

# notmp DIR: no *.tmp* file in DIR
notmp() {
    local left
    left=$(find "$1" -maxdepth 1 -name '*.tmp*')
    if [ -n "$left" ]; then bad "temporary files left: $left"; else ok; fi
}

# intact CKPT COPY SPEC: CKPT is byte for byte COPY, still loads with eval, no temp file beside it
intact() {
    local out
    if ! cmp -s "$1" "$2"; then
        bad "$1 was changed"
    elif ! out=$("$DELTAC" eval "$3" --init "$1" 2>&1) || ! grep -q '^accuracy: ' <<<"$out"; then
        bad "$1 no longer loads:"$'\n'"$out"
    else
        ok
    fi
    notmp "$(dirname "$1")"
}

# sametree A B: the folders hold the same files with the same bytes
sametree() {
    if diff -r "$1" "$2" >/dev/null; then ok; else bad "$1 differs from $2: $(diff -rq "$1" "$2")"; fi
}

# ---- a full disk: RLIMIT_FSIZE ----------------------------------------------------------------------
mkdir "$T/q"
expect 0 'saved' "$DELTAC" train "$IRIS" -q --epochs 3 --save "$T/q/iris.ckpt"
expect 0 'saved' "$DELTAC" train "$WIDE" -q --epochs 2 --save "$T/q/wide.ckpt"
cp "$T/q/iris.ckpt" "$T/iris.orig"
cp "$T/q/wide.ckpt" "$T/wide.orig"
[ "$(stat -c %s "$T/wide.orig")" -gt 8192 ] && ok || bad "wide.ckpt is not larger than 8 KiB"

# not a byte can be written
expect 1 "q/iris\\.ckpt: cannot write: File too large" full 0 "$DELTAC" train "$IRIS" -q --epochs 5 --save "$T/q/iris.ckpt"
intact "$T/q/iris.ckpt" "$T/iris.orig" "$IRIS"
# 4 KiB of 8.2 are written, then EFBIG
expect 1 "q/wide\\.ckpt: cannot write: File too large" full 4 "$DELTAC" train "$WIDE" -q --epochs 3 --save "$T/q/wide.ckpt"
intact "$T/q/wide.ckpt" "$T/wide.orig" "$WIDE"
# resuming from the file that is being replaced
expect 1 "q/wide\\.ckpt: cannot write: File too large" full 4 "$DELTAC" train "$WIDE" -q --epochs 1 \
    --init "$T/q/wide.ckpt" --save "$T/q/wide.ckpt"
intact "$T/q/wide.ckpt" "$T/wide.orig" "$WIDE"
# --save-every: the first periodic save fails and ends the run
expect 1 "q/iris\\.ckpt: cannot write: File too large" full 0 "$DELTAC" train "$IRIS" --no-progress --epochs 4 \
    --save-every 1 --save "$T/q/iris.ckpt"
intact "$T/q/iris.ckpt" "$T/iris.orig" "$IRIS"
# export over an earlier export: every .npy file is left as it was
expect 0 'wrote 2 layers' "$DELTAC" export "$T/q/iris.ckpt" --npy "$T/q/npy"
cp -r "$T/q/npy" "$T/npy.orig"
expect 0 'saved' "$DELTAC" train "$IRIS" -q --epochs 4 --save "$T/other.ckpt"
expect 1 "q/npy/W1\\.npy: cannot write: File too large" full 0 "$DELTAC" export "$T/other.ckpt" --npy "$T/q/npy"
sametree "$T/q/npy" "$T/npy.orig"
notmp "$T/q/npy"

# ---- a full disk: a 64 KiB tmpfs, when mounting is allowed -----------------------------------------
mkdir "$T/fs"
if mount -t tmpfs -o size=64k,mode=0755 deltac-faults "$T/fs" 2>/dev/null; then
    cp "$T/q/wide.ckpt" "$T/q/iris.ckpt" "$T/fs/"
    # fill it up but for one 4 KiB page: the 8.2 KiB checkpoint gets one page, then ENOSPC
    free=$(stat -f -c %a "$T/fs")
    dd if=/dev/zero of="$T/fs/fill1" bs=4096 count=$((free - 1)) status=none
    [ "$(stat -f -c %a "$T/fs")" = 1 ] && ok || bad "tmpfs: $(stat -f -c %a "$T/fs") pages free, not 1"
    expect 1 "fs/wide\\.ckpt: cannot write: No space left on device" "$DELTAC" train "$WIDE" -q --epochs 3 \
        --save "$T/fs/wide.ckpt"
    intact "$T/fs/wide.ckpt" "$T/wide.orig" "$WIDE"
    # now completely full
    dd if=/dev/zero of="$T/fs/fill2" bs=4096 count=1 status=none
    expect 1 "fs/iris\\.ckpt: cannot write: No space left on device" "$DELTAC" train "$IRIS" -q --epochs 5 \
        --save-every 2 --save "$T/fs/iris.ckpt"
    intact "$T/fs/iris.ckpt" "$T/iris.orig" "$IRIS"
    umount "$T/fs"
    tmpfs_note="tmpfs cases run"
else
    tmpfs_note="tmpfs cases skipped (mounting is not permitted here)"
fi

# ---- a read-only folder -------------------------------------------------------------------------------
# as_user command...: the command without the right to write into a 555 folder
ro_ok=1
if [ "$(id -u)" != 0 ]; then
    as_user() { "$@"; }
    ro_note="read-only folder as $(id -un)"
elif command -v setpriv >/dev/null; then
    as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    ro_note="read-only folder as uid 65534 (setpriv)"
elif command -v runuser >/dev/null && id nobody >/dev/null 2>&1; then
    as_user() { runuser -u nobody -- "$@"; }
    ro_note="read-only folder as nobody (runuser)"
else
    ro_ok=0
    ro_note="read-only cases skipped: running as root without setpriv or runuser"
fi
if [ "$ro_ok" = 1 ]; then
    mkdir "$T/ro"
    cp "$T/iris.orig" "$T/ro/iris.ckpt"
    cp -r "$T/npy.orig" "$T/ro/npy"
    chmod 555 "$T/ro" "$T/ro/npy"
    # the unprivileged user can read everything it needs, but write nothing into ro/
    expect 0 'accuracy: ' as_user "$DELTAC" eval "$IRIS" --init "$T/ro/iris.ckpt"
    if as_user sh -c ": >'$T/ro/probe'" 2>/dev/null; then
        bad "the read-only folder is writable for the test user"
    fi

    expect 1 "ro/iris\\.ckpt: cannot write: Permission denied" as_user "$DELTAC" train "$IRIS" -q --epochs 5 \
        --save "$T/ro/iris.ckpt"
    intact "$T/ro/iris.ckpt" "$T/iris.orig" "$IRIS"
    expect 1 "ro/new\\.ckpt: cannot write: Permission denied" as_user "$DELTAC" train "$IRIS" -q --epochs 5 \
        --save "$T/ro/new.ckpt"
    [ ! -e "$T/ro/new.ckpt" ] && ok || bad "a failed save created ro/new.ckpt"
    expect 1 "ro/iris\\.ckpt: cannot write: Permission denied" as_user "$DELTAC" train "$IRIS" --no-progress \
        --epochs 4 --save-every 1 --save "$T/ro/iris.ckpt"
    intact "$T/ro/iris.ckpt" "$T/iris.orig" "$IRIS"
    expect 1 "ro/npy/W1\\.npy: cannot write: Permission denied" as_user "$DELTAC" export "$T/other.ckpt" \
        --npy "$T/ro/npy"
    sametree "$T/ro/npy" "$T/npy.orig"
    notmp "$T/ro/npy"
    expect 1 "ro/sub: cannot create the folder: Permission denied" as_user "$DELTAC" export "$T/other.ckpt" \
        --npy "$T/ro/sub"
    [ ! -e "$T/ro/sub" ] && ok || bad "a failed export created ro/sub"
fi

echo "faults: $tmpfs_note; $ro_note"
finish faults
