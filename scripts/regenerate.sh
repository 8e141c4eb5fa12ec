#!/usr/bin/env bash
# Rewrites generated/ from specs/ with the given deltac binary. The command
# line recorded in each file is "deltac emit specs/NAME.json", so the result
# does not depend on where the build tree is.
# usage: scripts/regenerate.sh PATH/TO/deltac NAME...
set -euo pipefail
DELTAC=$(realpath "$1")
shift
cd "$(dirname "$0")/.."
for s in "$@"; do
    "$DELTAC" emit "specs/$s.json" >"generated/$s.c.tmp"
    mv "generated/$s.c.tmp" "generated/$s.c"
done
