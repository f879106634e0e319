#!/usr/bin/env bash
# mtp eval-code end to end. On a three-task toy set in HumanEval's format: a
# mixed samples file (passing, failing, timing out) gives exactly the pass@k
# of the unbiased estimator, checked against an enumeration of subsets in
# Python; the results do not depend on --jobs; a k above the samples per task
# is left out; the --model path runs with a tiny trained model and keeps its
# completions in --results before the programs run (a run stopped then loses
# none); one clear
# error per kind of bad input. With the real HumanEval and MBPP files of
# $MTP_DATA: the canonical solutions pass (pass@1 = 1), mutated ones fail
# (pass@1 = 0), and a mixed file scores as the estimator says. Without
# python3: skip; without $MTP_DATA: the toy checks, then skip (77).
set -u
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "skip: python3 not found (eval-code needs it)"; exit 77; }
py() { python3 -c "$@"; }
EC() { M eval-code "$@"; }
TOY="--benchmark humaneval --data toy.jsonl"

# ---- the toy set ----
py '
import json
tasks = [("add", "a, b", "Return a + b.", "    return a + b\n",
          ["candidate(2, 3) == 5", "candidate(-1, 1) == 0"]),
         ("is_even", "n", "True if n is even.", "    return n % 2 == 0\n", ["candidate(4)", "not candidate(7)"]),
         ("rev", "s", "s reversed.", "    return s[::-1]\n",
          ["candidate(\"abc\") == \"cba\"", "candidate(\"\") == \"\""])]
with open("toy.jsonl", "w") as f:
    for i, (name, args, doc, body, asserts) in enumerate(tasks):
        test = "\n\ndef check(candidate):\n" + "".join("    assert %s\n" % a for a in asserts)
        prompt = "def %s(%s):\n    \"\"\"%s\"\"\"\n" % (name, args, doc)
        f.write(json.dumps({"task_id": "Toy/%d" % i, "prompt": prompt, "canonical_solution": body, "test": test,
                            "entry_point": name}) + "\n")
wrong = {0: ["    return a - b\n", "    return None\n", "    raise ValueError(\"no\")\n"],
         1: ["    return True\n", "    while True:\n        pass\n", "    return n % 2\n",
             "    import os\n    os._exit(3)\n", "    return not n\n"],
         2: ["    return s\n"]}
right = {0: 2, 1: 0, 2: 4}
with open("mixed.jsonl", "w") as f:
    for i, body in [(0, "    return a + b\n"), (1, None), (2, "    return s[::-1]\n")]:
        lines = [body] * right[i] + wrong[i]
        for c in lines:
            f.write(json.dumps({"task_id": "Toy/%d" % i, "completion": c}) + "\n")
'
# the estimator by enumeration: n = 5 per task, c = 2, 0, 4
expect() {
    py "
import itertools, json, sys
got = json.loads(sys.argv[1])
for k in $1:
    want = sum(sum(any(s < c for s in sub) for sub in itertools.combinations(range(5), k)) /
               sum(1 for _ in itertools.combinations(range(5), k)) for c in (2, 0, 4)) / 3
    assert abs(got['pass@%d' % k] - want) < 1e-12, (k, got, want)
assert got['tasks'] == 3 and got['samples'] == 15 and got['passed'] == 6 and got['timed_out'] == 1, got
assert set(got) - {'pass@%d' % k for k in $1} == {'tasks', 'samples', 'passed', 'timed_out', 'benchmark'}, got
" "$2"
}
j1=$(EC $TOY --samples mixed.jsonl --k 1,2,5 --timeout 1 --jobs 1 \
    --results r1.jsonl --json 2>err1.txt) || fail "mixed samples, --jobs 1: $(cat err1.txt)"
expect "(1, 2, 5)" "$j1" || fail "mixed samples: pass@k differs from the enumeration: $j1"
j2=$(EC $TOY --samples mixed.jsonl --k 1,2,5 --timeout 1 --jobs 3 \
    --results r2.jsonl --json 2>/dev/null) || fail "mixed samples, --jobs 3"
[ "$j1" = "$j2" ] || fail "--jobs 3 gives $j2, --jobs 1 $j1"
cmp -s r1.jsonl r2.jsonl || fail "--results differ between --jobs 1 and --jobs 3"
grep -q "sandbox:" err1.txt || fail "no sandbox description on stderr: $(cat err1.txt)"
py '
import json
rows = [json.loads(l) for l in open("r1.jsonl")]
assert len(rows) == 15 and sum(r["passed"] for r in rows) == 6, rows
assert [r["result"] for r in rows if r["result"].startswith("timed")] == ["timed out"], rows
assert any("ValueError: no" in r["result"] for r in rows), rows
assert any("exit status 3" in r["result"] for r in rows), rows
assert all("mtp-sandbox" not in r["result"] for r in rows), rows
' || fail "--results rows: $(head -c 600 r1.jsonl)"
# a completion that exits with status 0 before the tests (sys.exit, exit(), SystemExit, os._exit)
# fails, as in HumanEval's own harness (it passed: the program's status was all that counted); so
# does one holding a NUL byte, which Python refuses in source (it was cut there and passed); a
# pass after 200 kB of output (past what is kept of it) still passes
py '
import json
bodies = ["    import sys\n    sys.exit(0)\n", "    exit()\n", "    raise SystemExit\n",
          "    import os\n    os._exit(0)\n", "    return a + b\n    # \u0000 then anything (((\n",
          "    print(\"x\" * 200000)\n    return a + b\n", "    return a + b\n"]
with open("exits.jsonl", "w") as f:
    for b in bodies:
        f.write(json.dumps({"task_id": "Toy/0", "completion": b}) + "\n")
'
j=$(EC $TOY --samples exits.jsonl --max-tasks 1 --k 1 --timeout 5 --results exits_r.jsonl --json 2>err.txt) ||
    fail "exits: $(cat err.txt)"
py 'import json, sys
j = json.loads(sys.argv[1])
assert j["samples"] == 7 and j["passed"] == 2, j
r = [json.loads(l)["result"] for l in open("exits_r.jsonl")]
assert r[:4] == ["failed: exited with status 0 before its tests had run"] * 4, r
assert "NUL" in r[4] and r[5:] == ["passed", "passed"], r' "$j" || fail "exits and NUL: $j $(cat exits_r.jsonl)"

# a results file is a samples file
j3=$(EC $TOY --samples r1.jsonl --k 1,2,5 --timeout 1 --json 2>/dev/null)
[ "$j3" = "$j1" ] || fail "re-scoring the --results file: $j3"
# k above the samples per task: left out with a note; the default k list is cut silently
j=$(EC $TOY --samples mixed.jsonl --k 1,10 --timeout 1 --json 2>err.txt)
[[ "$j" == *'"pass@1"'* && "$j" != *'pass@10'* ]] || fail "--k 1,10 with 5 samples: $j"
grep -q "pass@10 left out" err.txt || fail "no note for the left-out k: $(cat err.txt)"
EC $TOY --samples mixed.jsonl --timeout 1 >table.txt 2>err.txt ||
    fail "table output: $(cat err.txt)"
grep -q "^pass@1 *0.4000$" table.txt && grep -q "^tasks *3$" table.txt && ! grep -q "pass@10" table.txt ||
    fail "table: $(cat table.txt)"

# ---- the --model path, with a tiny model (its completions are garbage) ----
# --threads 1: OpenMP threads waiting on each other cost a time slice per
# parallel region when another process holds a core, seconds for this model.
mkdir corpus
for i in $(seq 1 200); do
    echo "line $i: the quick brown fox $((i % 7)) jumps over the lazy dog $((i % 3))."
done >corpus/a.txt
M prepare --quiet --out data --val-fraction 0.1 corpus >/dev/null 2>&1 || fail "prepare"
M train --data data --out run --n-layer 3 --n-future 2 --dim 32 --n-head 4 --seq-len 64 --batch 4 --steps 10 \
    --lr 3e-3 --eval-every 0 --threads 1 >/dev/null 2>&1 || fail "train"
j=$(EC $TOY --model run --threads 1 --samples-per-task 2 --max-new 24 --k 1,2 \
    --timeout 2 --results m1.jsonl --json 2>err.txt) || fail "--model: $(cat err.txt)"
py 'import json, sys; j = json.loads(sys.argv[1]); assert j["pass@1"] == 0 and j["samples"] == 6, j' "$j" ||
    fail "--model: $j"
grep -q "kept only their last tokens" err.txt || fail "--model: no note on prompts cut: $(cat err.txt)"
EC $TOY --model run --threads 1 --samples-per-task 2 --max-new 24 --k 1,2 \
    --timeout 2 --results m2.jsonl --json --jobs 1 >/dev/null 2>&1 || fail "--model again"
cmp -s m1.jsonl m2.jsonl || fail "--model: completions differ between runs with the same seed"
# MBPP's split prompt holds tasks 2-4, the three-shot prompt's worked examples: said on stderr
py '
import json
with open("mb.jsonl", "w") as f:
    for n in (1, 2, 3, 4, 5, 11):
        f.write(json.dumps({"task_id": n, "text": "Return %d." % n, "code": "def f():\n    return %d\n" % n,
                            "test_list": ["assert f() == %d" % n], "test_setup_code": "",
                            "challenge_test_list": []}) + "\n")
'
for split in prompt test; do
    EC --benchmark mbpp --data mb.jsonl --split $split --model run --threads 1 --max-new 4 --k 1 --timeout 2 \
        >/dev/null 2>err_$split.txt || fail "MBPP --split $split --model: $(cat err_$split.txt)"
done
grep -q "3 tasks of split prompt (of 2, 3, 4) are the three-shot prompt's worked examples" err_prompt.txt ||
    fail "MBPP --split prompt: no note on the worked examples: $(cat err_prompt.txt)"
grep -q "worked examples" err_test.txt && fail "MBPP --split test: a note on worked examples: $(cat err_test.txt)"

# the completions are in --results before any program runs: a run stopped while its programs run
# (one task whose test sleeps; the greedy completion lands inside a string, so the program runs
# whatever the tiny model writes) keeps them, ready for --samples
py '
import json
test = "\\n\"\"\"\nimport time\ntime.sleep(20)\n\ndef check(candidate):\n    pass\n"
prompt = "def f(x):\n    return x\n\nNOTE = \"\"\"line 3: the"
with open("slow.jsonl", "w") as f:
    f.write(json.dumps({"task_id": "Slow/0", "prompt": prompt, "canonical_solution": " quick",
                        "test": test, "entry_point": "f"}) + "\n")
'
"$MTP" eval-code --benchmark humaneval --data slow.jsonl --model run --threads 1 --samples-per-task 2 --max-new 16 --temperature 0 \
    --timeout 60 --results m3.jsonl >/dev/null 2>err.txt &
job=$!
for _ in $(seq 1 300); do [ -s m3.jsonl ] && break; sleep 0.1; done
kill -TERM $job 2>/dev/null
wait $job 2>/dev/null && fail "--model, stopped while testing: exited 0"
py '
import json
rows = [json.loads(l) for l in open("m3.jsonl")]
assert len(rows) == 2 and all(r["task_id"] == "Slow/0" and "completion" in r for r in rows), rows
assert all("passed" not in r for r in rows), rows
' || fail "--model, stopped while testing: the completions were not kept: $(cat m3.jsonl err.txt 2>&1 | head -5)"
for s in 0 1; do
    EC $TOY --model run --threads 1 --temperature 0 --max-new 24 --timeout 2 \
        --speculative $s --results g$s.jsonl >/dev/null 2>&1 || fail "--model greedy, --speculative $s"
done
cmp -s g0.jsonl g1.jsonl || fail "--model: greedy completions differ with and without speculation"
py '
import json
for l in open("m1.jsonl"):
    c = json.loads(l)["completion"]
    assert not any(s in c for s in ("\nclass", "\ndef", "\n#", "\nif", "\nprint")), c
' || fail "--model: a completion contains a stop sequence"

# ---- bad input: one line on stderr, non-zero exit ----
E() { expect_error "$@"; }
echo '{"task_id": "Toy/9", "completion": "x"}' >unknown.jsonl
E "unknown task_id" "Toy/9" -- EC $TOY --samples unknown.jsonl
echo '{"task_id": "Toy/0"}' >nocompletion.jsonl
E "missing completion" "completion" -- EC $TOY --samples nocompletion.jsonl
echo 'not json' >badline.jsonl
E "bad samples line" "badline.jsonl:1" -- EC $TOY --samples badline.jsonl
echo '{"task_id": "Toy/0", "completion": "x"} {"task_id": "Toy/0", "completion": "y"}' >twoline.jsonl
E "two samples on a line" "twoline.jsonl:1" -- EC $TOY --samples twoline.jsonl
head -n 1 mixed.jsonl >partial.jsonl
E "task without samples" "no completion for task Toy/1" -- \
    EC $TOY --samples partial.jsonl
E "--k 0" "--k" -- EC $TOY --samples mixed.jsonl --k 0
E "--k junk" "--k" -- EC $TOY --samples mixed.jsonl --k 1,x
E "every k too large" "every k exceeds" -- \
    EC $TOY --samples mixed.jsonl --k 10
E "--samples and --model" "not both" -- \
    EC $TOY --samples mixed.jsonl --model run
E "neither --samples nor --model" "--model" -- EC $TOY
E "sampling flag with --samples" "need --model" -- \
    EC $TOY --samples mixed.jsonl --temperature 0.2
E "unknown benchmark" "--benchmark" -- M eval-code --benchmark apps --data toy.jsonl --samples mixed.jsonl
E "missing --data" "--data" -- M eval-code --benchmark humaneval --samples mixed.jsonl
E "missing data file" "nope.jsonl" -- M eval-code --benchmark humaneval --data nope.jsonl --samples mixed.jsonl
gzip -k toy.jsonl  # the .gz as distributed reads as the file itself
[ "$(EC $TOY.gz --samples mixed.jsonl --k 1,2,5 --timeout 1 --json 2>/dev/null)" = "$j1" ] ||
    fail "--data toy.jsonl.gz scores differently from toy.jsonl"
printf '\x1f\x8b\x08\x00broken' >broken.gz
E "damaged gzip data" "broken.gz" -- EC --benchmark humaneval --data broken.gz --samples mixed.jsonl
E "wrong benchmark for the file" "task_id" -- EC --benchmark mbpp --data toy.jsonl --samples mixed.jsonl
E "HumanEval split" "--split" -- \
    EC $TOY --samples mixed.jsonl --split validation
E "interpreter" "/nonexistent/python3" -- \
    EC $TOY --samples mixed.jsonl --python /nonexistent/python3
E "unknown flag" "--frobnicate" -- M eval-code --frobnicate
if [ "$(id -u)" = 0 ] && getent passwd 65534 >/dev/null; then
    E "sandbox uid of an account" "--sandbox-uid" -- \
        EC $TOY --samples mixed.jsonl --sandbox-uid 65534
fi
M eval-code --help | grep -q "pass@k" || fail "--help"

# ---- the real benchmarks ----
HE=${MTP_DATA:-/nonexistent}/humaneval/HumanEval.jsonl.gz
MB=${MTP_DATA:-/nonexistent}/mbpp
if [ ! -f "$HE" ] || [ ! -f "$MB/mbpp.jsonl" ] || [ ! -f "$MB/sanitized-mbpp.json" ]; then
    [ "$fails" -ne 0 ] && finish eval-code
    echo "skip: the toy checks passed; no HumanEval/MBPP under MTP_DATA=${MTP_DATA:-} for the real ones"
    exit 77
fi
gunzip -c "$HE" >he.jsonl
# canonical: every solution; mutated: "return None" for HumanEval, for MBPP the
# tested function redefined to return None after the canonical code; mixed:
# task i of the first 10 has min(i % 5, 4) canonical completions of 4.
py '
import json, re, sys
he = [json.loads(l) for l in open("he.jsonl")]
mb = [json.loads(l) for l in open(sys.argv[1] + "/mbpp.jsonl")]
san = json.load(open(sys.argv[1] + "/sanitized-mbpp.json"))
def dump(path, rows):
    with open(path, "w") as f:
        for r in rows: f.write(json.dumps(r) + "\n")
dump("he_canon.jsonl", [{"task_id": p["task_id"], "completion": p["canonical_solution"]} for p in he])
dump("he_none.jsonl", [{"task_id": p["task_id"], "completion": "    return None\n"} for p in he])
mixed = []
for i, p in enumerate(he[:10]):
    c = min(i % 5, 4)
    mixed += [{"task_id": p["task_id"], "completion": p["canonical_solution"] if j < c else "    return None\n"}
              for j in range(4)]
dump("he_mixed.jsonl", mixed)
def mutate(p):
    names = [n for n in re.findall(r"def\s+(\w+)", p["code"]) if n in p["test_list"][0]]
    return p["code"] + "\n\ndef %s(*args, **kwargs):\n    return None\n" % names[-1]
dump("mb_canon.jsonl", [{"task_id": p["task_id"], "completion": p["code"]} for p in mb])
dump("mb_none.jsonl", [{"task_id": p["task_id"], "completion": mutate(p)} for p in mb])
dump("san_canon.jsonl", [{"task_id": "Mbpp/%d" % p["task_id"], "completion": p["code"]} for p in san])
' "$MB" || fail "making the samples files"
# exactly $3 in pass@1, $2 tasks
check() {
    py "import json, sys; j = json.loads(sys.argv[1]); assert j['pass@1'] == $3 and j['tasks'] == $2, j" "$4" ||
        fail "$1: $4"
}
run() { EC "$@" --max-tasks 40 --jobs 2 --json 2>err.txt || fail "eval-code $*: $(cat err.txt)"; }
check "HumanEval canonical" 40 1 "$(run --benchmark humaneval --data he.jsonl --samples he_canon.jsonl)"
grep -q "ignored 124 completion" err.txt || fail "no note on the samples beyond --max-tasks: $(cat err.txt)"
check "HumanEval.jsonl.gz as distributed" 40 1 "$(run --benchmark humaneval --data "$HE" --samples he_canon.jsonl)"
check "HumanEval return None" 40 0 "$(run --benchmark humaneval --data he.jsonl --samples he_none.jsonl)"
check "MBPP canonical" 40 1 "$(run --benchmark mbpp --data "$MB/mbpp.jsonl" --samples mb_canon.jsonl)"
check "MBPP redefined to return None" 40 0 \
    "$(run --benchmark mbpp --data "$MB/mbpp.jsonl" --samples mb_none.jsonl)"
check "sanitized MBPP canonical" 40 1 \
    "$(run --benchmark mbpp --data "$MB/sanitized-mbpp.json" --samples san_canon.jsonl)"
j=$(EC --benchmark mbpp --data "$MB/mbpp.jsonl" --model run --threads 1 --max-tasks 2 --max-new 16 --json \
    2>err.txt) || fail "MBPP --model: $(cat err.txt)"
check "MBPP --model (three-shot prompts)" 2 0 "$j"
j=$(EC --benchmark humaneval --data he.jsonl --samples he_mixed.jsonl --max-tasks 10 --k 1,2,4 --json 2>err.txt)
py '
import json, sys
from math import comb
j = json.loads(sys.argv[1])
for k in (1, 2, 4):
    want = sum(1 - comb(4 - min(i % 5, 4), k) / comb(4, k) for i in range(10)) / 10
    assert abs(j["pass@%d" % k] - want) < 1e-12, (k, j, want)
' "$j" || fail "HumanEval mixed: $j $(cat err.txt)"
finish eval-code
