#!/usr/bin/env bash
# Fine-tuning recipes (mtp train --init-from, --freeze-trunk):
#   - heads added to a trained n = 1 model with the trunk frozen: the
#     embedding, trunk, head 1, final norm and lm_head stay bit for bit what
#     they were, optimizer.safetensors holds moments of the new heads only,
#     the model's plain greedy output is the original model's, and
#     self-speculative decoding with the new heads is faster per forward and
#     gives the same text; a resumed frozen run ends where an uninterrupted one
#     does; --train-unembedding lets the final norm and lm_head move;
#   - n = 3 -> n' = 1 keeps head 1: its logits equal the source's head 1's;
#   - the same n continues from the weights as a new run;
#   - contradictory flags are refused with one line.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
PY=${PYTHON:-/usr/bin/python3}
"$PY" -c 'import numpy' 2>/dev/null || { echo "skip: python3-numpy is not installed"; exit 77; }
DUMP="$(dirname "$MTP")/tools/logits_dump"

speaker_corpus 400
M prepare --out data corpus/a.txt >/dev/null 2>&1 || fail "prepare"
SMALL="--batch 4 --seq-len 32 --threads 2"
M train --data data --n-layer 4 --n-future 1 --dim 32 --n-head 4 --steps 150 --eval-every 0 --lr 3e-3 \
    --out n1 $SMALL >/dev/null 2>&1 || fail "train n=1"

# tensors A B NAMES...: the named tensors of two model.safetensors files are
# identical (names "-" = every tensor of A that B has); prints the count
same_tensors() {
    "$PY" - "$HERE" "$@" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, safetensors_py
a, b = safetensors_py.load(sys.argv[2]), safetensors_py.load(sys.argv[3])
want = sys.argv[4]
names = [k for k in a if k in b and (want == "-" or k.startswith(tuple(want.split(","))))]
bad = [k for k in names if not np.array_equal(a[k], b[k])]
print(len(names), "tensors compared;", "differ: " + " ".join(bad) if bad else "all equal")
sys.exit(1 if bad or not names else 0)
PY
}

M train --data data --init-from n1 --n-future 3 --freeze-trunk --steps 150 --lr 3e-3 --eval-every 50 \
    --out ft $SMALL >ft.out 2>ft.err || fail "add heads with a frozen trunk: $(tail -2 ft.err)"
same_tensors n1/step_00000150/model.safetensors ft/step_00000150/model.safetensors - >same.txt ||
    fail "frozen tensors moved: $(cat same.txt)"
"$PY" - "$HERE" ft/step_00000150/optimizer.safetensors <<'PY' || fail "optimizer state of frozen tensors"
import sys
sys.path.insert(0, sys.argv[1])
import safetensors_py
names = sorted(safetensors_py.load(sys.argv[2]))
assert names and all(".model.extra_heads." in n for n in names), names
assert len(names) == 2 * 2 * 9, len(names)  # exp_avg and exp_avg_sq of two new heads' nine tensors
PY
# two heads of 16,448 parameters: 0.25 MB of moments (all 115,168 would be 0.9 MB)
grep -q "AdamW moments 0.3 MB" ft.err || fail "the moments line should count the new heads only: $(grep memory ft.err)"
gen() { M generate --model "$1" --prompt "line 5: the" --max-new 30 --speculative "$2" --json --threads 2; }
orig=$(gen n1 0 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["text"])')
plain=$(gen ft 0 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["text"])')
spec=$(gen ft all)
[ "$plain" = "$orig" ] || fail "the frozen model's greedy text changed: '$orig' -> '$plain'"
[ "$(echo "$spec" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["text"])')" = "$orig" ] ||
    fail "speculative text differs from plain"
echo "$spec" | "$PY" -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["tokens_per_forward"] > 1.3 else 1)' ||
    fail "the new heads draft too little: $spec"

# resumed frozen run = uninterrupted one
M train --data data --init-from n1 --n-future 3 --freeze-trunk --steps 150 --lr 3e-3 --eval-every 0 \
    --save-every 80 --out ftr $SMALL >/dev/null 2>&1 || fail "frozen run with a save"
rm -rf ftr/step_00000150
M train --resume ftr --steps 150 >/dev/null 2>ftr.err || fail "resume frozen: $(cat ftr.err)"
cmp -s ft/step_00000150/model.safetensors ftr/step_00000150/model.safetensors || fail "resumed frozen run differs"

# --train-unembedding: the output moves, the trunk does not
M train --data data --init-from n1 --n-future 2 --freeze-trunk --train-unembedding --steps 20 --eval-every 0 \
    --out ftu $SMALL >/dev/null 2>&1 || fail "train-unembedding"
same_tensors n1/step_00000150/model.safetensors ftu/step_00000020/model.safetensors \
    model.embed_tokens,model.layers >/dev/null || fail "--train-unembedding moved the trunk"
same_tensors n1/step_00000150/model.safetensors ftu/step_00000020/model.safetensors lm_head >/dev/null &&
    fail "--train-unembedding did not train lm_head"
# resumed with the flag given again, --freeze-trunk left to the run's saved flags
M train --resume ftu --train-unembedding --steps 22 >/dev/null 2>err.txt ||
    fail "resume with --train-unembedding alone: $(cat err.txt)"

# n = 3 -> 1: head 1 kept exactly
M train --data data --init-from ft --n-future 1 --steps 0 --out a1 $SMALL >/dev/null 2>&1 || fail "n=3 -> 1"
"$DUMP" --model ft --tokens 5,6,7,8,9,10,11 --out l3.st && "$DUMP" --model a1 --tokens 5,6,7,8,9,10,11 --out l1.st ||
    fail "logits_dump"
"$PY" - "$HERE" <<'PY' || fail "n=3 -> 1: head 1's logits changed"
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, safetensors_py
a, b = safetensors_py.load("l3.st")["logits"], safetensors_py.load("l1.st")["logits"]
sys.exit(0 if a.shape[0] == 3 and b.shape[0] == 1 and np.array_equal(a[0], b[0]) else 1)
PY
M train --data data --init-from a1 --steps 30 --eval-every 0 --out a1ft $SMALL >/dev/null 2>&1 ||
    fail "next-token fine-tuning of the n=1 model"

# the same n, continued as a new run: starts from the source's weights
M train --data data --init-from ft --steps 0 --out same $SMALL >/dev/null 2>&1 || fail "same n"
same_tensors ft/step_00000150/model.safetensors same/step_00000000/model.safetensors - >/dev/null ||
    fail "--init-from with the same n must start from the source's weights"

expect_error "freeze without weights" "--init-from" -- M train --data data --out x1 --freeze-trunk $SMALL
expect_error "init-from and resume" "give one of them" -- M train --data data --init-from n1 --resume ft --out x2
expect_error "nothing to train" "nothing to train" -- M train --data data --init-from n1 --freeze-trunk --out x3 $SMALL
expect_error "shape mismatch" "--dim 64 does not match" -- M train --data data --init-from n1 --dim 64 --out x4 $SMALL
expect_error "unembedding alone" "goes with --freeze-trunk" -- M train --data data --init-from n1 --train-unembedding \
    --out x5 $SMALL
finish finetune
