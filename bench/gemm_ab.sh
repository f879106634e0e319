#!/usr/bin/env bash
# gemm_ab.sh: ops/cpu/gemm.c at a git revision against the working tree's, on
# the training's product shapes, called alternately in one process (see
# bench/gemm_ab/compare.c). Builds the library first.
#   bash bench/gemm_ab.sh [REV] [--threads N] [--repeats R] [--shapes small|gpt2s|all]
# REV defaults to HEAD; threads to 2.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=HEAD
if [[ $# -gt 0 && $1 != -* ]]; then rev=$1; shift; fi
threads=2
args=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --threads) threads=${2:?--threads needs a count}; shift 2 ;;
        --repeats | --shapes) args+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
        -h | --help) sed -n 2,6p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gemm_ab.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
out=build/gemm_ab
mkdir -p "$out"
git show "$rev:src/ops/cpu/gemm.c" >"$out/gemm_old.c" 2>/dev/null || {
    echo "gemm_ab.sh: no src/ops/cpu/gemm.c at revision '$rev'" >&2
    exit 2
}
make -s -j2 build/libmtp.a
blas_inc=$(sed -n 's/^BLAS_INC ?= //p' Makefile)
flags=(-std=c11 -O3 -march=native -ffp-contract=fast -fopenmp -Isrc -Iinclude "-I$blas_inc")
gcc "${flags[@]}" -Dcpu_gemm=cpu_gemm_old -c "$out/gemm_old.c" -o "$out/old.o"
gcc "${flags[@]}" -Dcpu_gemm=cpu_gemm_new -c src/ops/cpu/gemm.c -o "$out/new.o"
gcc "${flags[@]}" bench/gemm_ab/compare.c "$out/old.o" "$out/new.o" build/libmtp.a -o "$out/compare" \
    -lopenblas -lcjson -lpcre2-8 -lm
echo "gemm.c at $rev (old) against the working tree (new)"
OMP_NUM_THREADS=$threads "$out/compare" "${args[@]}"
