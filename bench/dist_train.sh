#!/usr/bin/env bash
# bench/dist_train.sh: data-parallel training on this machine, side by side:
# 2 processes x 1 thread (mpirun) against 1 process x 2 threads, at the same
# global batch (2 x 4 rows of 256 tokens per step), the small config of
# bench/bench_train.py (bytes, d=256, L=6) with n = 1 and n = 4, in
# alternating pairs; prints tokens/s (medians), their ratio and the share of
# the 2-process step spent waiting on the other process; then the
# collectives' cost for the model's size (bench_mpi_collectives), which
# docs/scaling.md's communication model uses.
#   bash bench/dist_train.sh [--pairs N] [--steps S]      (make && make bench first)
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=3 STEPS=30
while [ $# -gt 0 ]; do
    case $1 in
    --pairs) PAIRS=${2:?--pairs needs a value}; shift 2 ;;
    --steps) STEPS=${2:?--steps needs a value}; shift 2 ;;
    *) echo "usage: bash bench/dist_train.sh [--pairs N] [--steps S]" >&2; exit 2 ;;
    esac
done
MTP=$PWD/build/mtp
command -v mpirun >/dev/null || { echo "no mpirun: apt-get install openmpi-bin libopenmpi-dev" >&2; exit 1; }
ldd "$MTP" | grep -q libmpi || { echo "$MTP has no MPI: make MPI=1" >&2; exit 1; }
[ -x build/bench/bench_mpi_collectives ] || { echo "run make bench first" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
DATA=${MTP_DATA:-$(cd .. && pwd)/shared/data}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$MTP" prepare --tokenizer bytes --doc-separator '<|endoftext|>' --out "$W/data" \
    "$DATA/tinystories/TinyStories-train_first2MiB.txt" >/dev/null 2>&1
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
lscpu | grep -m1 'Model name' | sed 's/  */ /g'
echo "steps $STEPS per run (the first is warm-up), $PAIRS alternating pairs, medians"
printf '| n | 1 process x 2 threads tok/s | 2 processes x 1 thread tok/s | ratio | waiting on the other process |\n|---|---|---|---|---|\n'
for n in 1 4; do
    ARGS="--data $W/data --n-layer 6 --n-future $n --dim 256 --n-head 8 --seq-len 256 --batch 4 --steps $STEPS --eval-every 0"
    one=() two=() comm=()
    for p in $(seq 1 "$PAIRS"); do
        rm -rf "$W/o1" "$W/o2"
        "$MTP" train $ARGS --threads 2 --grad-accum 2 --out "$W/o1" 2>"$W/one.err" >/dev/null
        one+=("$(sed -n 's/.*ms\/step, \([0-9.]*\) tok\/s.*/\1/p' "$W/one.err")")
        mpirun -np 2 "$MTP" train $ARGS --threads 1 --grad-accum 1 --out "$W/o2" 2>"$W/two.err" >/dev/null
        two+=("$(sed -n 's/.*ms\/step, \([0-9.]*\) tok\/s.*/\1/p' "$W/two.err")")
        comm+=("$(sed -n 's/^communication: \([0-9.]*\)%.*/\1/p' "$W/two.err")")
    done
    a=$(printf '%s\n' "${one[@]}" | median) b=$(printf '%s\n' "${two[@]}" | median)
    c=$(printf '%s\n' "${comm[@]}" | median)
    printf '| %d | %.0f | %.0f | %.2fx | %.1f%% |\n' "$n" "$a" "$b" "$(echo "$b / $a" | bc -l)" "$c"
done
params=$("$MTP" train --data "$W/data" --n-layer 6 --n-future 1 --dim 256 --n-head 8 --seq-len 256 --batch 4 \
    --steps 0 --out "$W/p" 2>&1 | sed -n 's/^model: \([0-9]*\) parameters.*/\1/p')
echo
echo "collectives over the model's $params parameters (float32), 2 processes:"
mpirun -np 2 build/bench/bench_mpi_collectives --floats "$params" --repeats 9
