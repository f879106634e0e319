#!/usr/bin/env bash
# End-to-end checks of `mtp eval`: the JSON report is consistent (perplexity =
# exp(loss), the total is the sum of the heads, accuracies in [0, 1]), the
# tail batch is not double counted, it agrees with `mtp train --eval-every` on
# the same windows, and one test per kind of bad input (non-zero exit, one
# line on stderr naming the problem).
set -u
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/env

speaker_corpus 300
for i in $(seq 1 200); do echo "def f$i(x):\n    return x * $i + $((i % 9))"; done >corpus/b.py
M prepare --quiet --out data --val-fraction 0.3 corpus >/dev/null 2>&1 || fail "prepare"
# the final step evaluates 2 batches of 4 windows of 16 tokens, as eval --batch 4 --max-batches 2 does
M train --data data --out run --n-layer 3 --n-future 2 --dim 32 --n-head 4 --seq-len 16 --batch 4 \
    --steps 30 --eval-every 30 --eval-batches 2 --threads 2 --log train.jsonl 2>train.err ||
    { fail "train"; cat train.err; }

# ---- the JSON report: 2 heads, consistent numbers, every window by default
M eval --model run --data data --threads 2 --json >all.json 2>all.err || { fail "eval --json"; cat all.err; }
$PY python3 -c '
import json, math, sys
r = json.load(open("all.json"))
h = r["heads"]
assert len(h) == 2, "heads: %d" % len(h)
assert [x["head"] for x in h] == [1, 2], h
for x in h:
    assert 0 <= x["top1"] <= 1, x
    assert x["loss"] > 0, x
    assert abs(x["perplexity"] - math.exp(x["loss"])) <= 1e-6 * math.exp(x["loss"]), x
assert abs(sum(x["loss"] for x in h) - r["loss"]) <= 1e-9 * r["loss"], r
assert r["seq_len"] == 16, r  # the model context by default
assert r["windows"] >= 9 and r["tokens"] == 16 * r["windows"], r
' || fail "eval --json report: $(cat all.json)"

# ---- --max-batches 1: one batch of the default 8 windows
M eval --model run --data data --threads 2 --json --max-batches 1 >one.json 2>one.err ||
    { fail "eval --max-batches 1"; cat one.err; }
$PY python3 -c '
import json
r = json.load(open("one.json"))
assert r["windows"] == 8 and r["tokens"] == 128 and len(r["heads"]) == 2, r
' || fail "eval --max-batches 1: $(cat one.json)"

# ---- the last partial batch scores only the windows left: a batch that does
# not divide the window count gives the same means as batches of one
M eval --model run --data data --threads 2 --json --batch 5 >b5.json 2>/dev/null || fail "eval --batch 5"
M eval --model run --data data --threads 2 --json --batch 1 >b1.json 2>/dev/null || fail "eval --batch 1"
$PY python3 -c '
import json
a, b = json.load(open("b5.json")), json.load(open("b1.json"))
assert a["windows"] == b["windows"] and a["windows"] % 5 != 0, (a["windows"], b["windows"])
for x, y in zip(a["heads"], b["heads"]):
    assert abs(x["loss"] - y["loss"]) <= 1e-5, (x, y)
    assert abs(x["top1"] - y["top1"]) <= 1e-9, (x, y)
c = json.load(open("all.json"))
assert abs(c["loss"] - a["loss"]) <= 1e-5, (c, a)
' || fail "tail batch: --batch 5 and --batch 1 disagree: $(cat b5.json) / $(cat b1.json)"

# ---- the same windows as training's eval give the same loss
M eval --model run --data data --threads 2 --json --batch 4 --seq-len 16 --max-batches 2 >same.json 2>/dev/null ||
    fail "eval --batch 4 --max-batches 2"
$PY python3 -c '
import json
val = [json.loads(l) for l in open("train.jsonl")]
val = [l for l in val if l.get("split") == "val"]
assert val and val[-1]["step"] == 30, val
t, e = val[-1], json.load(open("same.json"))
assert e["windows"] == 8, e
assert abs(t["loss"] - e["loss"]) <= 1e-4, (t, e)
for a, b in zip(t["head_losses"], e["heads"]):
    assert abs(a - b["loss"]) <= 1e-4, (t, e)
' || fail "eval and train --eval-every disagree: $(grep val train.jsonl | tail -n 1) / $(cat same.json)"

# ---- the table: one row per head and the sum
M eval --model run/step_00000030 --data data --threads 2 >table.txt 2>/dev/null || fail "eval (table)"
grep -Eq '^1 +t\+1 ' table.txt && grep -Eq '^2 +t\+2 ' table.txt && grep -Eq '^sum ' table.txt ||
    fail "table: $(cat table.txt)"

# ---- bad input: non-zero exit and one line on stderr that names the problem
# expect_error NAME PATTERN ARGS...: mtp eval ARGS fails with one stderr line matching PATTERN
expect_error() {
    local name=$1 pattern=$2
    shift 2
    M eval "$@" >out.txt 2>err.txt
    local rc=$?
    [ $rc -ne 0 ] || fail "$name: exit 0"
    [ $rc -lt 128 ] || fail "$name: crashed (exit $rc)"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "$name: expected one line on stderr, got: $(cat err.txt)"
    grep -Eq -e "$pattern" err.txt || fail "$name: stderr does not match '$pattern': $(cat err.txt)"
    grep -q '^mtp eval: ' err.txt || fail "$name: stderr does not start with 'mtp eval: ': $(cat err.txt)"
}
expect_error "missing model" "no_such_run" --model no_such_run --data data
expect_error "missing data" "no_such_data" --model run --data no_such_data
mkdir -p trainonly && cp data/train_*.bin data/tokenizer.json trainonly/
expect_error "no val shards" "val_\*\.bin" --model run --data trainonly
expect_error "seq-len past the context" "--seq-len 17.*context of 16" --model run --data data --seq-len 17
# a val shard (llm.c format, uint16) holding token 300 >= the byte model's 257
mkdir -p badvocab
$PY python3 -c '
import struct
toks = [i % 200 for i in range(100)] + [300] + [5] * 100
hdr = [20240520, 1, len(toks)] + [0] * 253
open("badvocab/val_000000.bin", "wb").write(struct.pack("<256i", *hdr) + struct.pack("<%dH" % len(toks), *toks))
' || fail "writing the bad shard"
expect_error "token id >= vocab" "token id 300.*vocabulary has 257" --model run --data badvocab
expect_error "no model flag" "--model is required" --data data
expect_error "bad --batch" "--batch '0'" --model run --data data --batch 0
expect_error "unknown flag" "unknown flag '--bogus'" --model run --data data --bogus
M eval --model run --data data --batch 0 >/dev/null 2>&1
[ $? -eq 2 ] || fail "a usage error should exit 2"
M eval --model no_such_run --data data >/dev/null 2>&1
[ $? -eq 1 ] || fail "a bad model should exit 1"

if [ $fails -ne 0 ]; then
    echo "$fails failure(s)"
    exit 1
fi
echo "all eval checks passed"
