#!/usr/bin/env bash
# kernel_ab.sh: one CPU kernel file at a git revision against the working
# tree's, called alternately in one process (a machine whose speed moves by
# 20% in a minute still shows a change of a few percent this way): medians,
# quartiles of the per-pair time ratios (old / new), and whether the results
# are the same bits. Both copies are compiled with the build's flags; every
# function either defines is renamed old_... / new_..., what they call comes
# from the library (build/libmtp.a, or an AVX2 build's with --isa avx2).
#   bash bench/kernel_ab.sh KERNEL [REV] [--isa native|avx2] [-- DRIVER ARGS]
# KERNEL: attention (training, ops/cpu/attention.c), decode_attention, q8
# (int8 decode products), packed (float32 decode products). REV: HEAD by
# default. DRIVER ARGS: e.g. --repeats 21 --hd 64 (attention), --caches 8
# (decode_attention), --blocks 8 (q8, packed); each driver has --help.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
[ $# -ge 1 ] || { usage >&2; exit 2; }
case $1 in
    -h | --help) usage; exit 0 ;;
    attention) file=attention.c driver=attention.c defs= ;;
    decode_attention) file=decode_attention.c driver=decode_attention.c defs= ;;
    q8) file=q8.c driver=products.c defs=-DPRODUCT_Q8 ;;
    packed) file=packed.c driver=products.c defs= ;;
    *) echo "kernel_ab.sh: unknown kernel '$1': attention, decode_attention, q8 or packed" >&2; exit 2 ;;
esac
kernel=$1
shift
rev=HEAD
if [[ $# -gt 0 && $1 != -* ]]; then rev=$1; shift; fi
isa=native
args=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --isa) isa=${2:?--isa needs native or avx2}; shift 2 ;;
        --) shift; args=("$@"); break ;;
        *) echo "kernel_ab.sh: unknown argument '$1' (driver arguments go after --)" >&2; exit 2 ;;
    esac
done
case $isa in
    native) march=native lib_build=build ;;
    avx2) march=x86-64-v3 lib_build=build/kernel_ab/avx2 ;;
    *) echo "kernel_ab.sh: --isa $isa: native or avx2" >&2; exit 2 ;;
esac
out=build/kernel_ab/$kernel.$isa
mkdir -p "$out"
git show "$rev:src/ops/cpu/$file" >"$out/old.c" 2>/dev/null || {
    echo "kernel_ab.sh: no src/ops/cpu/$file at revision '$rev'" >&2
    exit 2
}
# the library, built standalone even from inside another make (a test run by make -j2 test)
if [ "$isa" = native ]; then
    MAKEFLAGS= make -s -j2 build/libmtp.a
else
    MAKEFLAGS= make -s -j2 BUILD="$lib_build" OPT="-O3 -march=x86-64-v3" "$lib_build/libmtp.a"
fi
blas_inc=$(sed -n 's/^BLAS_INC ?= //p' Makefile)
flags=(-std=c11 -O3 "-march=$march" -ffp-contract=fast -fopenmp -Wall -Wextra -Werror -Isrc -Iinclude "-I$blas_inc"
       -iquote src/ops/cpu)
# one copy: compiled, then each function it defines renamed with the prefix
prefixed() {  # SOURCE PREFIX OBJECT
    gcc "${flags[@]}" -c "$1" -o "$3.tmp.o"
    nm --defined-only -g "$3.tmp.o" | awk -v p="$2" 'NF == 3 && $2 ~ /[TDBR]/ {print $3, p $3}' >"$3.syms"
    objcopy --redefine-syms="$3.syms" "$3.tmp.o" "$3"
}
prefixed "$out/old.c" old_ "$out/old.o"
prefixed "src/ops/cpu/$file" new_ "$out/new.o"
gcc "${flags[@]}" $defs -Ibench/kernel_ab "bench/kernel_ab/$driver" "$out/old.o" "$out/new.o" \
    "$lib_build/libmtp.a" -o "$out/ab" -lopenblas -lcjson -lpcre2-8 -lm
echo "src/ops/cpu/$file at $rev (old) against the working tree (new), $isa build, $(nproc) cores"
"$out/ab" "${args[@]}"
