#!/usr/bin/env bash
# gpu/profile.sh: where the GPU's time goes, by kernel (Nsight Systems'
# summary of kernel times and CUDA API calls), for the two workloads whose
# goals gpu/check.sh measures: a bf16 training step at GPT-2-small size
# (n = 1), and plain and --speculative 3 decoding of the 1B-parameter shape.
# Writes $OUT/profile.md (OUT defaults to gpu/out).
# Exits non-zero if a profiled run failed (its output stays in the report).
#   bash gpu/profile.sh [--prebuilt DIR]     (DIR: what gpu/bundle.sh made)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/build/cuda
case "${1:-}" in
-h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
--prebuilt) ;;
"") ;;
*) echo "gpu/profile.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac
failed=0
if [ "${1:-}" = "--prebuilt" ]; then
    bin=$(cd "${2:?--prebuilt needs a folder}" && pwd)
    export LD_LIBRARY_PATH="$bin/lib:${CUDA_HOME:-/usr/local/cuda}/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
mtp=$bin/mtp
out=${OUT:-gpu/out}
mkdir -p "$out"
report="$out/profile.md"
nsys=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)
if [ -z "$nsys" ]; then
    echo "gpu/profile.sh: Nsight Systems (nsys) is not installed here" | tee "$report" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# profile NAME COMMAND...: the kernel and API summaries of one run
profile() {
    local name=$1
    shift
    {
        echo "## $name"
        echo
        echo '```'
        echo "\$ ${*#"$bin/"}"
        "$nsys" profile --force-overwrite true -t cuda -o "$work/$name" --stats=false "$@" >"$work/$name.log" 2>&1 ||
            { rc=$?; failed=1; echo "(the run failed: exit $rc)"; }
        grep -v '^\(Collecting\|Generating\|Processing\|Saving\|Exporting\)' "$work/$name.log" | tail -n 12
        "$nsys" stats --force-export true -q --report cuda_gpu_kern_sum,cuda_api_sum --format table \
            "$work/$name.nsys-rep" 2>&1 | cut -c1-220 | head -n 70
        echo '```'
        echo
    } >>"$report"
}
echo "# gpu/profile.sh, $(date -u '+%Y-%m-%d %H:%M UTC'); $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null)" >"$report"
echo >>"$report"
profile train_bf16 "$mtp" bench-train --device cuda --precision bf16 --vocab-size 50304 --dim 768 --n-head 12 \
    --n-layer 12 --n-future 1 --seq-len 1024 --batch 8 --steps 2
for i in $(seq 1 400); do
    echo "line $i: the $((i % 7)) quick brown foxes jump over $((i * 13 % 101)) lazy dogs, said speaker $((i % 5))."
done >"$work/corpus.txt"
"$mtp" prepare --quiet --out "$work/data" "$work/corpus.txt" >/dev/null 2>&1
"$mtp" train --data "$work/data" --out "$work/big" --n-layer 18 --n-future 4 --dim 2048 --n-head 16 --ffn-dim 5504 \
    --seq-len 256 --max-context 1024 --steps 0 --eval-every 0 --vocab-size 50304 >/dev/null 2>&1
prompt=$(head -c 600 "$work/corpus.txt")
for k in 0 3; do
    profile "decode_k$k" "$mtp" generate --model "$work/big" --device cuda --prompt "$prompt" --max-new 64 \
        --speculative $k --stats
done
cat "$report"
[ "$failed" -eq 0 ] || { echo "gpu/profile.sh: a profiled run failed (see above)" >&2; exit 1; }
