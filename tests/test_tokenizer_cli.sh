#!/usr/bin/env bash
# mtp tokenizer encode / decode / train / bench end to end, and a token-level
# (BPE) model through prepare, train and generate: the tokenizer travels from
# the data directory into the checkpoint, and speculative greedy output
# equals plain greedy output. GPT-2 checks need $MTP_DATA/gpt2.
set -u
source "$(dirname "$0")/lib.sh"

# The byte tokenizer.
[ "$(M tokenizer encode --tokenizer bytes --text 'ab')" = "97 98" ] || fail "bytes encode"
[ "$(M tokenizer decode --tokenizer bytes --ids '[104, 105]')" = "hi" ] || fail "bytes decode of a JSON array"

G=${MTP_DATA:-}/gpt2
if [ -n "${MTP_DATA:-}" ] && [ -f "$G/encoder.json" ]; then
    [ "$(printf 'Hello world' | M tokenizer encode --tokenizer "$G")" = "15496 995" ] || fail "gpt2 encode from stdin"
    [ "$(M tokenizer encode --tokenizer "$G" --text 'Hello world' --json)" = "[15496, 995]" ] || fail "gpt2 --json"
    [ "$(M tokenizer encode --tokenizer "$G" --text 'hello <|endoftext|>' --allow-special)" = "31373 220 50256" ] ||
        fail "--allow-special"
    [ "$(M tokenizer encode --tokenizer "$G" --text 'hello <|endoftext|>')" = "31373 1279 91 437 1659 5239 91 29" ] ||
        fail "special text without --allow-special is ordinary text"
    printf 'caf\xc3\xa9 \xff\xfe invalid  \n\n\tdef f():\n    return 1 # \xe4\xb8\x96\xe7\x95\x8c\n' >odd.txt
    M tokenizer encode --tokenizer "$G" <odd.txt | M tokenizer decode --tokenizer "$G" >odd.out
    cmp -s odd.txt odd.out || fail "gpt2 encode | decode does not give back the bytes"
    [ "$(M tokenizer decode --tokenizer "$G" --ids '15496 995')" = "Hello world" ] || fail "gpt2 decode"
    M tokenizer bench --tokenizer "$G" --repeat 1 odd.txt | grep -q "MB/s" || fail "tokenizer bench"
    expect_error "id out of range" "50257" -- M tokenizer decode --tokenizer "$G" --ids '1 50257'
else
    echo "note: MTP_DATA/gpt2 not available, GPT-2 checks skipped"
fi

# Training: deterministic for any thread count, and the result loads.
mkdir corpus
for i in $(seq 1 300); do
    echo "def add_$((i % 13))(x, y):  # line $i"
    echo "    return x + y * $((i % 5))"
done >corpus/a.py
printf 'the end<|endoftext|>the start\n' >corpus/b.py
M tokenizer train --quiet --vocab-size 320 --threads 1 --out tok1.json corpus >train.out || fail "tokenizer train"
grep -q "vocab 320" train.out || fail "train summary: $(cat train.out)"
M tokenizer train --quiet --vocab-size 320 --threads 2 --out tok2.json corpus >/dev/null || fail "train, 2 threads"
cmp -s tok1.json tok2.json || fail "training differs between 1 and 2 threads"
ids=$(M tokenizer encode --tokenizer tok1.json <corpus/a.py)
[ "$(echo "$ids" | wc -w)" -lt "$(wc -c <corpus/a.py)" ] || fail "the trained BPE does not compress its own corpus"
echo "$ids" | M tokenizer decode --tokenizer tok1.json | cmp -s - corpus/a.py || fail "trained BPE round trip"
[ "$(M tokenizer encode --tokenizer tok1.json --text '<|endoftext|>' --allow-special)" = "319" ] ||
    fail "the special token is the last id"

# A token-level model end to end.
M prepare --quiet --tokenizer tok1.json --out data --val-fraction 0 corpus >/dev/null 2>&1 || fail "prepare with BPE"
cmp -s tok1.json data/tokenizer.json || fail "the data directory's tokenizer.json differs from the one given"
M train --data data --out run --n-layer 4 --n-future 3 --dim 32 --n-head 4 --seq-len 32 --batch 8 --steps 60 \
    --lr 3e-3 --eval-every 0 --threads 2 >/dev/null 2>&1 || fail "train on BPE shards"
cmp -s tok1.json run/step_00000060/tokenizer.json || fail "the checkpoint's tokenizer.json differs"
a=$(M generate --model run --prompt "def add_1(x" --max-new 30 --speculative 0)
b=$(M generate --model run --prompt "def add_1(x" --max-new 30 --speculative 2)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "BPE model: speculative greedy output differs from plain ('$a' vs '$b')"
M sample --model run --prompt "def" --max-new 10 >/dev/null 2>&1 || fail "sample with a BPE model"

# Tokens longer than 256 bytes (runs of '=' merge up to 512 bytes) reach the
# generated text whole: 4 such tokens give more than 4 x 256 bytes.
mkdir long
for i in $(seq 200); do printf '%0.s=' $(seq 600); echo; done >long/c.txt
M tokenizer train --quiet --vocab-size 300 --out long/t.json long/c.txt >/dev/null || fail "train on '=' runs"
M prepare --quiet --tokenizer long/t.json --val-fraction 0 --out long/d long/c.txt >/dev/null 2>&1 || fail "prepare '='"
M train --data long/d --out long/r --n-layer 3 --n-future 2 --dim 32 --n-head 4 --seq-len 32 --batch 8 --steps 60 \
    --lr 3e-3 --eval-every 0 --threads 2 >/dev/null 2>&1 || fail "train on '=' runs"
n=$(M generate --model long/r --prompt "=" --max-new 4 --speculative 0 --json |
    /usr/bin/env python3 -c "import json,sys; print(len(json.load(sys.stdin)['text']))")
[ "${n:-0}" -gt 1024 ] || fail "generate with long tokens: $n bytes for 4 tokens (tokens cut or dropped)"

# Bad input.
expect_error "no tokenizer" "--tokenizer" -- M tokenizer encode --text hi
expect_error "missing tokenizer file" "nope.json" -- M tokenizer encode --tokenizer nope.json --text hi
expect_error "unknown subcommand" "frobnicate" -- M tokenizer frobnicate
expect_error "not an id" "not an integer" -- M tokenizer decode --tokenizer bytes --ids '1 x2'
expect_error "nested array" "inside the ids" -- M tokenizer decode --tokenizer bytes --ids '[[104]]'
expect_error "extra bracket" "inside the ids" -- M tokenizer decode --tokenizer bytes --ids '[104, 105]]'
expect_error "unclosed array" "closing" -- M tokenizer decode --tokenizer bytes --ids '[104'
expect_error "id past a long" "id 1111" -- M tokenizer decode --tokenizer bytes --ids "$(printf '1%.0s' $(seq 1 40))"
[ "$(M tokenizer decode --tokenizer bytes --ids ' [ 104 ,105 ] ')" = "hi" ] || fail "array with blanks"
expect_error "vocab too small" "--vocab-size" -- M tokenizer train --vocab-size 10 --out t.json corpus
expect_error "train without inputs" "no inputs" -- M tokenizer train --vocab-size 300 --out t.json
expect_error "train without --out" "--out" -- M tokenizer train --vocab-size 300 corpus
expect_error "train on a missing input" "missing_dir" -- M tokenizer train --vocab-size 300 --out t.json missing_dir
printf '{"model": {"type": "BPE", "merges": ["a b"]}}' >bad.json
expect_error "broken tokenizer.json" "bad.json" -- M tokenizer encode --tokenizer bad.json --text hi
[ ! -e t.json ] || fail "a failed train left t.json behind"
M tokenizer encode --help | grep -q -- "--allow-special" || fail "--help"
# a flag where a value should be, an empty --out: refused at once, nothing written
expect_error "a flag for --out's value" "--out needs a value, not the flag --quiet" -- \
    M tokenizer train --vocab-size 300 --out --quiet corpus
[ ! -e ./--quiet ] || fail "a file named --quiet was written"
expect_error "an empty --out" "an empty path" -- M tokenizer train --vocab-size 300 --out '' corpus
# a flag repeated past the table's size: the later flags still count
M tokenizer train $(for i in $(seq 100); do printf -- '-q '; done) --vocab-size 300 --out many.json corpus \
    >/dev/null 2>err.txt || fail "100 repeated flags: $(cat err.txt)"
[ -f many.json ] || fail "100 repeated flags: --out was forgotten"
# a byte-level BPE trained to no merges (an empty input) loads and encodes
: >empty.txt
M tokenizer train --quiet --vocab-size 300 --out none.json empty.txt >/dev/null || fail "train on an empty file"
[ "$(M tokenizer encode --tokenizer none.json --text hi 2>&1)" = "104 105" ] ||
    fail "a tokenizer of no merges: $(M tokenizer encode --tokenizer none.json --text hi 2>&1)"

finish tokenizer_cli
