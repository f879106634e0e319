#!/usr/bin/env bash
# mtp task poly and mtp eval-gen end to end. task poly: every answer checked
# by an independent Python evaluator (tests/poly_oracle.py), files the same
# for the same seed, test items per m independent of the --m-eval range,
# pause marks, no test question in the training text even where collisions
# are likely, bad flags. eval-gen: on a tiny trained model, a JSONL whose
# answers are the model's own greedy outputs (from mtp generate) scores
# exactly 1, a corrupted copy 0, a mixed one 1 and 0 per group, plain and
# speculative decoding agree; one clear error per kind of bad input.
set -u
TESTS=$(cd "$(dirname "$0")" && pwd)
source "$TESTS/lib.sh"
# one thread: the model is tiny, and spinning OpenMP threads on a busy machine cost seconds
export OMP_NUM_THREADS=1
command -v python3 >/dev/null || { echo "skip: python3 needed for the oracle"; exit 77; }
PY() { /usr/bin/env python3 "$@"; }
oracle() { PY "$TESTS/poly_oracle.py" "$@"; }
j() { PY -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# ---- task poly ---------------------------------------------------------------
flags=(--train-examples 3000 --test-per-m 40 --m-eval 1-8 --seed 3)
M task poly --out poly "${flags[@]}" >summary.txt 2>err.txt || fail "task poly: $(cat err.txt)"
grep -q "3000 examples" summary.txt || fail "task poly summary: $(cat summary.txt)"
[ -s poly/README.txt ] || fail "task poly wrote no README.txt"
oracle poly --m-train 1-5 --m-eval 1-8 --test-per-m 40 >oracle.json || fail "oracle disagrees with task poly"
[ "$(j '["overlap"]' <oracle.json)" = 0 ] || fail "test questions in train.txt: $(cat oracle.json)"
M task poly --out again "${flags[@]}" >/dev/null || fail "task poly again"
cmp -s poly/train.txt again/train.txt && cmp -s poly/test.jsonl again/test.jsonl ||
    fail "task poly: the same seed gave different files"
M task poly --out other --train-examples 3000 --test-per-m 40 --m-eval 1-8 --seed 4 >/dev/null || fail "seed 4"
cmp -s poly/test.jsonl other/test.jsonl && fail "task poly: seeds 3 and 4 gave the same test set"
M task poly --out narrow --train-examples 10 --test-per-m 40 --m-eval 2-3 --seed 3 >/dev/null || fail "narrow"
[ "$(grep '"m": 2}' poly/test.jsonl)" = "$(grep '"m": 2}' narrow/test.jsonl)" ] ||
    fail "the m=2 test items depend on the --m-eval range"
M task poly --out paused --train-examples 500 --test-per-m 10 --m-train 2-3 --m-eval 4-5 --pause 5 \
    >/dev/null || fail "task poly --pause 5"
oracle paused --pause 5 --m-train 2-3 --m-eval 4-5 --test-per-m 10 >/dev/null || fail "oracle on --pause 5"
grep -q '\.\.\.\.\.=' paused/train.txt || fail "--pause 5: no pause marks in train.txt"
# m = 1 only: a quarter of the questions are negations of one of 16807 polynomials, so
# about 150 training draws hit the 2000 test questions and must be redrawn
M task poly --out dense --m-train 1-1 --m-eval 1-1 --test-per-m 2000 --train-examples 20000 >dense.txt ||
    fail "task poly dense"
redrawn=$(sed -n 's/.*; \([0-9]*\) training draws.*/\1/p' dense.txt)
[ "${redrawn:-0}" -gt 20 ] || fail "dense: expected many redrawn training draws, summary: $(cat dense.txt)"
oracle dense --m-train 1-1 --m-eval 1-1 --test-per-m 2000 >dense.json || fail "oracle on the dense set"
for h in "task" "task poly" "eval-gen"; do
    # shellcheck disable=SC2086
    M $h --help | grep -q "usage" || fail "mtp $h --help"
done
expect_error "task without a task" "poly or induction" -- M task
expect_error "unknown task" "unknown subcommand" -- M task nope
expect_error "task poly without --out" "--out" -- M task poly
expect_error "m-train 0" "--m-train" -- M task poly --out x --m-train 0-3
expect_error "m-train reversed" "--m-train" -- M task poly --out x --m-train 5-2
expect_error "m-eval too large" "--m-eval" -- M task poly --out x --m-eval 1-65
expect_error "negative pause" "--pause" -- M task poly --out x --pause -1
expect_error "unknown flag" "--bogus" -- M task poly --out x --bogus
touch file && expect_error "out is a file" "file" -- M task poly --out file

# ---- a tiny model on the task's text -----------------------------------------
M prepare --quiet --out data --val-fraction 0.1 poly/train.txt >/dev/null 2>&1 || fail "prepare"
M train --data data --out run --n-layer 3 --n-future 2 --dim 32 --n-head 4 --seq-len 64 --batch 8 \
    --steps 100 --lr 3e-3 --eval-every 0 --threads 1 >/dev/null 2>&1 || fail "train"

# ---- eval-gen on the test set: runs, counts groups ---------------------------
M eval-gen --model run --data poly/test.jsonl --max-items 80 --max-new 8 --threads 1 --json --quiet >res.json ||
    fail "eval-gen on test.jsonl"
PY -c '
import json, sys
r = json.load(open("res.json"))
assert r["items"] == 80, r
assert list(r["groups"]) == ["m=1", "m=2"], r
assert all(g["n"] == 40 for g in r["groups"].values()), r
assert 0 <= r["accuracy"] <= 1
assert r["correct"] == sum(g["correct"] for g in r["groups"].values()), r
' || fail "eval-gen --json on test.jsonl: $(cat res.json)"
gzip -c poly/test.jsonl >test.jsonl.gz  # a gzip-compressed file reads as the plain one
M eval-gen --model run --data test.jsonl.gz --max-items 80 --max-new 8 --threads 1 --json --quiet >res_gz.json ||
    fail "eval-gen on test.jsonl.gz"
cmp -s res.json res_gz.json || fail "eval-gen on test.jsonl.gz: $(cat res_gz.json) / $(cat res.json)"

# ---- answers that are right by construction: the model's own greedy outputs ------
: >right.jsonl
for i in 1 2 3 41 42 43; do
    p=$(sed -n "${i}p" poly/test.jsonl | j '["prompt"]')
    M generate --model run --prompt "$p" --max-new 8 --threads 1 --speculative 0 --stop $'\n' --json >gen.json ||
        fail "generate '$p'"
    g=a && [ "$i" -gt 40 ] && g=b
    PY -c '
import json, sys
p, g = sys.argv[1], sys.argv[2]
t = json.load(open("gen.json"))["text"]
print(json.dumps({"prompt": p, "answer": t, "group": g}))' "$p" "$g" >>right.jsonl
done
# one more without a group: counted overall only
M generate --model run --prompt "(" --max-new 8 --threads 1 --speculative 0 --stop $'\n' --json >gen.json
PY -c 'import json; print(json.dumps({"prompt": "(", "answer": json.load(open("gen.json"))["text"]}))' \
    >>right.jsonl
# padded: blanks around every answer; wrong: every answer corrupted; mixed: group a's; rotated: each item gets the next
# one's answer, so exactly the items whose neighbour generated the same text are right
PY -c '
import json
items = [json.loads(l) for l in open("right.jsonl")]
with open("wrong.jsonl", "w") as w, open("mixed.jsonl", "w") as m, open("rotated.jsonl", "w") as r, \
        open("padded.jsonl", "w") as p:
    for i, it in enumerate(items):
        p.write(json.dumps(dict(it, answer=" \t" + it["answer"] + "\r\n ")) + "\n")  # blanks trimmed
        bad = dict(it, answer=it["answer"] + "Z")
        w.write(json.dumps(bad) + "\n")
        m.write(json.dumps(bad if it.get("group") == "a" else it) + "\n\n")  # blank lines are skipped
        r.write(json.dumps(dict(it, answer=items[(i + 1) % len(items)]["answer"])) + "\n")
print(sum(it["answer"] == items[(i + 1) % len(items)]["answer"] for i, it in enumerate(items)))
' >rotated_right.txt
check() {  # check FILE PYTHON-CONDITION [flags]: eval-gen --json on FILE satisfies the condition on r
    local file=$1 cond=$2
    shift 2
    M eval-gen --model run --data "$file" --max-new 8 --threads 1 --json --quiet "$@" >r.json 2>err.txt ||
        { fail "eval-gen $file $*: $(cat err.txt)"; return; }
    PY -c "import json; r = json.load(open('r.json')); g = r['groups']; assert $cond" ||
        fail "eval-gen $file $*: $cond: $(cat r.json)"
}
check right.jsonl 'r["accuracy"] == 1.0 and r["items"] == 7 and g["a"]["n"] == 3 and g["b"]["n"] == 3'
check right.jsonl 'r["accuracy"] == 1.0 and r["items"] == 7' --speculative 1
check right.jsonl 'r["items"] == 2 and r["correct"] == 2' --max-items 2
check padded.jsonl 'r["accuracy"] == 1.0'
check wrong.jsonl 'r["accuracy"] == 0.0 and r["items"] == 7 and g["a"]["accuracy"] == 0.0'
check rotated.jsonl "r['correct'] == $(cat rotated_right.txt) and r['items'] == 7"
check mixed.jsonl 'g["b"] == {"accuracy": 1.0, "correct": 3, "n": 3} and g["a"]["accuracy"] == 0.0 and r["correct"] == 4'
# a stop string of two bytes (two tokens), the last pair of the full 8-token generation
# that occurs nowhere before: the answer is the text before it
M generate --model run --prompt "(" --max-new 8 --threads 1 --speculative 0 --json >gen.json
PY -c '
import json
t = json.load(open("gen.json"))["text"]
k = next((k for k in range(len(t) - 2, 0, -1) if t.find(t[k:k + 2]) == k), 0)
stop = t[k:k + 2] if len(t) >= 2 else "\x01"
open("stop.txt", "w").write(stop)
with open("stop.jsonl", "w") as f:
    f.write(json.dumps({"prompt": "(", "answer": t[:k], "group": "cut"}) + "\n")
    f.write(json.dumps({"prompt": "(", "answer": t, "group": "full"}) + "\n")  # runs past the stop
'
check stop.jsonl 'g["cut"]["correct"] == 1 and g["full"]["correct"] == 0' --stop "$(cat stop.txt)"
M eval-gen --model run --data mixed.jsonl --max-new 8 --threads 1 >table.txt 2>progress.txt || fail "eval-gen table"
grep -q '^| a | 3 | 0 | 0.0000 |$' table.txt && grep -q '^| b | 3 | 3 | 1.0000 |$' table.txt &&
    grep -q '^| all | 7 | 4 | 0.5714 |$' table.txt || fail "eval-gen table: $(cat table.txt)"
grep -q "eval-gen" progress.txt || fail "eval-gen printed no progress: $(cat progress.txt)"

# ---- bad input: one line on stderr each ---------------------------------------
echo '{"prompt": "(1"}' >noanswer.jsonl
expect_error "missing answer" 'noanswer.jsonl:1: no "answer"' -- M eval-gen --model run --data noanswer.jsonl
printf '{"prompt": "a", "answer": "b"}\n{"prompt": "a", \n' >badjson.jsonl
expect_error "bad JSON" "badjson.jsonl:2: not valid JSON" -- M eval-gen --model run --data badjson.jsonl
echo '[1, 2]' >array.jsonl
expect_error "not an object" "array.jsonl:1" -- M eval-gen --model run --data array.jsonl
echo '{"prompt": "a", "answer": 5}' >number.jsonl
expect_error "answer not a string" '"answer" must be a string' -- M eval-gen --model run --data number.jsonl
echo '{"prompt": "a", "answer": "b", "group": 3}' >group.jsonl
expect_error "group not a string" '"group" must be a string' -- M eval-gen --model run --data group.jsonl
: >empty.jsonl
expect_error "empty file" "no items" -- M eval-gen --model run --data empty.jsonl
printf '\n  \n' >blank.jsonl
expect_error "blank file" "no items" -- M eval-gen --model run --data blank.jsonl
long=$(head -c 200 /dev/zero | tr '\0' '1')
printf '{"prompt": "a", "answer": "b"}\n{"prompt": "%s", "answer": "b"}\n' "$long" >long.jsonl
expect_error "prompt longer than the context" "long.jsonl:2: the prompt is 200 tokens, the model's context 64" -- \
    M eval-gen --model run --data long.jsonl
expect_error "missing data file" "nowhere.jsonl" -- M eval-gen --model run --data nowhere.jsonl
expect_error "missing model" "nomodel" -- M eval-gen --model nomodel --data right.jsonl
expect_error "too many drafting heads" "--speculative" -- M eval-gen --model run --data right.jsonl --speculative 2
expect_error "no --data" "--data" -- M eval-gen --model run
expect_error "bad --max-new" "--max-new" -- M eval-gen --model run --data right.jsonl --max-new 0

finish eval-gen
