#!/usr/bin/env bash
# test_prepare.sh: `mtp prepare` end to end on a small directory tree: the
# --glob walk (hidden entries and symlink loops skipped), shard header counts
# (bytes + one end-of-text per document), sharding, determinism across thread
# counts, the single-file train/val cut, --force, --tokenizer PATH, --doc-separator,
# GPT-2's BPE on real text, and the one-line errors for bad inputs. Needs the mtp binary ($MTP).
set -u
MTP=${MTP:-build/mtp}
if [ ! -x "$MTP" ]; then
    echo "skip: $MTP is not built (make build/mtp first)"
    exit 77
fi
T=$(mktemp -d /tmp/mtp_test_prepare.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
check() { # check DESCRIPTION COMMAND...: runs the command, reports failure
    local what=$1; shift
    if "$@"; then echo "ok    $what"; else echo "FAIL  $what"; fail=1; fi
}
# The token count in a shard's header (int32 at byte 8).
count() { od -An -t d4 -j 8 -N 4 "$1" | tr -d ' '; }
magic() { od -An -t d4 -j 0 -N 4 "$1" | tr -d ' '; }
# Sum of the header counts of DIR/SPLIT_*.bin (0 if none).
total() {
    local sum=0 f
    for f in "$1"/"$2"_*.bin; do [ -f "$f" ] && sum=$((sum + $(count "$f"))); done
    echo $sum
}
# Checks each shard's size is 1024 + 2 * count (uint16) and the magic.
sizes_match() {
    local f
    for f in "$1"/*_*.bin; do
        [ "$(magic "$f")" = 20240520 ] || return 1
        [ "$(stat -c %s "$f")" -eq $((1024 + 2 * $(count "$f"))) ] || return 1
    done
}
# Expects a non-zero exit and one stderr line containing TEXT.
expect_error() { # expect_error DESCRIPTION TEXT ARGS...
    local what=$1 text=$2; shift 2
    "$MTP" prepare "$@" >"$T/out.txt" 2>"$T/err.txt"
    local rc=$?
    local lines
    lines=$(wc -l <"$T/err.txt")
    if [ $rc -ne 0 ] && [ "$lines" -eq 1 ] && grep -qF -- "$text" "$T/err.txt"; then
        echo "ok    $what: $(cat "$T/err.txt")"
    else
        echo "FAIL  $what: rc $rc, expected one line with '$text', got:"; cat "$T/err.txt"; fail=1
    fi
}

# A small source tree.
S=$T/src
mkdir -p "$S/pkg/sub" "$S/.hidden" "$S/empty"
printf 'print("hello")\n' >"$S/a.py"
printf 'def f(x):\n    return x * 2\n' >"$S/pkg/b.py"
printf 'import os\n# caf\xc3\xa9 \xff invalid utf-8 byte\n' >"$S/pkg/sub/c.py"
printf '' >"$S/pkg/sub/empty.py"
printf 'not python\n' >"$S/pkg/notes.txt"
printf 'x = 1\n' >"$S/.hidden/d.py"
printf 'y = 2\n' >"$S/pkg/.e.py"
for i in $(seq 1 30); do printf 'value_%d = %d\n' "$i" "$i" >"$S/pkg/m$i.py"; done
ln -s .. "$S/pkg/sub/loop"       # a loop back to pkg/
ln -s ../a.py "$S/pkg/alias.py"  # the same file again under another name
ln -s nowhere "$S/pkg/dangling.py"
py_files=$(find "$S" -name '*.py' -not -path '*/.*' -type f)
ndocs=$(echo "$py_files" | wc -l)
nbytes=$(cat $py_files | wc -c)

D=$T/data
"$MTP" prepare --out "$D" --glob '*.py' --val-fraction 0.2 --seed 7 "$S" >"$T/summary.txt" 2>"$T/progress.txt"
check "prepare exits 0" [ $? -eq 0 ]
cat "$T/summary.txt"
check "train and val shards and tokenizer.json exist" \
    test -f "$D/train_000000.bin" -a -f "$D/val_000000.bin" -a -f "$D/tokenizer.json"
train=$(total "$D" train) val=$(total "$D" val)
check "header counts add up to bytes + documents ($train + $val = $nbytes + $ndocs)" \
    [ $((train + val)) -eq $((nbytes + ndocs)) ]
check "both splits non-empty" [ "$train" -gt 0 -a "$val" -gt 0 ]
check "shard sizes match their headers (uint16)" sizes_match "$D"
check "summary counts the files" grep -q "^mtp prepare: $ndocs files, $nbytes bytes" "$T/summary.txt"
check "progress ends at 100%" grep -q "100.0%" "$T/progress.txt"
check "no temporary files left" [ -z "$(ls -A "$D" | grep -v -e '^train_' -e '^val_' -e '^tokenizer.json$')" ]

# Small shards: same tokens, every train shard but the last holds exactly 50.
D2=$T/data_small
OMP_NUM_THREADS=1 "$MTP" prepare --quiet --out "$D2" --glob '*.py' --val-fraction 0.2 --seed 7 --shard-tokens 50 \
    "$S" >/dev/null 2>&1
check "--shard-tokens 50: same totals" [ "$(total "$D2" train)" -eq "$train" -a "$(total "$D2" val)" -eq "$val" ]
nshards=$(ls "$D2"/train_*.bin | wc -l)
check "--shard-tokens 50: $nshards train shards of 50" \
    [ "$nshards" -eq $(((train + 49) / 50)) -a "$(count "$D2/train_000000.bin")" -eq 50 ]
cat "$D2"/train_*.bin >/dev/null
# The concatenated token streams are identical (headers stripped).
strip() { for f in "$1"/"$2"_*.bin; do tail -c +1025 "$f"; done; }
check "sharding does not change the stream" cmp -s <(strip "$D" train) <(strip "$D2" train)

# Determinism: 1 thread vs 4 threads, byte-identical output.
D3=$T/data_t4
OMP_NUM_THREADS=4 "$MTP" prepare --quiet --out "$D3" --glob '*.py' --val-fraction 0.2 --seed 7 "$S" >/dev/null 2>&1
D4=$T/data_t1
OMP_NUM_THREADS=1 "$MTP" prepare --quiet --out "$D4" --glob '*.py' --val-fraction 0.2 --seed 7 "$S" >/dev/null 2>&1
check "same output with 1 and 4 threads" diff -r "$D3" "$D4"
check "same output as the first run" cmp -s "$D/train_000000.bin" "$D3/train_000000.bin"

# The first document in walk order is a.py: its bytes then end-of-text
# (256) open the stream of whichever split it went to.
first=$(strip "$D" train | od -An -t u2 -N 32 | tr -s ' \n' ' ')
firstv=$(strip "$D" val | od -An -t u2 -N 32 | tr -s ' \n' ' ')
expect=" 112 114 105 110 116 40 34 104 101 108 108 111 34 41 10 256"
check "a.py then <|endoftext|> starts a split" [ "${first:0:${#expect}}" = "$expect" -o "${firstv:0:${#expect}}" = "$expect" ]

# --val-fraction 0: no val shard.
D5=$T/data_noval
"$MTP" prepare --quiet --out "$D5" --glob '*.py' --val-fraction 0 "$S" >/dev/null 2>&1
check "--val-fraction 0: no val shard, all tokens in train" \
    [ ! -e "$D5/val_000000.bin" -a "$(total "$D5" train)" -eq $((nbytes + ndocs)) ]

# A single file is cut: val is its tail, each part ends with end-of-text.
big=$T/one.txt
for i in $(seq 1 2000); do echo "line $i of a single long document"; done >"$big"
D6=$T/data_one
"$MTP" prepare --quiet --out "$D6" --val-fraction 0.1 "$big" >"$T/summary.txt" 2>&1
size=$(stat -c %s "$big")
t6=$(total "$D6" train) v6=$(total "$D6" val)
check "single file: train + val = bytes + 2 ($t6 + $v6)" [ $((t6 + v6)) -eq $((size + 2)) ]
check "single file: val is about 10%" [ "$v6" -gt $((size / 12)) -a "$v6" -lt $((size / 8)) ]
check "single file: val starts at a line start" \
    [ "$(tail -c +1025 "$D6/val_000000.bin" | od -An -t u2 -N 10 | tr -s ' ')" = " 108 105 110 101 32" ]
check "single file: summary says it was cut" grep -q "cut into train and val" "$T/summary.txt"

# --tokenizer PATH: the saved tokenizer.json loads and gives the same shards.
D7=$T/data_tokpath
"$MTP" prepare --quiet --out "$D7" --tokenizer "$D6/tokenizer.json" --val-fraction 0.1 "$big" >/dev/null 2>&1
check "--tokenizer PATH gives the same shards" diff -r "$D6" "$D7"

# An existing data directory needs --force; --force removes stale shards.
expect_error "existing shards without --force" "$D2" --out "$D2" --glob '*.py' "$S"
"$MTP" prepare --quiet --force --out "$D2" --glob '*.py' --val-fraction 0.2 --seed 7 "$S" >/dev/null 2>&1
check "--force replaces the shards (stale ones removed)" diff -r "$D" "$D2"
# The output directory inside the input is not read back.
"$MTP" prepare --quiet --out "$S/data" --glob '*.bin' --val-fraction 0 "$T/data_small" >/dev/null 2>&1
before=$(total "$S/data" train)
"$MTP" prepare --quiet --force --out "$S/data" --val-fraction 0 "$S" >/dev/null 2>&1
check "the output directory is skipped when inside an input" \
    [ "$(total "$S/data" train)" -eq $(($(find "$S" -type f -not -path '*/.*' -not -path "$S/data/*" | xargs cat | wc -c) + $(find "$S" -type f -not -path '*/.*' -not -path "$S/data/*" | wc -l))) ]
[ "$before" -gt 0 ] || { echo "FAIL  setup of the output-inside-input case"; fail=1; }

# Errors: a non-zero exit and one line naming the offending path or flag.
expect_error "missing input" "$T/no/such/file.txt" --out "$T/e1" "$T/no/such/file.txt"
expect_error "unwritable --out" "/proc/x" --out /proc/x "$S"
expect_error "no matching files" "$S" --out "$T/e2" --glob '*.zzz' "$S"
expect_error "no files at all" "$S/empty" --out "$T/e3" "$S/empty"
expect_error "no inputs" "no inputs" --out "$T/e4"
expect_error "missing --out" "--out" "$S"
expect_error "unknown flag" "--frobnicate" --frobnicate --out "$T/e5" "$S"
expect_error "bad --val-fraction" "--val-fraction" --val-fraction 2 --out "$T/e6" "$S"
expect_error "bad --shard-tokens" "--shard-tokens" --shard-tokens 0 --out "$T/e7" "$S"
expect_error "flag without value" "--seed" --out "$T/e8" "$S" --seed
expect_error "bad tokenizer file" "$S/a.py" --tokenizer "$S/a.py" --out "$T/e9" "$S"
expect_error "missing tokenizer" "$T/nope.json" --tokenizer "$T/nope.json" --out "$T/e9" "$S"
check "failed runs created nothing" [ ! -e "$T/e1" -a ! -e "$T/e2" -a ! -e "$T/e9" ]
check "--help exits 0 and documents the flags" \
    bash -c "'$MTP' prepare --help | grep -q -- '--shard-tokens' && '$MTP' prepare --help | grep -q -- '--val-fraction'"

# --doc-separator: documents between separators, blanks trimmed, empty ones
# dropped, the separator not encoded. Tokens read back with od (uint16).
tokens() { od -An -t u2 -j 1024 -v "$1" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'; }
printf 'Ab\n<|endoftext|>\n c \n<|endoftext|>\n \n<|endoftext|><|endoftext|>\nd' >"$T/sep.txt"
"$MTP" prepare --quiet --out "$T/sep" --val-fraction 0 --doc-separator '<|endoftext|>' "$T/sep.txt" >"$T/sep.out" 2>&1
check "--doc-separator: 3 documents, each ended by end-of-text" [ "$(tokens "$T/sep/train_000000.bin")" = "65 98 256 99 256 100 256" ]
check "--doc-separator: summary counts 3 documents" grep -q "3 train / 0 val documents" "$T/sep.out"
# A single file with separators is cut into train and val at a document start.
"$MTP" prepare --quiet --out "$T/sep2" --val-fraction 0.3 --doc-separator '<|endoftext|>' "$T/sep.txt" >/dev/null 2>&1
check "--doc-separator: val starts at a document" [ "$(tokens "$T/sep2/train_000000.bin") | $(tokens "$T/sep2/val_000000.bin")" = "65 98 256 99 256 | 100 256" ]
# A file ending in a separator and a line break: val is the last document, not the blank after it.
printf 'Ab\n<|endoftext|>\nCd\n<|endoftext|>\n' >"$T/sep3.txt"
"$MTP" prepare --quiet --out "$T/sep3" --val-fraction 0.5 --doc-separator '<|endoftext|>' "$T/sep3.txt" >/dev/null 2>&1
check "--doc-separator: a trailing separator leaves val its last document" [ "$(tokens "$T/sep3/train_000000.bin") | $(tokens "$T/sep3/val_000000.bin" 2>/dev/null)" = "65 98 256 | 67 100 256" ]
# A separator across the cut point is not cut in two (neither half encoded as text).
{ head -c 89 /dev/zero | tr '\0' a; printf ' <|endoftext|> Bb'; } >"$T/sep4.txt"
"$MTP" prepare --quiet --out "$T/sep4" --val-fraction 0.05 --doc-separator '<|endoftext|>' "$T/sep4.txt" >/dev/null 2>&1
check "--doc-separator: a separator across the cut is not split" [ "$(tokens "$T/sep4/val_000000.bin" 2>/dev/null)" = "66 98 256" ]
expect_error "empty --doc-separator" "--doc-separator ''" --doc-separator '' --out "$T/e10" "$S"

# Real data, when the shared folder is there: Tiny Shakespeare, one document.
if [ -n "${MTP_DATA:-}" ] && [ -f "$MTP_DATA/tinyshakespeare/input.txt" ]; then
    D8=$T/shakespeare
    "$MTP" prepare --quiet --out "$D8" "$MTP_DATA/tinyshakespeare/input.txt" >/dev/null 2>&1
    size=$(stat -c %s "$MTP_DATA/tinyshakespeare/input.txt")
    check "tinyshakespeare: train + val = bytes + 2" [ $(($(total "$D8" train) + $(total "$D8" val))) -eq $((size + 2)) ]
    # GPT-2's BPE from its encoder.json + vocab.bpe, no val: the shard holds
    # exactly tiktoken's ids for the file, then end-of-text (50256).
    if [ -f "$MTP_DATA/gpt2/testvectors/input.txt.gpt2.u16le" ]; then
        D9=$T/shakespeare_gpt2
        "$MTP" prepare --quiet --out "$D9" --val-fraction 0 --tokenizer "$MTP_DATA/gpt2" \
            "$MTP_DATA/tinyshakespeare/input.txt" >/dev/null 2>&1
        head -c -2 <(tail -c +1025 "$D9/train_000000.bin") >"$T/ids.bin"
        check "tinyshakespeare with GPT-2 BPE: shard = tiktoken's ids + 50256" \
            cmp -s "$T/ids.bin" "$MTP_DATA/gpt2/testvectors/input.txt.gpt2.u16le"
        check "tinyshakespeare with GPT-2 BPE: last token is 50256" \
            [ "$(tail -c 2 "$D9/train_000000.bin" | od -An -t u2 | tr -d ' ')" = 50256 ]
        check "GPT-2 data dir: tokenizer.json written and loadable" \
            bash -c "echo 'Hello world' | '$MTP' tokenizer encode --tokenizer '$D9' | grep -qx '15496 995 198'"
    fi
else
    echo "note: MTP_DATA not available, Tiny Shakespeare case skipped"
fi

[ $fail -eq 0 ] && echo "all prepare tests passed"
exit $fail
