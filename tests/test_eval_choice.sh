#!/usr/bin/env bash
# mtp eval-choice end to end: a tiny model memorizes three sentences; items
# whose right choice is the memorized continuation and whose others are random
# characters must all be answered right (accuracy and accuracy_norm 1.0), in
# the multiple-choice and schema (Winogrande) JSONL forms and in HellaSwag's
# 6-line text form; format detection, --max-items, the Eval Gauntlet's files
# when the shared data is there (completion and QA sets refused), and one
# stderr line and a non-zero exit for each kind of bad input.
set -u
source "$(dirname "$0")/lib.sh"
export OMP_NUM_THREADS=1
PY="/usr/bin/env python3"

mkdir corpus
for i in $(seq 1 60); do
    echo "the cat sat on the mat and looked at the red ball."
    echo "a small dog ran to the park to play with his friend."
    echo "we like to eat green apples under the big old tree."
done >corpus/a.txt
M prepare --quiet --out data --val-fraction 0.1 corpus >/dev/null 2>&1 || fail "prepare"
M train --data data --out run --n-layer 3 --n-future 2 --dim 32 --n-head 4 --seq-len 64 --batch 8 --steps 200 \
    --lr 1e-2 --eval-every 0 --threads 1 >/dev/null 2>&1 || fail "train"

# items: the memorized continuation against random characters of the same length
$PY - <<'EOF' || fail "writing items"
import json, random
rng = random.Random(5)
pairs = [("the cat sat on the", "mat and looked at"), ("a small dog ran to the", "park to play"),
         ("we like to eat green", "apples under the big"), ("and looked at the", "red ball."),
         ("to play with his", "friend.")]
def noise(n):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ,.;!?#@%&*0123456789QXZ") for _ in range(n))
with open("mc.jsonl", "w") as f, open("hs.txt", "w") as h, open("schema.jsonl", "w") as s:
    for k, (q, right) in enumerate(pairs):
        gold = k % 4
        choices = [noise(len(right)) for _ in range(4)]
        choices[gold] = right
        f.write(json.dumps({"query": q, "choices": choices, "gold": gold}) + "\n\n")  # blank lines are skipped
        h.write("%s\n%d\n%s\n" % (q, gold, "\n".join(choices)))
        contexts = [noise(len(q)) for _ in range(3)]
        contexts[k % 3] = q
        s.write(json.dumps({"context_options": contexts, "continuation": right, "gold": k % 3}) + "\n")
EOF

check() {  # check NAME FILE FORMAT KIND ITEMS [flags]: all right, and the report's fields
    local name=$1 file=$2 format=$3 kind=$4 items=$5
    shift 5
    M eval-choice --model run --data "$file" --json "$@" >r.json 2>r.err || { fail "$name: $(cat r.err)"; return; }
    $PY - "$format" "$kind" "$items" <<'EOF' || fail "$name: $(cat r.json)"
import json, sys
r = json.load(open("r.json"))
assert r["accuracy"] == 1.0 and r["accuracy_norm"] == 1.0, r
assert r["items"] == int(sys.argv[3]) and r["correct"] == r["items"] == r["correct_norm"], r
assert r["format"] == sys.argv[1] and r["kind"] == sys.argv[2], r
assert r["truncated"] == 0 and r["tokens"] > 0, r
EOF
}
check "multiple choice" mc.jsonl gauntlet multiple_choice 5
check "schema" schema.jsonl gauntlet schema 5
check "hellaswag" hs.txt hellaswag multiple_choice 5
check "hellaswag, --format" hs.txt hellaswag multiple_choice 5 --format hellaswag
check "--max-items" mc.jsonl gauntlet multiple_choice 2 --max-items 2
M eval-choice --model run --data mc.jsonl >table.txt 2>/dev/null || fail "table output"
grep -q "accuracy_norm  1.0000" table.txt || fail "table: $(cat table.txt)"

# contexts longer than the model's window lose tokens from the left and are counted
$PY -c '
import json
q = "the cat sat on the mat and looked at the red ball. " * 4 + "the cat sat on the"
print(json.dumps({"query": q, "choices": ["zq#x kw!pv 9r&m", "mat and looked at"], "gold": 1}))' >long.jsonl
M eval-choice --model run --data long.jsonl --json >long.json || fail "long context"
$PY -c 'import json; r = json.load(open("long.json")); assert r["truncated"] == 1 and r["accuracy"] == 1, r' ||
    fail "long context: $(cat long.json)"

G=${MTP_DATA:-}/mc_gauntlet
if [ -d "$G" ]; then
    for f in arc_easy copa piqa winogrande boolq; do
        M eval-choice --model run --data "$G/$f.jsonl" --max-items 3 --json >g.json 2>g.err ||
            { fail "$f: $(cat g.err)"; continue; }
        $PY -c 'import json; r = json.load(open("g.json")); assert r["items"] == 3 and 0 <= r["accuracy"] <= 1, r' ||
            fail "$f: $(cat g.json)"
    done
    expect_error "LAMBADA refused" "completion task" -- M eval-choice --model run --data "$G/lambada_openai.jsonl"
    expect_error "TriviaQA refused" "free-answer" -- M eval-choice --model run --data "$G/triviaqa_sm_sub.jsonl"
    expect_error "GSM8K refused" "free-answer" -- M eval-choice --model run --data "$G/gsm8k.jsonl"
    expect_error "bzip2 refused" "bzcat" -- M eval-choice --model run \
        --data "$MTP_DATA/hellaswag/hellaswag_val_full.txt.bz2"
fi

# ---- bad inputs
bad() {  # bad NAME PATTERN CONTENT: a file holding CONTENT must be refused
    printf '%s\n' "$3" >bad.txt
    expect_error "$1" "$2" -- M eval-choice --model run --data bad.txt
}
bad "missing choices" 'missing "choices"' '{"query": "q", "gold": 0}'
bad "missing gold" 'missing "gold"' '{"query": "q", "choices": ["a", "b"]}'
bad "missing query" 'missing "query"' $'{"query": "q", "choices": ["a", "b"], "gold": 0}\n{"choices": ["a", "b"], "gold": 1}'
bad "gold out of range" "out of range" '{"query": "q", "choices": ["a", "b"], "gold": 2}'
bad "negative gold" "out of range" '{"query": "q", "choices": ["a", "b"], "gold": -1}'
bad "fractional gold" "not an integer" '{"query": "q", "choices": ["a", "b"], "gold": 0.5}'
bad "one choice" "at least 2" '{"query": "q", "choices": ["a"], "gold": 0}'
bad "empty choice" "empty" '{"query": "q", "choices": ["a", ""], "gold": 0}'
bad "choices not strings" "not a string" '{"query": "q", "choices": ["a", 3], "gold": 0}'
bad "not JSON" "bad.txt:2" $'{"query": "q", "choices": ["a", "b"], "gold": 0}\n{"query": '
bad "two items on a line" "bad.txt:1" '{"query": "q", "choices": ["a", "b"], "gold": 0}{"query": "x", "choices": ["a"], "gold": 5}'
bad "schema without continuation" "continuation" '{"context_options": ["a", "b"], "gold": 0}'
bad "unknown fields" "no \"query\"" '{"question": "q", "answers": ["a", "b"], "label": 0}'
bad "hellaswag line count" "multiple of 6" $'ctx\n0\na\nb\nc'
bad "hellaswag gold" "bad.txt:2" $'ctx\n7\na\nb\nc\nd'
bad "hellaswag empty ending" "empty" $'ctx\n1\na\n\nc\nd'
: >empty.txt
expect_error "empty file" "empty" -- M eval-choice --model run --data empty.txt
expect_error "gauntlet format on text" "bad.txt:1" -- M eval-choice --model run --data bad.txt --format gauntlet
expect_error "unknown --format" "--format" -- M eval-choice --model run --data mc.jsonl --format csv
expect_error "missing --data" "--data" -- M eval-choice --model run
expect_error "missing file" "nope.jsonl" -- M eval-choice --model run --data nope.jsonl
expect_error "missing model" "nowhere" -- M eval-choice --model nowhere --data mc.jsonl

finish eval-choice
