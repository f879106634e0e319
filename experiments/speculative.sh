#!/usr/bin/env bash
# speculative.sh: self-speculative decoding speed vs the number of drafting
# heads K. Trains a byte-level model with n future-token heads on TinyStories
# (or takes --model RUN_DIR), then runs mtp bench-decode (plain greedy and
# K = 1..n-1 on the same held-out prompts; outputs are checked identical)
# and plots tokens per forward and the wall-clock speedup against K. Writes
# OUT/results.json (bench-decode's JSON) and OUT/speculative.png.
usage() {
    echo "usage: experiments/speculative.sh [--quick|--full] [--out DIR] [--model RUN_DIR]"
    usage_common speculative
    echo "  --model DIR    measure this trained model instead of training one"
    echo "  --prompts F    prompts for bench-decode (default: held-out TinyStories openings)"
    echo "  --max-new N    tokens per prompt (default 48 quick, 128 full)"
}
MODEL="" PROMPTS_FILE="" MAX_NEW_ARG=""
args=()
while [ $# -gt 0 ]; do
    case $1 in
    --model) MODEL=${2:?--model needs a value}; shift 2 ;;
    --prompts) PROMPTS_FILE=${2:?--prompts needs a value}; shift 2 ;;
    --max-new) MAX_NEW_ARG=${2:?--max-new needs a value}; shift 2 ;;
    *) args+=("$1"); shift ;;
    esac
done
source "$(dirname "$0")/lib.sh"
parse_args speculative "${args[@]+"${args[@]}"}"
STORIES=$DATA/tinystories/TinyStories-train_first2MiB.txt
VALTEXT=$DATA/tinystories/tinystories_val_prefix.txt
[ -f "$STORIES" ] && [ -f "$VALTEXT" ] || { echo "$0: TinyStories files are missing (set MTP_DATA)" >&2; exit 1; }

if [ "$MODE" = quick ]; then
    N=4 LAYERS=6 DIM=64 HEADS=4 SEQ=128 BATCH=8 STEPS=60 LR=3e-3 PROMPTS=4 MAX_NEW=48
else
    N=8 LAYERS=12 DIM=192 HEADS=6 SEQ=256 BATCH=8 STEPS=1500 LR=2e-3 PROMPTS=20 MAX_NEW=128
fi
if [ -z "$MODEL" ]; then
    log "speculative ($MODE): byte-level n=$N, L=$LAYERS, d=$DIM, $STEPS steps on TinyStories"
    logged "$OUT/prepare.log" M prepare --quiet --force --doc-separator '<|endoftext|>' --val-fraction 0.02 \
        --out "$OUT/data" "$STORIES"
    rm -rf "$OUT/run"
    logged "$OUT/train.out" M train --data "$OUT/data" --out "$OUT/run" --n-layer "$LAYERS" --n-future "$N" \
        --dim "$DIM" --n-head "$HEADS" --seq-len "$SEQ" --batch "$BATCH" --steps "$STEPS" --lr "$LR" \
        --eval-every $((STEPS / 5)) --save-every 0 --threads "$THREADS" --log "$OUT/train.jsonl"
    MODEL=$OUT/run
fi
MAX_NEW=${MAX_NEW_ARG:-$MAX_NEW}
# Prompts: given, or the first line (at most 100 bytes) of held-out validation paragraphs.
if [ -n "$PROMPTS_FILE" ]; then cp "$PROMPTS_FILE" "$OUT/prompts.jsonl"; else
"$PY" - "$VALTEXT" "$PROMPTS" >"$OUT/prompts.jsonl" <<'PY'
import json, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
paras = [p.strip() for p in text.split("\n\n") if len(p.strip()) > 120]
for p in paras[:int(sys.argv[2])]:
    cut = p[:100].rsplit(" ", 1)[0]
    print(json.dumps({"prompt": cut}))
PY
fi
log "bench-decode on $(wc -l <"$OUT/prompts.jsonl") prompts"
M bench-decode --model "$MODEL" --prompts "$OUT/prompts.jsonl" --max-new "$MAX_NEW" --threads "$THREADS" --json \
    >"$OUT/results.json" 2>"$OUT/bench.err" || { tail -3 "$OUT/bench.err" >&2; exit 1; }
"$PY" - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
r = json.load(open(f"{out}/results.json"))
assert r["mismatches"] == 0, "speculative output differs from plain"
with open(f"{out}/speculative.dat", "w") as f:
    f.write("K tokens_per_forward speedup\n")
    for e in r["results"]:
        if e["k"] != "auto":  # the plot's x axis is K; auto is printed below
            f.write(f"{e['k']} {e['tokens_per_forward']:.4f} {e['speedup']:.4f}\n")
for e in r["results"]:
    print("K=%s  tokens/forward %.2f  speedup %.2fx  accept %s" % (e["k"], e["tokens_per_forward"], e["speedup"],
          " ".join("-" if a is None else "%.2f" % a for a in e["accept_rate"])))
PY
gnuplot <<GP
set terminal pngcairo size 720,440 font "sans,10"
set output "$OUT/speculative.png"
set title "Self-speculative greedy decoding ($MODE mode): medians over prompts"
set xlabel "drafting heads K (0 = plain)"
set ylabel "x plain decoding"
set xtics 1
set yrange [0:*]
set key top left
plot "$OUT/speculative.dat" using 1:2 with linespoints lw 2 title "tokens per forward", \
     "" using 1:3 with linespoints lw 2 title "wall-clock speedup", 1 with lines dashtype 2 notitle
GP
log "wrote $OUT/results.json, $OUT/speculative.png"
