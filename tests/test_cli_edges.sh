#!/usr/bin/env bash
# Edges of the command line that once went wrong: --top-p 0 (top-1, not "no
# cut"), sample's prompt cut (room for --max-new), --precision where nothing
# trains, --speculative on a context smaller than the drafts, blanks, '+',
# hex and inf in numbers, convert's --tokenizer and --max-context, the help
# of required flags, and messages (directories, missing paths, plurals).
set -u
source "$(dirname "$0")/lib.sh"
export LC_ALL=C  # lengths in bytes
speaker_corpus 300
M prepare --quiet --out data --val-fraction 0.1 corpus >/dev/null 2>&1 || fail "prepare"
M train --data data --out run --n-layer 4 --n-future 3 --dim 32 --n-head 2 --seq-len 64 --batch 8 --steps 200 \
    --lr 3e-3 --eval-every 0 --save-every 0 --threads 1 >/dev/null 2>&1 || fail "train"
ckpt=$(ls -d run/step_* | tail -1)
G() { M generate --model run --threads 1 "$@"; }

# ---- --top-p 0 keeps only the most likely token: greedy's text, for every K
greedy=$(G --prompt "line 1" --max-new 40 --temperature 0 --speculative 0)
for k in 0 2 auto; do
    out=$(G --prompt "line 1" --max-new 40 --temperature 1 --top-p 0 --seed 3 --speculative $k)
    [ "$out" = "$greedy" ] || fail "--top-p 0 --speculative $k: '$out' is not greedy's '$greedy'"
done
out=$(G --prompt "line 1" --max-new 40 --temperature 1 --top-k 1 --seed 3 --speculative 2)
[ "$out" = "$greedy" ] || fail "--top-k 1: '$out' is not greedy's '$greedy'"

# ---- sample: a prompt longer than the context keeps room for --max-new tokens: 64 - 30 + 1 = 35 of
# them (the first new token takes no position)
prompt=$(head -c 500 corpus/a.txt | tr '\n' ' ')
out=$(M sample --model run --threads 1 --prompt "$prompt" --max-new 30 --temperature 0 2>err.txt) || fail "sample"
[ "${out:0:500}" = "$prompt" ] || fail "sample: the output does not start with the prompt"
[ $((${#out} - 500)) -eq 30 ] || fail "sample: $((${#out} - 500)) new bytes, expected 30: '${out:500}'"
[ "$(wc -l <err.txt)" -eq 1 ] && grep -q "last 35" err.txt || fail "sample: the note on stderr: $(cat err.txt)"

# ---- --precision is refused (exit 2) where nothing trains
echo "line 1" >prompts.txt
echo '{"prompt": "line 1", "answer": "x"}' >items.jsonl
echo '{"query": "line", "choices": [" 1", " 2"], "gold": 0}' >choice.jsonl
for c in "generate --prompt a" "sample --prompt a" "eval --data data" "eval-choice --data choice.jsonl" \
    "eval-gen --data items.jsonl" "bench-decode --prompts prompts.txt --max-new 8" \
    "eval-induction --data items.jsonl"; do
    # shellcheck disable=SC2086
    expect_error "$c --precision bf16" "--precision" -- M $c --model run --precision bf16 --device cpu
    # shellcheck disable=SC2086
    M $c --model run --precision bf16 --device cpu >/dev/null 2>&1
    [ $? -eq 2 ] || fail "$c --precision bf16: exit code is not 2"
done

# ---- eval refuses data prepared with another tokenizer than the model's (ids would mean other pieces)
M tokenizer train --quiet --vocab-size 300 --out other.json corpus >/dev/null 2>&1 || fail "tokenizer train"
M prepare --quiet --out data_bpe --val-fraction 0.1 --tokenizer other.json corpus >/dev/null 2>&1 ||
    fail "prepare data_bpe"
expect_error "eval on another tokenizer's data" "another tokenizer" -- M eval --model run --data data_bpe

# ---- --speculative on a context too small for the drafts: auto and all clamp, K is refused
for T in 2 3; do
    M train --data data --out ctx$T --n-layer 4 --n-future 3 --dim 32 --n-head 2 --seq-len $T --steps 0 \
        --threads 1 >/dev/null 2>&1 || fail "train --seq-len $T"
    plain=$(M generate --model ctx$T --threads 1 --prompt a --max-new 3 --speculative 0) || fail "ctx $T: plain"
    for k in auto all $((T - 1)); do
        out=$(M generate --model ctx$T --threads 1 --prompt a --max-new 3 --speculative $k 2>err.txt) ||
            fail "context $T, --speculative $k: $(cat err.txt)"
        [ "$out" = "$plain" ] || fail "context $T, --speculative $k: '$out' is not plain greedy's '$plain'"
    done
done
expect_error "--speculative 2 on a context of 2" "--speculative 2: the model's context is 2 tokens, so at most 1 drafting head\$" \
    -- M generate --model ctx2 --prompt a --max-new 3 --speculative 2
M eval-gen --model ctx2 --data items.jsonl --speculative 2 >/dev/null 2>err.txt && fail "eval-gen --speculative 2 on ctx2"
grep -q "at most 1 drafting head" err.txt || fail "eval-gen --speculative 2 on ctx2: $(cat err.txt)"
# bench-decode times every K: a context too short for K = n - 1 is refused up front, one that holds it runs
expect_error "bench-decode on a context of 2" "cannot hold a verification by all 3 heads" -- \
    M bench-decode --model ctx2 --prompts prompts.txt --max-new 1 --threads 1
M bench-decode --model ctx3 --prompts prompts.txt --max-new 1 --threads 1 >/dev/null 2>&1 ||
    fail "bench-decode on a context of 3"

# ---- numbers: no blanks, no leading '+', no hexadecimal, inf or nan
for bad in "--seed= -1" "--seed=+1" "--seed= 1" "--seed=1 " "--seed=0x10" "--seed=" "--max-new= 5" "--max-new=+5" \
    "--max-new=5 " "--max-new=0x10" "--top-k=+1" "--temperature=0x10" "--temperature= 1" "--temperature=+1" \
    "--temperature=1 " "--temperature=inf" "--temperature=nan" "--temperature=1e" "--temperature=." \
    "--top-p=0x0p0" "--speculative= 1" "--speculative=+1"; do
    flag=${bad%%=*}
    expect_error "$bad" "$flag '" -- G --prompt a "$bad"
done
for good in "--temperature=1e-1" "--temperature=.5" "--temperature=2." "--top-p=0.5" "--seed=18446744073709551615" \
    "--max-new=05" "--top-k=-0"; do
    G --prompt a --max-new 2 "$good" >/dev/null 2>err.txt || fail "$good refused: $(cat err.txt)"
done

# ---- convert: --tokenizer must load and fit the vocabulary; --max-context's range is the model's
echo "hello" >bad.txt
expect_error "convert --tokenizer (not a tokenizer)" "bad.txt" -- M convert --from hf --in "$ckpt" --out c1 --tokenizer bad.txt
grep -q -- "--tokenizer" err.txt || fail "convert --tokenizer bad.txt: $(cat err.txt)"
M tokenizer train --vocab-size 300 --out big.json corpus/a.txt >/dev/null 2>&1 || fail "tokenizer train"
expect_error "convert --tokenizer (too large)" "big.json has 300 tokens but the model's vocab_size is 257" \
    -- M convert --from hf --in "$ckpt" --out c2 --tokenizer big.json
grep -q -- "--tokenizer" err.txt || fail "convert --tokenizer big.json: $(cat err.txt)"
expect_error "convert --tokenizer DIR" "is a directory" -- M convert --from hf --in "$ckpt" --out c3 --tokenizer data
[ -e c1 ] || [ -e c2 ] || [ -e c3 ] && fail "a refused conversion wrote its output"
M convert --from hf --in "$ckpt" --out c4 --tokenizer data/tokenizer.json >/dev/null 2>err.txt ||
    fail "convert --tokenizer data/tokenizer.json: $(cat err.txt)"
expect_error "convert --max-context 5000000" "--max-context '5000000'" \
    -- M convert --from hf --in "$ckpt" --out c5 --max-context 5000000
M convert --from hf --in "$ckpt" --out c6 --max-context 1048576 >/dev/null 2>err.txt ||
    fail "convert --max-context 1048576 (the top of its range): $(cat err.txt)"

# ---- the help of a required flag shows no default
help_of() { awk -v f="  $1 " 'index($0, f) == 1 { p = 1; print; next } /^  -/ { p = 0 } p'; }
M convert --help | help_of --from >help.txt
grep -q "default" help.txt && fail "convert --help shows a default for --from: $(cat help.txt)"
grep -q "(required)" help.txt || fail "convert --help does not say --from is required: $(cat help.txt)"
M quantize --help | help_of --type >help.txt
grep -q "default" help.txt && fail "quantize --help shows a default for --type: $(cat help.txt)"
grep -q "(required)" help.txt || fail "quantize --help does not say --type is required: $(cat help.txt)"

# ---- messages: directories, missing paths, plurals, auto in eval-gen's header
expect_error "bench-decode --prompts DIR" "--prompts data is a directory" -- M bench-decode --model run --prompts data --max-new 8
expect_error "eval-gen --data DIR" "--data data is a directory" -- M eval-gen --model run --data data
expect_error "--model that does not exist" "does not exist" -- G --model /nonexistent/run --prompt a
M eval-gen --model run --threads 1 --data items.jsonl --speculative auto --quiet >out.txt 2>&1 || fail "eval-gen auto"
grep -q -- "--speculative auto" out.txt || fail "eval-gen --speculative auto: $(head -1 out.txt)"
M train --data data --out one --n-layer 2 --n-future 1 --dim 32 --n-head 2 --seq-len 16 --steps 0 --threads 1 \
    >/dev/null 2>&1 || fail "train n = 1"
expect_error "one head" "the model has 1 head, so no drafting heads" -- M generate --model one --prompt a --speculative 1
M eval --model one --data data --max-batches 1 --threads 1 2>/dev/null | grep -q "(1 head)" || fail "eval: not '(1 head)'"

# ---- the hand-written lists and ranges take digits only, as the number flags do
for v in ' 3' '+3' '3- 4' '3-+4'; do
    expect_error "--m-train '$v'" "--m-train" -- M task poly --out poly --m-train "$v" --train-examples 1
done
for v in ' 1' '+1' '1,+2' '1, 2'; do
    expect_error "--k '$v'" "--k" -- M eval-code --k "$v" --help
done

# ---- --prompt-file read to its end: a pipe has no size (process substitution, /dev/stdin)
a=$(G --prompt "line 1" --max-new 8 --temperature 0 --speculative 0)
b=$(G --prompt-file <(printf 'line 1') --max-new 8 --temperature 0 --speculative 0) || fail "--prompt-file from a pipe"
[ "$a" = "$b" ] || fail "--prompt-file from a pipe: '$b' is not '$a'"
expect_error "--prompt-file a directory" "is a directory" -- G --prompt-file corpus --max-new 2

finish cli_edges
