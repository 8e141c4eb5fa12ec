#!/usr/bin/env bash
# Rewrites generated/ from specs/ with the given deltac binary: for each
# NAME, the library form (generated/NAME.h, generated/NAME.c) and the
# standalone trainer (generated/NAME_trainer.c). The command line recorded
# in each file uses paths relative to the repository's root, so the result
# does not depend on where the build tree is.
# usage: scripts/regenerate.sh PATH/TO/deltac NAME...
set -euo pipefail
DELTAC=$(realpath "$1")
shift
cd "$(dirname "$0")/.."
for s in "$@"; do
    "$DELTAC" emit "specs/$s.json" --library -o "generated/$s"
    "$DELTAC" emit "specs/$s.json" --standalone -o "generated/${s}_trainer.c"
done
