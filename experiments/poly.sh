#!/usr/bin/env bash
# poly.sh: the paper's polynomial arithmetic experiment (section 4.2) at CPU
# scale. Byte-level models with n = 1, 2, 4 future-token heads (the same
# total depth L: heads replace trunk blocks) are trained on expressions over
# F7[X]/(X^5) with 1..5 operations and tested by greedy exact match on 1..10
# operations (m > 5 is out of distribution). Writes OUT/results.json,
# OUT/poly_accuracy.png (accuracy vs m per n, mean over seeds) and
# OUT/poly_head_losses.png (each head's validation loss over training, n = 4).
usage() {
    echo "usage: experiments/poly.sh [--quick|--full] [--out DIR] [--jobs N]"
    usage_common poly
}
source "$(dirname "$0")/lib.sh"
parse_args poly "$@"

if [ "$MODE" = quick ]; then
    EXAMPLES=3000 TEST_PER_M=10 SEEDS="1" LAYERS=5 DIM=64 HEADS=4 SEQ=128 BATCH=8 STEPS=60 LR=3e-3
else
    EXAMPLES=100000 TEST_PER_M=300 SEEDS="1 2" LAYERS=6 DIM=128 HEADS=4 SEQ=128 BATCH=16 STEPS=1200 LR=2e-3
fi
NS="1 2 4"
log "poly ($MODE): $EXAMPLES training examples, $TEST_PER_M test items per m, L=$LAYERS d=$DIM, $STEPS steps, n in {$NS}, seeds {$SEEDS}"
logged "$OUT/task.log" M task poly --out "$OUT/task" --train-examples "$EXAMPLES" --test-per-m "$TEST_PER_M" \
    --m-train 1-5 --m-eval 1-10 --seed 1
logged "$OUT/prepare.log" M prepare --quiet --force --tokenizer bytes --val-fraction 0.02 --out "$OUT/data" \
    "$OUT/task/train.txt"
mkdir -p "$OUT/runs" "$OUT/eval"
# train_eval N SEED: trains one model and scores it (a job: may run beside others)
train_eval() {
    train_run "n$1_s$2" $((STEPS / 10)) --n-layer "$LAYERS" --n-future "$1" --dim "$DIM" --n-head "$HEADS" --seed "$2"
    score_run "n$1_s$2" eval-gen --quiet
}
for n in $NS; do
    for seed in $SEEDS; do job train_eval "$n" "$seed"; done
done
jobs_wait

# results.json: per run, accuracy per m and the final validation loss of each head; per n, the mean over seeds.
"$PY" - "$OUT" "$MODE" "$NS" "$SEEDS" "$LAYERS" "$DIM" "$STEPS" "$EXAMPLES" "$TEST_PER_M" <<'PY'
import json, sys, statistics
out, mode, ns, seeds, L, d, steps, ex, tpm = sys.argv[1:]
ns, seeds = [int(x) for x in ns.split()], [int(x) for x in seeds.split()]
runs, summary = [], {}
for n in ns:
    per_m = {}
    for s in seeds:
        ev = json.load(open(f"{out}/eval/n{n}_s{s}.json"))
        by_m = {g[2:]: v["accuracy"] for g, v in ev["groups"].items()}
        vals = [json.loads(l) for l in open(f"{out}/runs/n{n}_s{s}.jsonl") if '"split"' in l]
        runs.append({"n": n, "seed": s, "accuracy": ev["accuracy"], "accuracy_by_m": by_m,
                     "final_val_head_losses": vals[-1]["head_losses"] if vals else None})
        for m, a in by_m.items():
            per_m.setdefault(m, []).append(a)
    summary[f"n={n}"] = {m: statistics.mean(a) for m, a in sorted(per_m.items(), key=lambda kv: int(kv[0]))}
res = {"experiment": "polynomial arithmetic", "mode": mode,
       "config": {"n_layer": int(L), "dim": int(d), "steps": int(steps), "train_examples": int(ex),
                  "test_per_m": int(tpm), "m_train": "1-5", "m_eval": "1-10", "tokenizer": "bytes", "seeds": seeds},
       "runs": runs, "mean_accuracy_by_m": summary}
json.dump(res, open(f"{out}/results.json", "w"), indent=1)
with open(f"{out}/accuracy.dat", "w") as f:
    ms = sorted({int(m) for v in summary.values() for m in v})
    f.write("m " + " ".join(f"n={n}" for n in ns) + "\n")  # the header gnuplot's columnhead reads
    for m in ms:
        f.write(f"{m} " + " ".join(f"{summary[f'n={n}'].get(str(m), float('nan')):.4f}" for n in ns) + "\n")
with open(f"{out}/head_losses.dat", "w") as f:
    n4 = max(ns)
    for l in open(f"{out}/runs/n{n4}_s{seeds[0]}.jsonl"):
        j = json.loads(l)
        if j.get("split") == "val":
            f.write(f"{j['step']} " + " ".join(f"{x:.5f}" for x in j["head_losses"]) + "\n")
PY

ncols=$(echo $NS | wc -w)
gnuplot <<GP
set terminal pngcairo size 720,440 font "sans,10"
set output "$OUT/poly_accuracy.png"
set title "Polynomial arithmetic in F7[X]/(X^5): greedy exact match ($MODE mode, mean over seeds)"
set xlabel "operations m (trained on 1-5; right of the dashed line: out of distribution)"
set ylabel "accuracy"
set yrange [0:1]
set xtics 1
set key top right
set arrow from 5.5, graph 0 to 5.5, graph 1 nohead dashtype 2
plot for [i=2:$((ncols + 1))] "$OUT/accuracy.dat" using 1:i with linespoints lw 2 title columnhead(i)
GP
nheads=$(awk 'NR==1 {print NF - 1}' "$OUT/head_losses.dat")
gnuplot <<GP
set terminal pngcairo size 720,440 font "sans,10"
set output "$OUT/poly_head_losses.png"
set title "Validation loss of each head (n = $(echo $NS | awk '{print $NF}'), seed $(echo $SEEDS | awk '{print $1}'))"
set xlabel "step"
set ylabel "cross-entropy (nats per byte)"
set key top right
plot for [i=2:$((nheads + 1))] "$OUT/head_losses.dat" using 1:i with linespoints lw 2 title sprintf("head %d (token t+%d)", i-1, i-1)
GP
log "wrote $OUT/results.json, $OUT/poly_accuracy.png, $OUT/poly_head_losses.png"
"$PY" -c "
import json,sys; r=json.load(open(sys.argv[1]))
for k,v in r['mean_accuracy_by_m'].items(): print(k, ' '.join('%s:%.3f'%(m,a) for m,a in v.items()))" "$OUT/results.json"
