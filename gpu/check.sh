#!/usr/bin/env bash
# gpu/check.sh: the CUDA backend on an NVIDIA GPU, in one run (a few minutes
# on an H100 or H200). Builds mtp with CUDA=1 into build/cuda, then
#   1. test_device and test_cuda_ops: every op of the CUDA backend against the
#      CPU backend on the same inputs (forward, backward, GQA, decoding rows
#      bit-identical whatever their number), a table of errors;
#   2. bench_cuda_ops: the ops at GPT-2-small training shapes (ms, TFLOP/s).
# Writes both tables to $OUT/check.md (OUT defaults to gpu/out) and prints
# them; exits non-zero if a check failed.
#
# Not yet here (the backend's next steps): the model on the GPU (--device
# cuda on train / generate / eval / bench-*), model-level parity of losses and
# gradients for n = 1, 2, 4 and GQA, bf16 products through cuBLASLt, tiled
# (flash) attention, speculative decoding on the GPU, NCCL.
#   bash gpu/check.sh [--arch "-gencode arch=compute_90,code=sm_90"]
set -euo pipefail
cd "$(dirname "$0")/.."
arch="-gencode arch=compute_90,code=sm_90"
while [ $# -gt 0 ]; do
    case "$1" in
    --arch) arch=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu/check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
out=${OUT:-gpu/out}
mkdir -p "$out"
report="$out/check.md"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
start=$SECONDS
make -j"$(nproc)" BUILD=build/cuda CUDA=1 CUDA_ARCH="$arch" build/cuda/mtp build/cuda/tests/test_device \
    build/cuda/tests/test_cuda_ops build/cuda/bench/bench_cuda_ops >"$out/build.log" 2>&1 ||
    { tail -n 30 "$out/build.log"; echo "gpu/check.sh: the CUDA build failed (log: $out/build.log)" >&2; exit 1; }
echo "built in $((SECONDS - start)) s"
status=0
{
    echo "# gpu/check.sh, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "## The CUDA ops against the CPU backend (tests/test_cuda_ops.c)"
    echo
} >"$report"
build/cuda/tests/test_device >>"$report" 2>&1 || status=1
set +e
build/cuda/tests/test_cuda_ops >>"$report" 2>&1
rc=$?
set -e
[ $rc -eq 0 ] || status=1
[ $rc -eq 77 ] && echo "gpu/check.sh: no GPU was usable (see $report)" >&2
{
    echo
    echo "## The ops at GPT-2-small training shapes (bench/bench_cuda_ops.c)"
    echo
} >>"$report"
set +e
timeout 300 build/cuda/bench/bench_cuda_ops >>"$report" 2>&1 || status=1
set -e
cat "$report"
echo
echo "gpu/check.sh: $( [ $status -eq 0 ] && echo passed || echo FAILED ) in $((SECONDS - start)) s; report in $report"
exit $status
