#!/usr/bin/env bash
# induction.sh: the paper's induction experiment (section 4.1) at CPU scale.
# TinyStories with every character name of 100 held-out stories replaced by a
# random two-token name; models of several widths are trained with n = 1 and
# n = 2 heads on the other stories; the score is head 1's accuracy on the
# second token of every later mention of a name (teacher-forced). The paper:
# n = 2 helps small models form induction. Writes OUT/results.json and
# OUT/induction_accuracy.png (accuracy vs non-embedding parameters).
usage() {
    echo "usage: experiments/induction.sh [--quick|--full] [--out DIR] [--jobs N]"
    usage_common induction
}
source "$(dirname "$0")/lib.sh"
parse_args induction "$@"
STORIES=$DATA/tinystories/TinyStories-train_first2MiB.txt
[ -f "$STORIES" ] || { echo "$0: $STORIES is missing (set MTP_DATA)" >&2; exit 1; }

if [ "$MODE" = quick ]; then
    VOCAB=400 HELD_OUT=20 DIMS="32 64" LAYERS=3 SEQ=128 BATCH=8 STEPS=40 SEEDS="1" LR=3e-3
else
    VOCAB=2000 HELD_OUT=100 DIMS="32 64 128" LAYERS=4 SEQ=256 BATCH=8 STEPS=3000 SEEDS="1 2" LR=2e-3
fi
NS="1 2"
log "induction ($MODE): BPE $VOCAB, $HELD_OUT held-out stories, widths {$DIMS}, L=$LAYERS, $STEPS steps, n in {$NS}, seeds {$SEEDS}"
logged "$OUT/tokenizer.log" M tokenizer train --quiet --vocab-size "$VOCAB" --out "$OUT/tokenizer.json" "$STORIES"
logged "$OUT/task.log" M task induction --stories "$STORIES" --tokenizer "$OUT/tokenizer.json" --out "$OUT/task" \
    --held-out "$HELD_OUT" --seed 1
logged "$OUT/prepare.log" M prepare --quiet --force --tokenizer "$OUT/tokenizer.json" --doc-separator '<|endoftext|>' \
    --val-fraction 0.02 --out "$OUT/data" "$OUT/task/train.txt"
mkdir -p "$OUT/runs" "$OUT/eval"
# train_eval D N SEED: trains one model and scores it (a job: may run beside others)
train_eval() {
    local run=d$1_n$2_s$3 heads=$(($1 / 32 > 1 ? $1 / 32 : 2))
    train_run "$run" $((STEPS / 5)) --n-layer "$LAYERS" --n-future "$2" --dim "$1" --n-head "$heads" --seed "$3"
    score_run "$run" eval-induction
}
# the widest (slowest) models first, so parallel jobs end close together
for d in $(echo $DIMS | tr ' ' '\n' | sort -rn); do
    for n in $NS; do
        for seed in $SEEDS; do job train_eval "$d" "$n" "$seed"; done
    done
done
jobs_wait

"$PY" - "$OUT" "$MODE" "$DIMS" "$NS" "$SEEDS" "$LAYERS" "$STEPS" "$VOCAB" <<'PY'
import json, sys, statistics
out, mode, dims, ns, seeds, L, steps, vocab = sys.argv[1:]
dims, ns, seeds, L = [int(x) for x in dims.split()], [int(x) for x in ns.split()], [int(x) for x in seeds.split()], int(L)
def non_embedding_params(d):
    # Per block: q, k, v, o (4 d^2), SwiGLU gate/up/down (3 d f), two norms; f = 8d/3 up to a multiple of 64.
    f = ((8 * d + 2) // 3 + 63) // 64 * 64
    return L * (4 * d * d + 3 * d * f + 2 * d) + d
runs, summary = [], {}
for d in dims:
    for n in ns:
        acc, first = [], []
        for s in seeds:
            ev = json.load(open(f"{out}/eval/d{d}_n{n}_s{s}.json"))
            runs.append({"dim": d, "n": n, "seed": s, "non_embedding_params": non_embedding_params(d),
                         "accuracy": ev["accuracy"], "first_token_accuracy": ev["first_token_accuracy"],
                         "occurrences": ev["occurrences"]})
            acc.append(ev["accuracy"]); first.append(ev["first_token_accuracy"])
        summary.setdefault(f"n={n}", []).append({"dim": d, "non_embedding_params": non_embedding_params(d),
                                                 "accuracy": statistics.mean(acc), "first_token_accuracy": statistics.mean(first)})
res = {"experiment": "induction", "mode": mode,
       "config": {"n_layer": L, "dims": dims, "steps": int(steps), "bpe_vocab": int(vocab), "seeds": seeds},
       "runs": runs, "mean_by_size": summary}
json.dump(res, open(f"{out}/results.json", "w"), indent=1)
with open(f"{out}/accuracy.dat", "w") as fh:
    fh.write("params " + " ".join(f"n={n}" for n in ns) + "\n")
    for i, d in enumerate(dims):
        fh.write(f"{non_embedding_params(d)} " + " ".join(f"{summary[f'n={n}'][i]['accuracy']:.4f}" for n in ns) + "\n")
PY
ncols=$(echo $NS | wc -w)
gnuplot <<GP
set terminal pngcairo size 720,440 font "sans,10"
set output "$OUT/induction_accuracy.png"
set title "Induction: second-token accuracy at later name mentions ($MODE mode, mean over seeds)"
set xlabel "non-embedding parameters"
set ylabel "accuracy"
set logscale x
set yrange [0:1]
set key top left
plot for [i=2:$((ncols + 1))] "$OUT/accuracy.dat" using 1:i with linespoints lw 2 title columnhead(i)
GP
log "wrote $OUT/results.json, $OUT/induction_accuracy.png"
"$PY" -c "
import json,sys; r=json.load(open(sys.argv[1]))
for k,v in r['mean_by_size'].items(): print(k, ' '.join('d=%d:%.3f'%(e['dim'],e['accuracy']) for e in v))" "$OUT/results.json"
