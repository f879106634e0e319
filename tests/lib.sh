# lib.sh: shared by the shell tests (sourced, not run). Skips (exit 77) when
# the binary is missing; otherwise works in a scratch directory $W, removed
# on exit. fail records a failure, M runs mtp, expect_error checks a bad
# input's handling, finish prints the verdict and exits.
[ -x "${MTP:-}" ] || { echo "skip: build/mtp not built (set MTP to the mtp binary)"; exit 77; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
M() { "$MTP" "$@"; }

# speaker_corpus N: corpus/a.txt, N numbered lines of a small repetitive text
# (a few dozen training steps learn it), for the tests' tiny models.
speaker_corpus() {
    mkdir -p corpus
    for i in $(seq 1 "$1"); do
        echo "line $i: the $((i % 7)) quick brown foxes jump over $((i * 13 % 101)) lazy dogs, said speaker $((i % 5))."
    done >corpus/a.txt
}

# expect_error NAME PATTERN -- COMMAND...: the command must exit 1 or 2 (not
# 0, no crash) with exactly one line on stderr containing PATTERN.
expect_error() {
    local name=$1 pattern=$2
    shift 3
    "$@" >out.txt 2>err.txt </dev/null
    local rc=$?
    if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then fail "$name: exit code $rc"; return; fi
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "$name: expected one line on stderr, got: $(cat err.txt)"
    grep -q -- "$pattern" err.txt || fail "$name: error '$(cat err.txt)' does not mention '$pattern'"
}

# finish NAME: exit 1 if anything failed.
finish() {
    if [ "$fails" -ne 0 ]; then
        echo "$1: $fails failures"
        exit 1
    fi
    echo "$1: all checks passed"
    exit 0
}

# log_slack LOG BYTES FILL: pads LOG with whole JSON lines until its last 4 KB page has BYTES
# free, then fills the file system with FILL: the next writes to LOG get those BYTES, no more (a
# tmpfs gives files whole pages).
log_slack() {
    python3 - "$1" "$2" <<'PY'
import os, sys
path, slack = sys.argv[1], int(sys.argv[2])
pad = (4096 - slack - os.path.getsize(path)) % 4096
if pad < 12: pad += 4096
with open(path, "a") as f: f.write('{"pad": "' + "x" * (pad - 12) + '"}\n')
PY
    head -c 64M /dev/zero >"$3" 2>/dev/null
    return 0
}

# whole_json_lines LOG STEPS: every line of LOG is JSON, and its training lines end at step STEPS.
whole_json_lines() {
    python3 - "$1" "$2" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
assert text.endswith("\n"), "the log ends in part of a line: %r" % text[-60:]
steps = [l["step"] for l in map(json.loads, text.splitlines()) if "loss" in l and "split" not in l]
assert steps[-1] == int(sys.argv[2]), steps
PY
}

# on_full_tmpfs NAME SCRIPT: runs bash SCRIPT (given what it needs in exported variables) in a
# private mount namespace with a 1 MB tmpfs mounted at ./small, where the log_slack and
# whole_json_lines helpers are at hand; fails NAME if SCRIPT fails, and says NAME was skipped
# where no such mount is permitted here.
on_full_tmpfs() {
    local name=$1 rc=77
    if unshare -m true 2>/dev/null; then
        mkdir -p small
        export -f log_slack whole_json_lines
        unshare -m bash -c 'mount -t tmpfs -o size=1M tmpfs small || exit 77
'"$2"
        rc=$?
    fi
    [ $rc -eq 77 ] && echo "skipped: $name (no private tmpfs mount here)"
    [ $rc -eq 0 ] || [ $rc -eq 77 ] || fail "$name"
}
