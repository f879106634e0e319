#!/usr/bin/env bash
# The gzip reader (src/core/inflate.c) against Python's zlib and gzip: every
# kind of DEFLATE block (stored, fixed, dynamic; all levels and strategies),
# gzip headers with every optional field, several members, empty input; and
# damaged files (corrupt data, bad CRC, truncation, trailing bytes, a
# decompression bomb past the cap) refused with one line, never a crash.
set -u
source "$(dirname "$0")/lib.sh"
GUNZIP="$(dirname "$MTP")/tools/gunzip"
[ -x "$GUNZIP" ] || { echo "skip: $GUNZIP not built"; exit 77; }
/usr/bin/env python3 - <<'PY' || fail "making the test files"
import gzip, os, random, struct, zlib
random.seed(7)
def text(n):
    words = ["def", "return", "self", "x", "(", ")", ":", "\n    ", " ", "import", "numpy", "==", "0", "1"]
    return "".join(random.choice(words) for _ in range(n)).encode()
inputs = {
    "empty": b"",
    "one": b"a",
    "text": text(20000),
    "binary": bytes(random.getrandbits(8) for _ in range(70000)),
    "runs": b"\0" * 100000 + b"ab" * 40000,
    "unicode": ("héllo wörld ✓ 🙂\n" * 3000).encode(),
}
os.makedirs("cases", exist_ok=True)
def raw_gzip(data, level, strategy, mem=8):
    c = zlib.compressobj(level, zlib.DEFLATED, 31, mem, strategy)  # wbits 31: gzip wrapper
    return c.compress(data) + c.flush()
for name, data in inputs.items():
    open(f"cases/{name}.plain", "wb").write(data)
    for level in (0, 1, 6, 9):
        open(f"cases/{name}.l{level}.gz", "wb").write(gzip.compress(data, level))
    for sname, strat in (("fixed", zlib.Z_FIXED), ("huffman", zlib.Z_HUFFMAN_ONLY), ("rle", zlib.Z_RLE),
                         ("filtered", zlib.Z_FILTERED)):
        open(f"cases/{name}.{sname}.gz", "wb").write(raw_gzip(data, 6, strat))
    open(f"cases/{name}.mem1.gz", "wb").write(raw_gzip(data, 9, zlib.Z_DEFAULT_STRATEGY, 1))
# every optional header field: FTEXT, FHCRC, FEXTRA, FNAME, FCOMMENT
data = inputs["text"]
c = zlib.compressobj(9, zlib.DEFLATED, -15)
body = c.compress(data) + c.flush()
head = b"\x1f\x8b\x08" + bytes([1 | 2 | 4 | 8 | 16]) + struct.pack("<I", 0) + b"\x02\x03"
head += struct.pack("<H", 5) + b"extra" + b"name.txt\0" + b"a comment\0"
head += struct.pack("<H", zlib.crc32(head) & 0xffff)
trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xffffffff)
open("cases/headers.plain", "wb").write(data)
open("cases/headers.gz", "wb").write(head + body + trailer)
# several members, as `cat a.gz b.gz` makes
open("cases/members.plain", "wb").write(inputs["text"] + inputs["unicode"] + b"")
open("cases/members.gz", "wb").write(gzip.compress(inputs["text"]) + gzip.compress(inputs["unicode"]) + gzip.compress(b""))
# damaged files
good = open("cases/text.l6.gz", "rb").read()
bad = {
    "badcrc": good[:-8] + struct.pack("<I", (zlib.crc32(inputs["text"]) ^ 1)) + good[-4:],
    "badsize": good[:-4] + struct.pack("<I", len(inputs["text"]) + 1),
    "truncated": good[: len(good) // 2],
    "notrailer": good[:-3],
    "trailing": good + b"garbage!",
    "badmethod": good[:2] + b"\x07" + good[3:],
    "reserved": good[:3] + b"\x80" + good[4:],
    "corrupt": good[:40] + bytes([good[40] ^ 0xff]) + good[41:],
    "blocktype3": good[:10] + b"\x07" + good[11:],
    "storednlen": b"\x1f\x8b\x08\x00" + b"\0" * 6 + b"\x01\x05\x00\x05\x00hello" + b"\0" * 8,
}
for name, blob in bad.items():
    open(f"cases/{name}.bad", "wb").write(blob)
open("cases/bomb.gz", "wb").write(gzip.compress(b"\0" * (8 << 20), 9))
PY
for plain in cases/*.plain; do
    base=${plain%.plain}
    for gz in "$base".*gz; do
        [ -f "$gz" ] || continue
        "$GUNZIP" "$gz" >out.bin 2>err.txt || { fail "$gz: $(cat err.txt)"; continue; }
        cmp -s out.bin "$plain" || fail "$gz: output differs from the original"
    done
done
n=$(ls cases/*.gz | wc -l)
[ "$n" -ge 40 ] || fail "only $n gzip cases"
for bad in cases/*.bad; do
    expect_error "damaged $(basename "$bad")" "$(basename "$bad")" -- "$GUNZIP" "$bad"
done
expect_error "past the cap" "more than 1048576 bytes" -- "$GUNZIP" cases/bomb.gz 1048576
"$GUNZIP" cases/bomb.gz 9000000 | cmp -s - <(head -c $((8 << 20)) /dev/zero) || fail "bomb under a larger cap"
# a file that is not gzip is read as it is
"$GUNZIP" cases/text.plain | cmp -s - cases/text.plain || fail "plain file"
finish inflate
