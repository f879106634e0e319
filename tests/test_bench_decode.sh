#!/usr/bin/env bash
# End-to-end checks of `mtp bench-decode`: on a small trained n = 3 model, the
# JSON report has K = 0, 1, 2 with tokens per forward in [1, K+1] and
# acceptance rates in [0, 1], plus an auto row (K chosen per step), no
# speculative output differs from the plain one,
# plain and JSONL prompt lines both work, and the text report is a table. Bad
# input (missing file, empty file, n = 1 model, bad flags) fails with one line
# on stderr.
set -u
source "$(dirname "$0")/lib.sh"
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=$(command -v python3) || { echo "skip: python3 needed to parse the JSON"; exit 77; }

speaker_corpus 300
M prepare --quiet --out data --val-fraction 0.1 corpus >/dev/null 2>&1 || fail "prepare"
M train --data data --out run --n-layer 4 --n-future 3 --dim 32 --n-head 4 --seq-len 32 --batch 4 --steps 60 \
    --eval-every 0 --threads 2 >/dev/null 2>&1 || fail "train n=3"

# five prompts, one of them JSONL, and a blank line that is skipped
cat >p.txt <<'EOF'
line 7: the 0 quick
{"prompt": "line 12: the 5 quick brown foxes"}
the quick brown

line 300: the
said speaker
EOF

# ---- JSON report
M bench-decode --model run --prompts p.txt --max-new 24 --threads 2 --json >out.json 2>err.txt
rc=$?
[ $rc -eq 0 ] || { fail "bench-decode --json exited $rc"; cat err.txt; }
"$PY" - out.json <<'EOF' || fail "JSON report: see above"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["prompts"] == 5, r["prompts"]
assert r["mismatches"] == 0, r
ks = {x["k"]: x for x in r["results"]}
assert list(ks) == [0, 1, 2, "auto"], list(ks)
assert r["read_bandwidth_gbs"] > 0 and r["weight_bytes_per_token"] > 0, r
assert ks[0]["roofline"] > 0 and ks[0]["seconds_per_forward"] > 0, ks[0]
# the KV cache a plain step reads: 3 blocks (2 trunk + head 1) x keys and values x 32 floats a
# position, at a mean context between the shortest prompt (12 bytes) and the context (32)
per_position = 3 * 2 * 32 * 4
assert 12 * per_position <= ks[0]["kv_bytes"] <= 32 * per_position, ks[0]
assert ks[0]["roofline_with_kv"] > ks[0]["roofline"], ks[0]
assert ks[0]["accept_rate"] == [] and abs(ks[0]["tokens_per_forward"] - 1) < 1e-9, ks[0]
assert abs(ks[0]["forward_cost"] - 1) < 1e-9 and abs(ks[0]["speedup"] - 1) < 1e-9, ks[0]
for k in (1, 2):
    x = ks[k]
    assert 1 <= x["tokens_per_forward"] <= k + 1, x
    assert len(x["accept_rate"]) == k, x
    assert all(0 <= a <= 1 for a in x["accept_rate"]), x
    assert x["tokens_per_sec"] > 0 and x["speedup"] > 0 and x["forward_cost"] > 0, x
    assert x["mismatches"] == 0, x
    assert x["paired_forward_cost"] > 0, x  # a K+1-row verification against a one-token forward
assert "paired_forward_cost" not in ks[0] and "paired_forward_cost" not in ks["auto"], r
a = ks["auto"]
assert 1 <= a["tokens_per_forward"] <= 3 and len(a["accept_rate"]) == 2 and a["mismatches"] == 0, a
assert all(x is None or 0 <= x <= 1 for x in a["accept_rate"]), a
EOF
grep -q "prompts are longer than the context" err.txt || fail "no note about prompts cut to the context"
[ "$(grep -c 'longer than the context' err.txt)" -eq 1 ] || fail "the cut note is printed more than once"

# ---- text report, --max-prompts
M bench-decode --model run --prompts p.txt --max-new 8 --max-prompts 2 --repeats 2 >out.txt 2>/dev/null ||
    fail "text report with --repeats 2"
grep -q '^| K | tokens/s | tokens/forward | speedup | speedup (total) | forward cost' out.txt || fail "no table header: $(cat out.txt)"
[ "$(grep -c '^| [0-9]' out.txt)" -eq 3 ] || fail "table should have rows K = 0, 1, 2: $(cat out.txt)"
grep -q '^| auto |' out.txt || fail "table should have an auto row: $(cat out.txt)"
grep -q '^roofline: .* GB/s.*counting the float32 KV cache' out.txt || fail "no roofline line: $(cat out.txt)"
grep -q "2 prompts" out.txt || fail "--max-prompts 2 not honoured: $(head -n 1 out.txt)"
grep -q '^forward cost, paired .*K=1 [0-9.]*x, K=2 [0-9.]*x$' out.txt || fail "no paired forward cost line: $(cat out.txt)"

# ---- bad input: non-zero exit, one line on stderr
bad() {  # bad NAME ARGS...
    local name=$1; shift
    M "$@" >/dev/null 2>err.txt
    local rc=$?
    [ $rc -ne 0 ] || fail "$name: exited 0"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "$name: expected one line on stderr, got: $(cat err.txt)"
    grep -q "^mtp bench-decode: " err.txt || fail "$name: message not prefixed: $(cat err.txt)"
}
: >empty.txt
printf '\n\n' >blank.txt
printf '{"text": "no prompt field"}\n' >nofield.jsonl
printf '{"prompt": "unterminated\n' >broken.jsonl
M train --data data --out run1 --n-layer 2 --n-future 1 --dim 32 --n-head 4 --seq-len 32 --batch 4 --steps 2 \
    --eval-every 0 --threads 2 >/dev/null 2>&1 || fail "train n=1"
bad "missing prompts file" bench-decode --model run --prompts nope.txt
bad "empty prompts file" bench-decode --model run --prompts empty.txt
bad "blank prompts file" bench-decode --model run --prompts blank.txt
bad "JSONL without prompt" bench-decode --model run --prompts nofield.jsonl
bad "broken JSONL" bench-decode --model run --prompts broken.jsonl
bad "n = 1 model" bench-decode --model run1 --prompts p.txt
grep -q "n_future = 1" err.txt || fail "n = 1 message should say why: $(cat err.txt)"
bad "missing model" bench-decode --model nowhere --prompts p.txt
bad "no --prompts" bench-decode --model run
bad "unknown flag" bench-decode --model run --prompts p.txt --frobnicate
bad "bad --max-new" bench-decode --model run --prompts p.txt --max-new x
bad "bad --repeats" bench-decode --model run --prompts p.txt --repeats 0
bad "--max-new past the context" bench-decode --model run --prompts p.txt --max-new 32
M bench-decode --help | grep -q "usage: mtp bench-decode" || fail "--help"

[ $fails -eq 0 ] && echo "ok" || echo "$fails failure(s)"
[ $fails -eq 0 ]
