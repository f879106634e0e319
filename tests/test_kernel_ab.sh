#!/usr/bin/env bash
# bench/kernel_ab.sh, the old-against-new harness of the CPU kernels: each
# kernel at HEAD against the working tree on small shapes. Where the two are
# the same code (a clean checkout) every table row reports the same bits (or a
# largest difference of 0), which checks the renaming, the linking and the
# drivers' comparisons; bad arguments fail with one line.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tests/lib.sh"
[ "${BUILD:-build}" = build ] || { echo "skip: the harness links build/libmtp.a (BUILD=$BUILD here)"; exit 77; }
git -C "$root" rev-parse --verify -q HEAD >/dev/null || { echo "skip: not a git checkout"; exit 77; }
if ! git -C "$root" diff --quiet HEAD -- src/ops/cpu; then
    echo "skip: src/ops/cpu differs from HEAD (the check needs the same code on both sides)"
    exit 77
fi
ab() { bash "$root/bench/kernel_ab.sh" "$@"; }

ab attention -- --repeats 2 --batch 1 --seq 100 --heads 2 --hd 32 >att.txt 2>&1 || fail "attention: $(tail -3 att.txt)"
[ "$(grep -c '^| \(forward\|backward\) .* | 0 |$' att.txt)" -eq 2 ] ||
    fail "attention: forward and backward should differ by 0: $(cat att.txt)"
ab decode_attention -- --repeats 2 --caches 2 --context 70 --heads 2 --hd 64 >dec.txt 2>&1 ||
    fail "decode_attention: $(tail -3 dec.txt)"
[ "$(grep -c '| yes |$' dec.txt)" -eq 3 ] || fail "decode_attention: 3 rows of the same bits: $(cat dec.txt)"
for k in q8 packed; do
    ab $k -- --repeats 2 --blocks 1 --dim 64 --ffn 128 >$k.txt 2>&1 || fail "$k: $(tail -3 $k.txt)"
    [ "$(grep -c '| yes |$' $k.txt)" -eq 6 ] || fail "$k: 6 rows of the same bits: $(cat $k.txt)"
done

expect_error "unknown kernel" "unknown kernel 'gemm'" -- ab gemm
expect_error "unknown revision" "no src/ops/cpu/q8.c at revision" -- ab q8 no-such-revision
expect_error "bad isa" "native or avx2" -- ab q8 --isa avx512
expect_error "driver flag" "give a whole number" -- ab packed -- --blocks 0
finish test_kernel_ab
