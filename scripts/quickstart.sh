#!/usr/bin/env bash
# Quick start: install what is missing, build, turn the Linux kernel's C
# headers (present on every Debian machine with a compiler) into byte-level
# shards, train a small n=4 multi-token model for a few minutes, and generate
# with self-speculative decoding.
#   bash scripts/quickstart.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
case ${1:-} in
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
steps=${1:-600}
# checked before anything is installed, built or removed
[[ $steps =~ ^[0-9]+$ ]] && [ "$steps" -ge 1 ] && [ $# -le 1 ] ||
    { echo "quickstart: expected one argument, the training steps (a whole number >= 1), got: $*" >&2; exit 2; }
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
echo "--- generate: greedy, self-speculative (--speculative auto: the decoder picks how many of heads 2-4 draft) ---"
./build/mtp generate --model runs/quickstart/model --prompt '#include <linux/' --max-new 300 --stats 2>runs/quickstart/spec.txt
cat runs/quickstart/spec.txt >&2
echo
echo "--- the same prompt, plain decoding (identical text, one forward per token) ---"
./build/mtp generate --model runs/quickstart/model --prompt '#include <linux/' --max-new 300 --speculative 0 --stats 2>runs/quickstart/plain.txt
cat runs/quickstart/plain.txt >&2
# one short generation is too noisy to time (the first run also warms the caches): bench-decode
# times plain, fixed K and auto on a few prompts, alternating, medians of 5 repeats
printf '%s\n' '#include <linux/' 'static int ' 'struct ' '#define ' >runs/quickstart/prompts.txt
echo
echo "--- speed: mtp bench-decode, 4 prompts x 5 repeats (medians) ---"
./build/mtp bench-decode --model runs/quickstart/model --prompts runs/quickstart/prompts.txt --max-new 96 \
    --repeats 5 | tee runs/quickstart/bench.txt | grep -v '^bench-decode'
plain=$(awk -F'|' '$2 ~ /plain/ { gsub(/ /, "", $3); print $3 }' runs/quickstart/bench.txt)
auto=$(awk -F'|' '$2 ~ /auto/ { gsub(/ /, "", $3); print $3 }' runs/quickstart/bench.txt)
echo
if [ -n "$auto" ] && [ -n "$plain" ]; then
    awk -v s="$auto" -v p="$plain" 'BEGIN { printf "self-speculative (auto) %.0f tokens/s vs plain %.0f tokens/s: %.2fx\n", s, p, s / p }'
fi
echo "(a model this small is compute-bound, so each drafted row costs part of a step: auto measures as it"
echo " goes and uses the number of drafts that pays most; bench/decode_big.sh shows a model of realistic size)"
