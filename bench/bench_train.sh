#!/usr/bin/env bash
# Training speed and memory, mtp vs a PyTorch baseline (bench/torch_train.py),
# side by side on the same configs, thread count and synthetic data.
#   bash bench/bench_train.sh [--quick] [--threads N] [--only small|gpt2s]
# Prints a markdown table: median ms/step (first step excluded), tokens/s,
# peak RSS, and the mtp/PyTorch speed ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 quick=0 only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --threads) threads=$2; shift ;;
        --only) only=$2; shift ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) echo "bench_train.sh: unknown flag $1" >&2; exit 2 ;;
    esac
    shift
done
PY=/usr/bin/python3
MTP=build/mtp
[ -x "$MTP" ] || make -j"$threads" >/dev/null
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# name V d H L T B steps
configs=("small 256 256 8 6 256 8 6" "gpt2s 50304 768 12 12 256 4 3")
[ $quick -eq 1 ] && configs=("small 256 256 8 6 256 8 3")

make_data() {  # DIR V: random tokens, one llm.c shard (uint16)
    $PY - "$1" "$2" <<'PY'
import os, sys, numpy as np
d, V = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
toks = np.random.default_rng(0).integers(0, V, 2_000_000, dtype=np.uint16)
hdr = np.zeros(256, dtype=np.int32); hdr[0], hdr[1], hdr[2] = 20240520, 1, len(toks)
with open(os.path.join(d, "train_000000.bin"), "wb") as f:
    f.write(hdr.tobytes()); f.write(toks.tobytes())
PY
}

median_ms() {  # LOG: median of per-step ms, first step excluded
    $PY -c "import json,sys,statistics as s; m=[json.loads(l)['ms'] for l in open(sys.argv[1]) if 'split' not in l][1:]; print(f'{s.median(m):.1f}')" "$1"
}

echo "OpenBLAS: $($PY - <<'PY' 2>/dev/null || echo unknown
import ctypes
lib = ctypes.CDLL("/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0")
lib.openblas_get_corename.restype = ctypes.c_char_p
print(lib.openblas_get_corename().decode())
PY
), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, threads=$threads, torch $($PY -c 'import torch; print(torch.__version__)')"
echo
echo "| config | n | schedule | mtp ms/step | mtp tok/s | mtp peak MB | torch ms/step | torch tok/s | torch peak MB | speed ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for c in "${configs[@]}"; do
    read -r name V d H L T B steps <<<"$c"
    [ -n "$only" ] && [ "$only" != "$name" ] && continue
    make_data "$W/$name" "$V"
    for n in 1 4; do
        for sched in sequential naive; do
            log="$W/$name-$n-$sched.jsonl"
            out=$(OMP_NUM_THREADS=$threads $MTP train --data "$W/$name" --vocab-size "$V" --out "$W/run" \
                --n-layer "$L" --n-future "$n" --dim "$d" --n-head "$H" --seq-len "$T" --batch "$B" \
                --steps $((steps + 1)) --eval-every 0 --save-every 0 --threads "$threads" --schedule "$sched" \
                --log "$log" 2>&1 | tail -n 1)
            rm -rf "$W/run"
            ours_ms=$(median_ms "$log")
            ours_mb=$(sed -n 's/.*peak memory \([0-9]*\) MB.*/\1/p' <<<"$out")
            ours_tok=$($PY -c "print(round($B*$T/($ours_ms/1000)))")
            tj=$(OMP_NUM_THREADS=$threads $PY bench/torch_train.py --vocab "$V" --dim "$d" --heads "$H" \
                --layers "$L" --future "$n" --seq "$T" --batch "$B" --steps "$steps" --threads "$threads" \
                --schedule "$sched")
            read -r t_ms t_tok t_mb < <($PY -c "import json,sys; j=json.loads(sys.argv[1]); print(f\"{j['ms_per_step']:.1f} {j['tokens_per_sec']:.0f} {j['peak_rss_mb']:.0f}\")" "$tj")
            ratio=$($PY -c "print(f'{$t_ms/$ours_ms:.2f}x')")
            echo "| $name | $n | $sched | $ours_ms | $ours_tok | $ours_mb | $t_ms | $t_tok | $t_mb | $ratio |"
        done
    done
done
