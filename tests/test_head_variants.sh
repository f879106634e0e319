#!/usr/bin/env bash
# Head variants through every command that loads a model: for linear,
# causal and anticausal heads, `mtp train` writes the variant into
# config.json and resumes it exactly; eval reports every head; generate
# gives plain greedy's text with --speculative 1, all and auto; quantize and
# bench-decode run; --init-from keeps the variant (n -> 1, and 1 -> 3 with a
# frozen trunk for causal and linear heads: head 1 and the trunk stay bit for bit);
# contradictory flags are refused with one line.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
PY=${PYTHON:-/usr/bin/python3}

speaker_corpus 300
head -3 corpus/a.txt | cut -c1-12 >prompts.txt
M prepare --out data corpus/a.txt >/dev/null 2>&1 || fail "prepare"
SMALL="--batch 4 --seq-len 32 --threads 2 --n-layer 4 --n-future 3 --dim 32 --n-head 4 --lr 3e-3"
text_of() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)["text"])'; }
gen() { M generate --model "$1" --prompt "line 5: the" --max-new 40 --speculative "$2" --json --threads 2; }

for variant in "linear parallel" "transformer causal" "transformer anticausal"; do
    set -- $variant
    type=$1 order=$2 run="run_$2_$1"
    M train --data data --head-type "$type" --head-order "$order" --steps 200 --eval-every 0 --save-every 100 \
        --out "$run" $SMALL >"$run.out" 2>"$run.err" || { fail "$order $type: train: $(tail -2 "$run.err")"; continue; }
    grep -q "$order $type heads" "$run.err" || fail "$order $type: the model line does not name the heads"
    cfg="$run/step_00000200/config.json"
    "$PY" - "$cfg" "$type" "$order" <<'PY' || fail "$order $type: config.json"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["head_type"] == sys.argv[2] and c["head_order"] == sys.argv[3], c
assert c["num_hidden_layers"] == (4 if sys.argv[2] == "linear" else 2), c["num_hidden_layers"]
PY
    # exact resume from step 30
    M train --resume "$run/step_00000100" --out "${run}_r" >/dev/null 2>"$run.rerr" ||
        fail "$order $type: resume: $(tail -2 "$run.rerr")"
    cmp -s "$run/step_00000200/model.safetensors" "${run}_r/step_00000200/model.safetensors" ||
        fail "$order $type: resumed run's weights differ from the uninterrupted run's"
    M eval --model "$run" --data data --threads 2 >"$run.eval" 2>&1 || fail "$order $type: eval"
    grep -q "^3 *t+3" "$run.eval" || fail "$order $type: eval does not report head 3: $(cat "$run.eval")"
    plain=$(gen "$run" 0 | text_of)
    [ -n "${plain// /}" ] || fail "$order $type: plain generate gave nothing but spaces: undertrained"
    for K in 1 all auto; do
        spec=$(gen "$run" "$K" | text_of)
        [ "$spec" = "$plain" ] || fail "$order $type: --speculative $K text differs from plain: '$spec' vs '$plain'"
    done
    M quantize --model "$run" --type q8 --out "${run}_q8" >/dev/null 2>&1 || fail "$order $type: quantize"
    [ -n "$(gen "${run}_q8" all | text_of)" ] || fail "$order $type: int8 generate gave nothing"
    M bench-decode --model "$run" --max-new 16 --prompts prompts.txt --threads 2 >"$run.bd" 2>&1 ||
        fail "$order $type: bench-decode: $(tail -3 "$run.bd")"
    # n -> 1 keeps the variant (and head 1; anticausal head 1 reads the others, so its n stays)
    [ "$order" = anticausal ] && continue
    M train --data data --init-from "$run" --n-future 1 --steps 1 --lr 1e-9 --eval-every 0 --out "${run}_n1" \
        --batch 4 --seq-len 32 --threads 2 >/dev/null 2>"$run.n1err" || fail "$order $type: --init-from n'=1: $(tail -2 "$run.n1err")"
    "$PY" -c 'import json,sys; c = json.load(open(sys.argv[1])); assert c["head_type"] == sys.argv[2], c' \
        "${run}_n1/step_00000001/config.json" "$type" || fail "$order $type: --init-from lost the head type"
done

# linear heads added back to the one-head linear model with a frozen trunk: its text stays
M train --data data --init-from run_parallel_linear_n1 --n-future 3 --freeze-trunk --steps 20 --eval-every 0 \
    --lr 3e-3 --batch 4 --seq-len 32 --threads 2 --out linear_ft >/dev/null 2>lft.err ||
    fail "linear heads on a frozen trunk: $(tail -2 lft.err)"
[ "$(gen linear_ft 0 | text_of)" = "$(gen run_parallel_linear_n1 0 | text_of)" ] ||
    fail "frozen linear: plain text changed"
[ "$(gen linear_ft all | text_of)" = "$(gen linear_ft 0 | text_of)" ] || fail "frozen linear: speculative text differs"

# causal heads added to a trained n = 1 model with a frozen trunk
M train --data data --n-layer 3 --n-future 1 --dim 32 --n-head 4 --steps 60 --eval-every 0 --lr 3e-3 \
    --batch 4 --seq-len 32 --threads 2 --out base >/dev/null 2>&1 || fail "train n=1"
M train --data data --init-from base --n-future 3 --head-order causal --freeze-trunk --steps 30 --eval-every 0 \
    --lr 3e-3 --batch 4 --seq-len 32 --threads 2 --out causal_ft >/dev/null 2>ft.err ||
    fail "causal heads on a frozen trunk: $(tail -2 ft.err)"
"$PY" - "$HERE" base/step_00000060/model.safetensors causal_ft/step_00000030/model.safetensors <<'PY' ||
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, safetensors_py
a, b = safetensors_py.load(sys.argv[2]), safetensors_py.load(sys.argv[3])
assert set(a) < set(b), "the new model lacks tensors of the base"
bad = [k for k in a if not np.array_equal(a[k], b[k])]
assert not bad, bad
PY
    fail "frozen causal fine-tuning moved the base model's tensors"
[ "$(gen causal_ft 0 | text_of)" = "$(gen base 0 | text_of)" ] || fail "frozen causal: plain text changed"
[ "$(gen causal_ft all | text_of)" = "$(gen base 0 | text_of)" ] || fail "frozen causal: speculative text differs"

# anticausal heads under auto run all n heads in every forward, even where the context (2
# tokens) holds fewer drafts than n - 1 = 4: the decoder's buffers must hold all of them
M train --data data --head-order anticausal --n-future 5 --n-layer 6 --dim 32 --n-head 2 --seq-len 2 \
    --batch 4 --steps 20 --eval-every 0 --threads 2 --out short_ac >/dev/null 2>&1 || fail "train short anticausal"
for how in "generate --prompt l --max-new 5 --json" "sample --prompt l --max-new 5"; do
    M $how --model short_ac --threads 2 >out.txt 2>err.txt ||
        fail "anticausal heads, context 2, $how (exit $?): $(tail -2 err.txt)"
done
expect_error "anticausal on a frozen trunk" "anticausal" -- M train --data data --init-from base --n-future 3 \
    --head-order anticausal --freeze-trunk --steps 1 --out bad1 --threads 2
expect_error "linear heads in a chain" "needs --head-type transformer" -- M train --data data --head-type linear \
    --head-order causal --steps 1 --out bad2 --threads 2
expect_error "bad head type" "--head-type" -- M train --data data --head-type mlp --steps 1 --out bad3
expect_error "resume with another order" "differs" -- M train --resume run_causal_transformer/step_00000100 \
    --head-order parallel --out bad4
expect_error "anticausal heads change in number" "cannot change in number" -- M train --data data \
    --init-from run_anticausal_transformer --n-future 2 --steps 1 --out bad6
expect_error "init-from with another type" "differs" -- M train --data data --init-from base --head-type linear \
    --steps 1 --out bad5
finish test_head_variants
