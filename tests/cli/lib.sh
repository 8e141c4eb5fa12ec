# tests/cli/lib.sh: what the command-line tests share. Each test script
# sources it with: DELTAC SOURCE_DIR [XOR_PREDICT]; it makes a temporary
# folder $T (removed at exit), counts checks, and `finish` prints
# "NAME: N passed, M failed" and sets the exit status.
set -u
DELTAC=$1
SRC=$2
XOR_PREDICT=${3:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect STATUS PATTERN command...: the exit status and a grep -E pattern
# on stdout+stderr
expect() {
    local want=$1 pat=$2
    shift 2
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" != "$want" ]; then
        bad "$* -> exit $rc, want $want"$'\n'"$out"
    elif [ -n "$pat" ] && ! grep -Eq -- "$pat" <<<"$out"; then
        bad "$* -> output does not match /$pat/"$'\n'"$out"
    else
        ok
    fi
}

spec() { # spec NAME JSON: writes $T/NAME.json
    printf '%s\n' "$2" >"$T/$1.json"
}

finish() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" = 0 ]
}
