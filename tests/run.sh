#!/usr/bin/env bash
# The whole test suite: a -Werror build and its tests, then the same tests
# built with AddressSanitizer (+ LeakSanitizer) and UndefinedBehaviorSanitizer.
# Fails when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)

echo "== build (-Werror) and test"
cmake -S . -B build -DDELTAC_WERROR=ON >/dev/null
cmake --build build -j "$JOBS"
ctest --test-dir build --output-on-failure

echo "== build with ASan+UBSan and test"
cmake -S . -B build-asan -DDELTAC_WERROR=ON -DDELTAC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure

echo "== build the concurrency test with ThreadSanitizer and run it"
cmake -S . -B build-tsan -DDELTAC_WERROR=ON -DDELTAC_TSAN=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-tsan -j "$JOBS" --target test_threads
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir build-tsan -R '^test_threads$' --output-on-failure
