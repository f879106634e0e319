#!/usr/bin/env bash
# Edge cases of mtp convert and the eval commands, one check each:
#   - convert --out DIR/ (a trailing slash) converts into DIR (the temporary
#     directory went inside DIR/, the rename failed and left an empty DIR);
#   - convert --tokenizer FILE keeps the file under the name its content says
#     (a tokenizer.json given to --from meta was saved as tokenizer.model,
#     which does not load);
#   - convert --in that is missing, a file, a training run or the other
#     format's directory: one line naming --in and the fix;
#   - convert --from meta: params.json's shape errors name params.json, and
#     an absurd ffn_dim_multiplier is refused (it overflowed the FFN width);
#   - eval-choice on a gzip-compressed file, and on one that starts with a
#     UTF-8 byte-order mark: read
#     as the file without it (a gauntlet JSONL was taken for hellaswag text);
#   - flags accepted and ignored: eval-code --device with --samples, and
#     eval-rouge --device with given texts or --seed without --bootstrap;
#   - an interrupted convert's OUT.tmp-PID is swept by the next convert to OUT.
# A tiny model in Meta's format is written by Python's standard library alone
# (a zip holding the pickle torch.save writes), so no torch is needed.
set -u
source "$(dirname "$0")/lib.sh"
export OMP_NUM_THREADS=1
command -v python3 >/dev/null || { echo "skip: python3 not found"; exit 77; }

speaker_corpus 200
M prepare --quiet --out data --val-fraction 0.2 corpus >/dev/null 2>&1 || fail "prepare"
M train --data data --out run --n-layer 3 --n-future 2 --dim 32 --n-head 4 --seq-len 32 --batch 4 --steps 4 \
    --eval-every 0 --threads 1 >/dev/null 2>&1 || fail "train"
CK=run/step_00000004

# meta DIR [PARAMS_JSON]: Meta's release layout, params.json and consolidated.00.pth (float32)
meta() {
    python3 - "$@" <<'EOF'
import json, os, random, struct, sys, zipfile
d = sys.argv[1]
params = {"dim": 32, "n_layers": 3, "n_heads": 4, "n_future_tokens": 2, "vocab_size": -1, "multiple_of": 32}
if len(sys.argv) > 2:
    params.update(json.loads(sys.argv[2]))
V, dim, ffn = 257, 32, 96  # 2/3 of 4*32, rounded up to a multiple of 32
rng = random.Random(0)
mat = lambda r, c: ((r, c), [rng.gauss(0, 0.1) for _ in range(r * c)])
ones = lambda n: ((n,), [1.0] * n)
def block(p):
    return [(p + "attention_norm.weight",) + ones(dim), (p + "attention.wq.weight",) + mat(dim, dim),
            (p + "attention.wk.weight",) + mat(dim, dim), (p + "attention.wv.weight",) + mat(dim, dim),
            (p + "attention.wo.weight",) + mat(dim, dim), (p + "ffn_norm.weight",) + ones(dim),
            (p + "feed_forward.w1.weight",) + mat(ffn, dim), (p + "feed_forward.w3.weight",) + mat(ffn, dim),
            (p + "feed_forward.w2.weight",) + mat(dim, ffn)]
t = [("tok_embeddings.weight",) + mat(V, dim)] + block("layers.0.") + block("layers.1.") + block("extra_heads.0.")
t += [("norm.weight",) + ones(dim), ("output.weight",) + mat(V, dim)]
uni = lambda s: b"X" + struct.pack("<I", len(s.encode())) + s.encode()
ints = lambda v: b"(" + b"".join(b"J" + struct.pack("<i", x) for x in v) + b"t"
pkl = bytearray(b"\x80\x02}(")
for i, (name, shape, vals) in enumerate(t):
    stride = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        stride[k] = stride[k + 1] * shape[k + 1]
    pkl += uni(name) + b"ctorch._utils\n_rebuild_tensor_v2\n(" + b"(" + uni("storage") + b"ctorch\nFloatStorage\n"
    pkl += uni(str(i)) + uni("cpu") + b"J" + struct.pack("<i", len(vals)) + b"tQ" + b"J\0\0\0\0" + ints(shape)
    pkl += ints(stride) + b"\x89ccollections\nOrderedDict\n)RtR"
os.makedirs(d, exist_ok=True)
with zipfile.ZipFile(os.path.join(d, "consolidated.00.pth"), "w") as z:
    z.writestr("archive/data.pkl", bytes(pkl + b"u."))
    z.writestr("archive/byteorder", "little")
    for i, (_, _, vals) in enumerate(t):
        z.writestr("archive/data/%d" % i, struct.pack("<%df" % len(vals), *vals))
json.dump(params, open(os.path.join(d, "params.json"), "w"))
EOF
}
meta meta1 || fail "writing the Meta-format fixture"
M convert --from meta --in meta1 --out conv --tokenizer data/tokenizer.json >/dev/null 2>err.txt ||
    fail "convert --from meta of the fixture: $(cat err.txt)"

# ---- --out with a trailing slash
M convert --from hf --in $CK --out slash/ >/dev/null 2>err.txt || fail "convert --out slash/: $(cat err.txt)"
[ -f slash/model.safetensors ] && [ -f slash/config.json ] || fail "--out slash/: no checkpoint in slash: $(ls -A slash)"
ls -a | grep -q '\.tmp-' && fail "--out slash/: a temporary directory was left: $(ls -a)"
M eval --model slash --data data --max-batches 1 --json >/dev/null 2>err.txt || fail "eval of slash/: $(cat err.txt)"

# ---- the tokenizer is saved under the name its content says
[ -f conv/tokenizer.json ] && [ ! -e conv/tokenizer.model ] ||
    fail "--from meta --tokenizer tokenizer.json: saved as $(ls conv)"
[ "$(M tokenizer encode --tokenizer conv --text 'line 7' 2>&1)" = "108 105 110 101 32 55" ] ||
    fail "the converted checkpoint's tokenizer: $(M tokenizer encode --tokenizer conv --text 'line 7' 2>&1)"
cp data/tokenizer.json tok_without_suffix
M convert --from hf --in $CK --out conv2 --tokenizer tok_without_suffix >/dev/null 2>err.txt ||
    fail "convert --tokenizer tok_without_suffix: $(cat err.txt)"
[ -f conv2/tokenizer.json ] && [ ! -e conv2/tokenizer.model ] ||
    fail "--from hf --tokenizer tok_without_suffix (a tokenizer.json): saved as $(ls conv2)"

# ---- --in that is not the format's directory
# an interrupted convert's OUT.tmp-PID (its process ended) is swept by the next convert to OUT's
# directory; a live process's stays
sleep 0 &
ended=$!
wait $ended
mkdir -p conv3.tmp-$ended/partial conv3.tmp-$$
M convert --from hf --in $CK --out conv3 >/dev/null 2>err.txt || fail "convert conv3: $(cat err.txt)"
[ -e conv3.tmp-$ended ] && fail "an ended convert's conv3.tmp-$ended was left"
[ -d conv3.tmp-$$ ] || fail "a live process's conv3.tmp-$$ was removed"
rm -rf conv3.tmp-$$
expect_error "--in missing" "--in nope: no such directory" -- M convert --from hf --in nope --out x
expect_error "--in missing (meta)" "--in nope: no such directory" -- M convert --from meta --in nope --out x
expect_error "--in a file" "--in meta1/params.json is a file" -- M convert --from meta --in meta1/params.json --out x
expect_error "--in a run" "give one of its checkpoints ($CK)" -- M convert --from hf --in run --out x
expect_error "--in Meta's, --from hf" "convert it with --from meta" -- M convert --from hf --in meta1 --out x
expect_error "--in HF's, --from meta" "has no params.json" -- M convert --from meta --in $CK --out x
[ -e x ] && fail "a refused convert left x behind"

# ---- params.json errors name params.json
meta meta2 '{"n_heads": 5}'
expect_error "params.json: n_heads not dividing dim" "meta2/params.json: invalid model config" -- \
    M convert --from meta --in meta2 --out x --tokenizer data/tokenizer.json
meta meta3 '{"ffn_dim_multiplier": 1e300}'
expect_error "params.json: ffn_dim_multiplier 1e300" "ffn_dim_multiplier\" is 1e+300" -- \
    M convert --from meta --in meta3 --out x --tokenizer data/tokenizer.json
meta meta4 '{"ffn_dim_multiplier": -2}'
expect_error "params.json: ffn_dim_multiplier -2" "ffn_dim_multiplier\" is -2" -- \
    M convert --from meta --in meta4 --out x --tokenizer data/tokenizer.json

# ---- a byte-order mark before the items, or gzip around them
same_scores() {  # A.json B.json: the same scores (the times differ)
    python3 -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for k in ("accuracy", "accuracy_norm", "items", "tokens", "format", "kind"):
    assert a[k] == b[k], (k, a, b)' "$1" "$2"
}
echo '{"query": "line 3: the", "choices": [" 3 quick", " zzzzzzz"], "gold": 0}' >mc.jsonl
printf 'line 3: the\n0\n 3 quick\n qqqqqqq\n zzzzzzz\n xxxxxxx\n' >hs.txt
for f in mc.jsonl hs.txt; do
    printf '\xef\xbb\xbf' >"bom_$f"
    cat "$f" >>"bom_$f"
    M eval-choice --model run --threads 1 --data "$f" --json >plain.json 2>err.txt || fail "eval-choice $f: $(cat err.txt)"
    M eval-choice --model run --threads 1 --data "bom_$f" --json >bom.json 2>err.txt ||
        fail "eval-choice bom_$f (a byte-order mark first): $(cat err.txt)"
    same_scores plain.json bom.json || fail "eval-choice bom_$f: $(cat bom.json) / $(cat plain.json)"
    # gzip-compressed, as data sets are often distributed: read as the plain file
    gzip -c "$f" >"$f.gz"
    M eval-choice --model run --threads 1 --data "$f.gz" --json >gz.json 2>err.txt ||
        fail "eval-choice $f.gz: $(cat err.txt)"
    same_scores plain.json gz.json || fail "eval-choice $f.gz: $(cat gz.json) / $(cat plain.json)"
done

# ---- flags that would be ignored are refused
printf 'the cat sat\nthe dog ran\n' >pred.txt
printf 'the cat sat down\na dog ran\n' >ref.txt
expect_error "eval-rouge --device without --model" "--device go with --model only" -- \
    M eval-rouge --predictions pred.txt --references ref.txt --device cpu-check
expect_error "eval-rouge --seed without --bootstrap" "--seed is the bootstrap's" -- \
    M eval-rouge --predictions pred.txt --references ref.txt --seed 3
M eval-rouge --predictions pred.txt --references ref.txt --seed 3 --bootstrap 10 --json >/dev/null 2>err.txt ||
    fail "eval-rouge --seed 3 --bootstrap 10: $(cat err.txt)"
python3 -c '
import json
print(json.dumps({"task_id": "Toy/0", "prompt": "def f():\n", "canonical_solution": "    return 1\n",
                  "test": "def check(candidate):\n    assert candidate() == 1\n", "entry_point": "f"}))' >toy.jsonl
echo '{"task_id": "Toy/0", "completion": "    return 1\n"}' >toy_samples.jsonl
expect_error "eval-code --device with --samples" "--device: sampling flags" -- \
    M eval-code --benchmark humaneval --data toy.jsonl --samples toy_samples.jsonl --device cpu-check

finish convert_eval_edges
