#!/usr/bin/env bash
# add_heads.sh: giving a trained next-token model self-speculative heads
# (the fine-tuning recipe `mtp train --init-from BASE --n-future N
# --freeze-trunk`). Trains a byte-level n = 1 model on TinyStories (or takes
# --model RUN_DIR), then adds N-1 heads (copies of head 1 to start) and
# trains only them for S steps, for several S; each result is decoded with
# bench-decode (plain and K = 1..N-1 drafting heads, auto) on held-out
# prompts. The model's own predictions are frozen, so plain decoding gives
# the base model's text exactly (checked); what the head training buys is
# the drafts' acceptance and the speedup. Writes OUT/results.json and
# OUT/add_heads.png (acceptance of each head and the speedup against S).
usage() {
    echo "usage: experiments/add_heads.sh [--quick|--full] [--out DIR] [--model RUN_DIR]"
    usage_common add_heads
    echo "  --model DIR    add heads to this trained n = 1 model instead of training one"
}
MODEL=""
args=()
while [ $# -gt 0 ]; do
    case $1 in
    --model) MODEL=${2:?--model needs a value}; shift 2 ;;
    *) args+=("$1"); shift ;;
    esac
done
source "$(dirname "$0")/lib.sh"
parse_args add_heads "${args[@]+"${args[@]}"}"
STORIES=$DATA/tinystories/TinyStories-train_first2MiB.txt
VALTEXT=$DATA/tinystories/tinystories_val_prefix.txt
[ -f "$STORIES" ] && [ -f "$VALTEXT" ] || { echo "$0: TinyStories files are missing (set MTP_DATA)" >&2; exit 1; }

if [ "$MODE" = quick ]; then
    N=3 LAYERS=4 DIM=64 HEADS=4 SEQ=128 BATCH=8 STEPS=80 LR=3e-3 HEAD_STEPS="0 20 60" PROMPTS=3 MAX_NEW=32
else
    N=4 LAYERS=8 DIM=192 HEADS=6 SEQ=256 BATCH=8 STEPS=1500 LR=2e-3 HEAD_STEPS="0 25 50 100 200 400 800"
    PROMPTS=12 MAX_NEW=96
fi
logged "$OUT/prepare.log" M prepare --quiet --force --doc-separator '<|endoftext|>' --val-fraction 0.02 \
    --out "$OUT/data" "$STORIES"
if [ -z "$MODEL" ]; then
    log "add_heads ($MODE): byte-level n=1, L=$LAYERS, d=$DIM, $STEPS steps on TinyStories"
    rm -rf "$OUT/base"
    logged "$OUT/base.out" M train --data "$OUT/data" --out "$OUT/base" --n-layer "$LAYERS" --n-future 1 \
        --dim "$DIM" --n-head "$HEADS" --seq-len "$SEQ" --batch "$BATCH" --steps "$STEPS" --lr "$LR" \
        --eval-every 0 --save-every 0 --threads "$THREADS"
    MODEL=$OUT/base
fi
"$PY" - "$VALTEXT" "$PROMPTS" >"$OUT/prompts.jsonl" <<'PY'
import json, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
paras = [p.strip() for p in text.split("\n\n") if len(p.strip()) > 120]
for p in paras[:int(sys.argv[2])]:
    print(json.dumps({"prompt": p[:100].rsplit(" ", 1)[0]}))
PY
M generate --model "$MODEL" --prompt "Once upon a time" --max-new 48 --speculative 0 --json --threads "$THREADS" \
    >"$OUT/base_text.json"
for s in $HEAD_STEPS; do
    log "heads trained for $s steps"
    rm -rf "$OUT/heads_$s"
    logged "$OUT/heads_$s.out" M train --data "$OUT/data" --init-from "$MODEL" --n-future "$N" --freeze-trunk \
        --out "$OUT/heads_$s" --seq-len "$SEQ" --batch "$BATCH" --steps "$s" --lr "$LR" --warmup 0 \
        --eval-every 0 --save-every 0 --threads "$THREADS"
    M generate --model "$OUT/heads_$s" --prompt "Once upon a time" --max-new 48 --speculative 0 --json \
        --threads "$THREADS" >"$OUT/heads_${s}_text.json"
    M bench-decode --model "$OUT/heads_$s" --prompts "$OUT/prompts.jsonl" --max-new "$MAX_NEW" \
        --threads "$THREADS" --json >"$OUT/bench_$s.json" 2>"$OUT/bench_$s.err" ||
        { tail -3 "$OUT/bench_$s.err" >&2; exit 1; }
done
"$PY" - "$OUT" "$N" $HEAD_STEPS <<'PY'
import json, sys
out, n, steps = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3:]]
base = json.load(open(f"{out}/base_text.json"))["text"]
runs = []
for s in steps:
    r = json.load(open(f"{out}/bench_{s}.json"))
    assert r["mismatches"] == 0, f"heads_{s}: speculative output differs from plain"
    assert json.load(open(f"{out}/heads_{s}_text.json"))["text"] == base, f"heads_{s}: the frozen model's text moved"
    by_k = {e["k"]: e for e in r["results"]}
    full = by_k[n - 1]
    runs.append({"head_steps": s, "accept_rate": full["accept_rate"], "tokens_per_forward": full["tokens_per_forward"],
                 "speedup": full["speedup"], "auto_speedup": by_k["auto"]["speedup"]})
json.dump({"n": n, "base_text_unchanged": True, "runs": runs}, open(f"{out}/results.json", "w"), indent=1)
with open(f"{out}/add_heads.dat", "w") as f:
    f.write("steps " + " ".join(f"accept{k + 2}" for k in range(n - 1)) + " tokens_per_forward speedup auto\n")
    for r in runs:
        acc = " ".join("0" if a is None else f"{a:.4f}" for a in r["accept_rate"])
        f.write(f"{r['head_steps']} {acc} {r['tokens_per_forward']:.4f} {r['speedup']:.4f} {r['auto_speedup']:.4f}\n")
for r in runs:
    print("head steps %4d  accept %s  tokens/forward %.2f  speedup K=%d %.2fx  auto %.2fx" % (
        r["head_steps"], " ".join("-" if a is None else "%.2f" % a for a in r["accept_rate"]),
        r["tokens_per_forward"], n - 1, r["speedup"], r["auto_speedup"]))
PY
acc_plots=""
for k in $(seq 2 "$N"); do
    acc_plots="$acc_plots \"$OUT/add_heads.dat\" using 1:$k with linespoints lw 2 title \"acceptance, head $k\","
done
gnuplot <<GP
set terminal pngcairo size 760,460 font "sans,10"
set output "$OUT/add_heads.png"
set title "Heads added to a trained n=1 model, trunk frozen ($MODE mode)"
set xlabel "head-training steps"
set ylabel "acceptance / x plain decoding"
set yrange [0:*]
set key top left
plot $acc_plots "$OUT/add_heads.dat" using 1:$((N + 1)) with linespoints lw 2 title "tokens per forward (K=$((N - 1)))", \
     "" using 1:$((N + 2)) with linespoints lw 2 title "wall-clock speedup (K=$((N - 1)))", \
     1 with lines dashtype 2 notitle
GP
log "wrote $OUT/results.json, $OUT/add_heads.png"
