#!/usr/bin/env bash
# tests/valgrind.sh: the tests of a normal build under valgrind's memcheck. Not part of tests/run.sh
# (it takes tens of minutes); docs/testing.md records its last results.
#
#   bash tests/valgrind.sh [BUILD_DIR [OUT_DIR [NAME...]]]
#
# BUILD_DIR defaults to build/ (configure and build it first), OUT_DIR to /tmp/deltac-valgrind.
# NAMEs select tests: Criterion executables (test_*) and command-line scripts (cli_*); all by default.
#
# Criterion runs every test in a process of its own that it starts by exec'ing the test executable
# again, so valgrind must follow children (--trace-children=yes, but not into the system's programs
# such as cc, which some tests run: --trace-children-skip); each process writes its own log,
# OUT_DIR/NAME.PID.log. The command-line scripts get a wrapper as their deltac that runs the real
# binary under valgrind the same way. libtcc writes the JIT's code into heap memory and runs it, hence
# --smc-check=all-non-file. A test fails when its run fails or any of its processes reports an error
# (invalid access, uninitialised value, bad free) or a definitely lost block; "possibly lost" and
# "still reachable" are reported but not counted (a CLI that exits from an error path does not free
# everything, and need not).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=$(cd "${1:-build}" && pwd)
OUT=${2:-/tmp/deltac-valgrind}
shift $(($# > 2 ? 2 : $#))
mkdir -p "$OUT"
rm -f "$OUT"/*.log
# cli_faults runs deltac as uid 65534: its valgrind must be able to write its log here
chmod 1777 "$OUT"

VG=(valgrind --trace-children=yes "--trace-children-skip=/usr/*,/bin/*,/sbin/*" --smc-check=all-non-file --leak-check=full
    --errors-for-leak-kinds=definite --error-exitcode=99 --num-callers=30)

# the wrapper the CLI scripts get as deltac
{
    echo '#!/usr/bin/env bash'
    printf 'exec '
    printf '%q ' "${VG[@]}"
    printf -- '--log-file=%q/"${DELTAC_VG_NAME:-cli}".%%p.log %q "$@"\n' "$OUT" "$BUILD/deltac"
} >"$OUT/deltac"
chmod +x "$OUT/deltac"

names=("$@")
if [ ${#names[@]} = 0 ]; then
    for t in "$BUILD"/tests/test_*; do [ -x "$t" ] && names+=("$(basename "$t")"); done
    for s in tests/cli/*.sh; do [ "$s" = tests/cli/lib.sh ] || names+=("cli_$(basename "$s" .sh)"); done
fi

# summary NAME STATUS SECONDS: one line from NAME's logs
summary() {
    local name=$1 rc=$2 secs=$3 procs errors definite possibly
    procs=$(ls "$OUT/$name".*.log 2>/dev/null | wc -l)
    errors=$(cat "$OUT/$name".*.log 2>/dev/null | sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' |
        tr -d , | awk '{ s += $1 } END { print s + 0 }')
    definite=$(cat "$OUT/$name".*.log 2>/dev/null | sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' |
        tr -d , | awk '{ s += $1 } END { print s + 0 }')
    possibly=$(cat "$OUT/$name".*.log 2>/dev/null | sed -n 's/.*possibly lost: \([0-9,]*\) bytes.*/\1/p' |
        tr -d , | awk '{ s += $1 } END { print s + 0 }')
    printf '%-24s exit %-3s %5ss  %4s processes  %3s errors  %6s bytes definitely lost  %6s possibly\n' \
        "$name" "$rc" "$secs" "$procs" "$errors" "$definite" "$possibly"
    [ "$rc" = 0 ] && [ "$errors" = 0 ] && [ "$definite" = 0 ]
}

failed=0
for name in "${names[@]}"; do
    start=$(date +%s)
    case $name in
    test_*)
        "${VG[@]}" --log-file="$OUT/$name.%p.log" "$BUILD/tests/$name" --jobs 2 >"$OUT/$name.out" 2>&1
        rc=$?
        ;;
    cli_*)
        part=${name#cli_}
        DELTAC_VG_NAME=$name bash "tests/cli/$part.sh" "$OUT/deltac" "$PWD" "$BUILD/xor_predict" \
            >"$OUT/$name.out" 2>&1
        rc=$?
        ;;
    *)
        echo "unknown test $name" >&2
        failed=1
        continue
        ;;
    esac
    summary "$name" "$rc" $(($(date +%s) - start)) || failed=1
done
[ "$failed" = 0 ] && echo "valgrind: all clean" || echo "valgrind: FAILED (logs in $OUT)"
exit "$failed"
