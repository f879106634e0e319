#!/usr/bin/env bash
# head_types.sh: the head-architecture ablation of the paper's Table S4 on
# code, at CPU scale. Trains byte-level models on the CPython standard
# library with the same total depth L and the same budget: n = 1, and n = 4
# with parallel transformer heads, linear heads (one d x d matrix per head;
# all L blocks are then the trunk), causal heads (head k reads head k-1) and
# anticausal heads (head k reads head k+1). Each model gets its per-head
# loss and top-1 on held-out code, the CPython test suite (mtp eval), its
# tokens per forward and speedup with self-speculative decoding on prompts
# from the test suite (bench-decode, which checks the output equals plain
# decoding), and pass@1 on the first HumanEval tasks (greedy, eval-code).
# A variant whose run finished is reused (delete OUT/<variant> to train it
# again). Writes OUT/results.json, OUT/head_types.png (per-head loss by
# variant).
usage() {
    echo "usage: experiments/head_types.sh [--quick|--full] [--out DIR] [--jobs N] [--seed S]"
    usage_common head_types
    echo "  --seed S     initialization and data-order seed of every model (default 1337, mtp train's)"
}
SEED=1337
args=()
while [ $# -gt 0 ]; do
    case $1 in
    --seed) SEED=${2:?--seed needs a value}; shift 2 ;;
    *) args+=("$1"); shift ;;
    esac
done
source "$(dirname "$0")/lib.sh"
parse_args head_types "${args[@]+"${args[@]}"}"
STDLIB=$DATA/python_code/cpython-3.11.2_stdlib_py.tar.xz
TESTS=$DATA/python_code/cpython-3.11.2_testsuite_py.tar.xz
HUMANEVAL=$DATA/humaneval/HumanEval.jsonl.gz
for f in "$STDLIB" "$TESTS" "$HUMANEVAL"; do
    [ -f "$f" ] || { echo "$0: $f is missing (set MTP_DATA)" >&2; exit 1; }
done

if [ "$MODE" = quick ]; then
    LAYERS=5 DIM=64 HEADS=4 SEQ=64 BATCH=4 STEPS=20 LR=3e-3 PROMPTS=2 MAX_NEW=24 TASKS=1 EVAL_BATCHES=4
else
    LAYERS=8 DIM=192 HEADS=6 SEQ=256 BATCH=8 STEPS=1000 LR=2e-3 PROMPTS=16 MAX_NEW=96 TASKS=40 EVAL_BATCHES=64
fi
# name n head-type head-order
VARIANTS="n1:1:transformer:parallel parallel:4:transformer:parallel linear:4:linear:parallel
causal:4:transformer:causal anticausal:4:transformer:anticausal"

# training data: the standard library (its val split is unused); held-out code: the test suite,
# 90% of its files in the val split of OUT/heldout
if [ ! -f "$OUT/data/train_000000.bin" ]; then
    mkdir -p "$OUT/src"
    tar -xJf "$STDLIB" -C "$OUT/src"
    logged "$OUT/prepare.log" M prepare --quiet --force --tokenizer bytes --glob '*.py' --val-fraction 0.01 \
        --out "$OUT/data" "$OUT/src"
    rm -rf "$OUT/src"
fi
tmp=$(mktemp -d)
tar -xJf "$TESTS" -C "$tmp"
if [ ! -f "$OUT/heldout/val_000000.bin" ]; then
    logged "$OUT/prepare_heldout.log" M prepare --quiet --force --tokenizer bytes --glob 'test_*.py' \
        --val-fraction 0.9 --out "$OUT/heldout" "$tmp"
fi
# prompts: the first 600 bytes of test-suite modules
find "$tmp" -name 'test_*.py' -size +4k | sort | awk 'NR % 37 == 1' | head -n "$PROMPTS" >"$tmp/list"
"$PY" - "$tmp/list" >"$OUT/prompts.jsonl" <<'PY'
import json, sys
for path in open(sys.argv[1]).read().splitlines():
    print(json.dumps({"prompt": open(path, encoding="utf-8", errors="replace").read()[:600]}))
PY
rm -rf "$tmp"

run_variant() { # NAME N TYPE ORDER
    local name=$1 n=$2 type=$3 order=$4 dir=$OUT/$1
    if [ ! -f "$dir/run/step_$(printf %08d "$STEPS")/model.safetensors" ]; then
        rm -rf "$dir"
        mkdir -p "$dir"
        logged "$dir/train.out" M train --data "$OUT/data" --out "$dir/run" --n-layer "$LAYERS" --n-future "$n" \
            --head-type "$type" --head-order "$order" --dim "$DIM" --n-head "$HEADS" --seq-len "$SEQ" \
            --batch "$BATCH" --steps "$STEPS" --lr "$LR" --eval-every 0 --save-every 0 --threads "$THREADS" \
            --seed "$SEED" --log "$dir/train.jsonl"
    fi
    M eval --model "$dir/run" --data "$OUT/heldout" --max-batches "$EVAL_BATCHES" --threads "$THREADS" --json \
        >"$dir/eval.json" 2>"$dir/eval.err" || { tail -3 "$dir/eval.err" >&2; exit 1; }
    if [ "$n" -gt 1 ]; then
        M bench-decode --model "$dir/run" --prompts "$OUT/prompts.jsonl" --max-new "$MAX_NEW" \
            --threads "$THREADS" --json >"$dir/bench.json" 2>"$dir/bench.err" ||
            { tail -3 "$dir/bench.err" >&2; exit 1; }
    fi
    M eval-code --benchmark humaneval --data "$HUMANEVAL" --model "$dir/run" --temperature 0 --max-new 128 \
        --max-tasks "$TASKS" --k 1 --threads "$THREADS" --jobs 1 --results "$dir/humaneval.jsonl" --json \
        >"$dir/humaneval.json" 2>"$dir/humaneval.err" || { tail -3 "$dir/humaneval.err" >&2; exit 1; }
    log "$name done"
}
log "head_types ($MODE): byte-level L=$LAYERS, d=$DIM, $STEPS steps of $BATCH x $SEQ on the CPython stdlib, seed $SEED"
for v in $VARIANTS; do
    IFS=: read -r name n type order <<<"$v"
    job run_variant "$name" "$n" "$type" "$order"
done
jobs_wait

"$PY" - "$OUT" $VARIANTS <<'PY'
import json, sys
out, variants = sys.argv[1], [v.split(":") for v in sys.argv[2:]]
rows = []
for name, n, htype, order in variants:
    d = f"{out}/{name}"
    ev = json.load(open(f"{d}/eval.json"))
    he = json.load(open(f"{d}/humaneval.json"))
    steps = [json.loads(l) for l in open(f"{d}/train.jsonl") if '"step"' in l]
    ms = [s["ms"] for s in steps if "ms" in s]
    row = {"name": name, "n": int(n), "head_type": htype, "head_order": order,
           "head_loss": [h["loss"] for h in ev["heads"]], "head_top1": [h["top1"] for h in ev["heads"]],
           "humaneval_pass@1": he.get("pass@1"), "humaneval_tasks": he.get("tasks"),
           "ms_per_step": sorted(ms)[len(ms) // 2] if ms else None}
    if int(n) > 1:
        b = json.load(open(f"{d}/bench.json"))
        assert b["mismatches"] == 0, f"{name}: speculative output differs from plain"
        by_k = {e["k"]: e for e in b["results"]}
        full = by_k[int(n) - 1]
        row.update(accept_rate=full["accept_rate"], tokens_per_forward=full["tokens_per_forward"],
                   speedup=full["speedup"], forward_cost=full.get("forward_cost"),
                   auto_speedup=by_k["auto"]["speedup"])
    rows.append(row)
json.dump({"variants": rows}, open(f"{out}/results.json", "w"), indent=1)
with open(f"{out}/head_types.dat", "w") as f:
    f.write("head " + " ".join(r["name"] for r in rows) + "\n")
    for k in range(4):
        f.write(f"{k + 1} " + " ".join(f"{r['head_loss'][k]:.4f}" if k < r["n"] else "NaN" for r in rows) + "\n")
print("%-11s %-28s %-23s %6s %6s %6s %7s %9s" % ("variant", "loss by head (nats/byte)", "acceptance heads 2..4",
      "tok/fw", "K=3", "auto", "pass@1", "ms/step"))
for r in rows:
    acc = " ".join("%.2f" % a for a in r.get("accept_rate", []) if a is not None) or "-"
    print("%-11s %-28s %-23s %6s %6s %6s %7s %9s" % (
        r["name"], " ".join("%.3f" % x for x in r["head_loss"]), acc,
        "%.2f" % r["tokens_per_forward"] if "tokens_per_forward" in r else "-",
        "%.2fx" % r["speedup"] if "speedup" in r else "-",
        "%.2fx" % r["auto_speedup"] if "auto_speedup" in r else "-",
        "%.3f" % r["humaneval_pass@1"] if r["humaneval_pass@1"] is not None else "-",
        "%.0f" % r["ms_per_step"] if r["ms_per_step"] else "-"))
PY
plots=""
i=2
for v in $VARIANTS; do
    plots="$plots \"$OUT/head_types.dat\" using 1:$i with linespoints lw 2 title \"${v%%:*}\","
    i=$((i + 1))
done
gnuplot <<GP
set terminal pngcairo size 720,440 font "sans,10"
set output "$OUT/head_types.png"
set title "Held-out loss of each head by head architecture ($MODE mode, byte-level code)"
set xlabel "head k (predicts byte t+k)"
set ylabel "cross-entropy (nats per byte)"
set xtics 1
set key top left
plot ${plots%,}
GP
log "wrote $OUT/results.json, $OUT/head_types.png"
