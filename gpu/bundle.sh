#!/usr/bin/env bash
# gpu/bundle.sh: builds, on this machine, what gpu/check.sh runs on a GPU
# machine that cannot build mtp itself (no OpenBLAS, cJSON or PCRE2 headers
# there, nothing to install from): mtp and the CUDA test and benchmark
# programs, for any x86-64 with AVX2 (-march=x86-64-v3) and for sm_90 (H100,
# H200), without OpenMPI, into gpu/bundle/ (ignored by git), with the shared
# libraries they need that a bare machine may lack in gpu/bundle/lib/. The
# CUDA runtime and cuBLAS come from the GPU machine's toolkit.
#   bash gpu/bundle.sh            then, on the GPU machine (carry gpu/bundle):
#   bash gpu/check.sh --prebuilt gpu/bundle
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/gpu-bundle out=gpu/bundle
progs="mtp tests/test_device tests/test_cuda_ops tests/test_device_model bench/bench_cuda_ops"
make -j"$(nproc)" BUILD=$build CUDA=1 MPI=0 OPT="-O3 -march=x86-64-v3" \
    CUDA_ARCH="-gencode arch=compute_90,code=sm_90" $(for p in $progs; do echo "$build/$p"; done) >/dev/null
rm -rf "$out"
mkdir -p "$out/lib" "$out/tests" "$out/bench"
for p in $progs; do cp "$build/$p" "$out/$p" && strip --strip-debug "$out/$p"; done
# the libraries outside libc, libstdc++ and the CUDA toolkit
ldd "$build/mtp" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
    libc.so* | libm.so* | libdl.so* | librt.so* | libpthread.so* | libstdc++.so* | libgcc_s.so* | libcuda*.so* | libcublas*.so*) ;;
    *) cp -L "$lib" "$out/lib/" ;;
    esac
done
du -sh "$out"
ls "$out/lib"
