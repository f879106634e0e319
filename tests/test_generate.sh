#!/usr/bin/env bash
# mtp generate end to end: greedy output identical with and without
# speculation (through the CLI, --json and streaming), --stop, --stats, and
# one clear error per kind of bad input.
set -u
source "$(dirname "$0")/lib.sh"
mkdir corpus
for i in $(seq 1 200); do echo "line $i: the quick brown fox $((i % 7)) jumps over the lazy dog $((i % 3))."; done >corpus/a.txt
M prepare --quiet --out data --val-fraction 0.1 corpus >/dev/null 2>&1 || fail "prepare"
M train --data data --out run --n-layer 5 --n-future 3 --dim 32 --n-head 4 --seq-len 64 --batch 8 --steps 80 \
    --lr 3e-3 --eval-every 0 --threads 2 >/dev/null 2>&1 || fail "train"
j() { /usr/bin/env python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
for p in "line 1" "the quick" "x"; do
    a=$(M generate --model run --prompt "$p" --max-new 40 --speculative 0 --json | j '["text"]')
    for k in 1 2; do
        b=$(M generate --model run --prompt "$p" --max-new 40 --speculative $k --json | j '["text"]')
        [ "$a" = "$b" ] || fail "prompt '$p': --speculative $k text differs from plain greedy"
    done
    streamed=$(M generate --model run --prompt "$p" --max-new 40)
    [ "$streamed" = "$p$a" ] || fail "streamed output differs from --json text for '$p'"
done
out=$(M generate --model run --prompt "line 1" --max-new 40 --json)
echo "$out" | /usr/bin/env python3 -c '
import json, sys
j = json.load(sys.stdin)
for k in ("text", "tokens", "forwards", "tokens_per_forward", "tokens_per_sec", "accept_rate"):
    assert k in j, k
assert len(j["accept_rate"]) == 2 and all(0 <= r <= 1 for r in j["accept_rate"])
assert 1 <= j["tokens_per_forward"] <= 3
assert 0 < j["load_ms"] < 60000 and j["prefill_ms"] >= 0, (j["load_ms"], j["prefill_ms"])
' || fail "--json keys: $out"
M generate --model run --prompt "line 1" --max-new 20 --stats 2>err.txt >/dev/null || fail "--stats"
grep -q "tokens/forward" err.txt || fail "--stats printed: $(cat err.txt)"
grep -Eq "weights loaded in [0-9]+[.][0-9]{3}s" err.txt || fail "--stats without the load time: $(cat err.txt)"
text=$(M generate --model run --prompt "line" --max-new 60 --stop "fox" --json | j '["text"]')
case "$text" in *fox*) fail "--stop: output contains the stop string: $text" ;; esac
echo "line 1" >prompt.txt
[ "$(M generate --model run --prompt-file prompt.txt --max-new 10 --json | j '["tokens"]')" -ge 1 ] || fail "--prompt-file"
[ "$(echo "line 1" | M generate --model run --max-new 10 --json | j '["tokens"]')" -ge 1 ] || fail "stdin prompt"
M generate --model run --prompt "line" --max-new 30 --temperature 0.9 --top-k 5 --top-p 0.9 --seed 3 >/dev/null ||
    fail "sampling"

long=$(head -c 200 /dev/zero | tr '\0' 'a')
expect_error "prompt longer than the context" "context" -- M generate --model run --prompt "$long"
expect_error "too many drafting heads" "--speculative" -- M generate --model run --prompt hi --speculative 3
M generate --model run --prompt "" --max-new 8 --seed 3 --temperature 0 >empty.txt 2>err.txt || fail "--prompt '': $(cat err.txt)"
M sample --model run --prompt "" --max-new 8 --seed 3 --temperature 0 >sampled.txt 2>err.txt || fail "sample --prompt ''"
cmp -s empty.txt sampled.txt || fail "--prompt '': generate '$(cat empty.txt)' and sample '$(cat sampled.txt)' differ"
expect_error "empty stdin" "empty prompt" -- M generate --model run
expect_error "missing model" "nowhere" -- M generate --model nowhere --prompt hi
cp -r run/step_00000080 nomodel && rm nomodel/model.safetensors
expect_error "checkpoint without weights" "model.safetensors" -- M generate --model nomodel --prompt hi
cp -r run/step_00000080 mismatch && /usr/bin/env python3 -c "
import json; p='mismatch/config.json'; j=json.load(open(p)); j['hidden_size']=64; json.dump(j, open(p,'w'))"
expect_error "config and weights disagree" "model.safetensors" -- M generate --model mismatch --prompt hi
expect_error "missing prompt file" "nope.txt" -- M generate --model run --prompt-file nope.txt

finish generate
