#!/usr/bin/env bash
# Quick start: install what is missing, build, turn the Linux kernel's C
# headers (present on every Debian machine with a compiler) into byte-level
# shards, train a small n=4 multi-token model for a few minutes, and generate
# with self-speculative decoding.
#   bash scripts/quickstart.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-600}
bash scripts/install-deps.sh
make -j"$(nproc)"
corpus=/usr/include/linux
[ -d "$corpus" ] || { echo "quickstart: $corpus not found (install linux-libc-dev)"; exit 1; }
rm -rf runs/quickstart/model   # a fresh run each time (mtp train refuses to mix two runs in one directory)
./build/mtp prepare --tokenizer bytes --glob '*.h' --val-fraction 0.02 --force --out runs/quickstart/data "$corpus"
./build/mtp train --data runs/quickstart/data --out runs/quickstart/model \
    --n-layer 6 --n-future 4 --dim 128 --n-head 4 --seq-len 128 --batch 16 \
    --steps "$steps" --lr 2e-3 --eval-every 100 --eval-batches 4 --save-every 200 \
    --log runs/quickstart/train.jsonl
echo
echo "--- generate: greedy, self-speculative (heads 2-4 draft, head 1 verifies) ---"
./build/mtp generate --model runs/quickstart/model --prompt '#include <linux/' --max-new 300 --stats
echo
echo "--- the same prompt, plain decoding (identical text, one forward per token) ---"
./build/mtp generate --model runs/quickstart/model --prompt '#include <linux/' --max-new 300 --speculative 0 --stats
