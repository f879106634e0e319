#!/usr/bin/env bash
# Runs every test: the C unit tests (build/tests/test_*), then the shell and
# Python end-to-end tests (tests/test_*.sh, tests/test_*.py). A test exits 0
# to pass, 77 to skip (with a reason on stdout), anything else to fail.
# Environment given to each test: BUILD (build dir), MTP (the binary),
# MTP_DATA (the shared data folder, may be absent), OMP_NUM_THREADS=2.
# TESTS="word ..." runs only the tests whose names contain one of the words.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
export MTP="$PWD/$BUILD/mtp"
export MTP_DATA=${MTP_DATA:-$(cd .. && pwd)/shared/data}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
PYTHON=${PYTHON:-/usr/bin/python3}
only=${TESTS:-}
passed=0 failed=0 skipped=0 failures=()
run_one() {
    local name=$1; shift
    if [ -n "$only" ]; then  # TESTS: words, a test runs if its name contains one of them
        local want=0 w
        for w in $only; do [[ "$name" == *"$w"* ]] && want=1; done
        [ $want -eq 1 ] || return
    fi
    local start=$SECONDS log
    log=$(mktemp)
    "$@" >"$log" 2>&1
    local rc=$?
    local secs=$((SECONDS - start))
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1)); printf 'PASS  %-40s %4ds\n' "$name" "$secs"
    elif [ $rc -eq 77 ]; then
        skipped=$((skipped + 1)); printf 'SKIP  %-40s %s\n' "$name" "$(tail -n 1 "$log")"
    else
        failed=$((failed + 1)); failures+=("$name"); printf 'FAIL  %-40s %4ds\n' "$name" "$secs"
        sed 's/^/    | /' "$log" | tail -n 40
    fi
    rm -f "$log"
}
for t in "$BUILD"/tests/test_*; do [ -x "$t" ] && run_one "$(basename "$t")" "$t"; done
for t in tests/test_*.sh; do [ -f "$t" ] && run_one "$(basename "$t")" bash "$t"; done
for t in tests/test_*.py; do [ -f "$t" ] && run_one "$(basename "$t")" "$PYTHON" "$t"; done
echo
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
