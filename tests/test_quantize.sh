#!/usr/bin/env bash
# End-to-end checks of int8 checkpoints (`mtp quantize --type q8`). On a small
# trained n = 3 model: the quantized checkpoint's validation loss of every head
# is within 1% of float32's (int8 with a scale per 32 values keeps each weight
# within 1/254 of its block's largest; 1% is the bound the format promises for
# a trained model); greedy speculative decoding on it equals plain greedy
# (bench-decode counts no mismatches, auto included); generate, sample and eval
# load it; bad input fails with one line.
set -u
source "$(dirname "$0")/lib.sh"
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=$(command -v python3) || { echo "skip: python3 needed to parse the JSON"; exit 77; }

speaker_corpus 400
M prepare --quiet --out data --val-fraction 0.1 corpus >/dev/null 2>&1 || fail "prepare"
M train --data data --out run --n-layer 4 --n-future 3 --dim 64 --n-head 4 --seq-len 64 --batch 8 --steps 150 \
    --lr 3e-3 --eval-every 0 --threads 2 >/dev/null 2>&1 || fail "train"

M quantize --model run --type q8 --out q8 >out.txt 2>err.txt || fail "quantize: $(cat err.txt)"
grep -q "int8 weights" out.txt || fail "quantize says nothing: $(cat out.txt)"
ls q8/step_*/model.safetensors q8/step_*/config.json q8/step_*/tokenizer.json >/dev/null 2>&1 ||
    fail "q8 checkpoint incomplete: $(ls -R q8)"

# the file: I8 matrices with _scale companions and the metadata key (docs/formats.md)
"$PY" - q8/step_*/model.safetensors <<'PY' || fail "q8 safetensors layout"
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
assert h["__metadata__"]["mtp.quantization"] == "q8_32", h["__metadata__"]
assert h["lm_head.weight"]["dtype"] == "I8", h["lm_head.weight"]
s = h["lm_head.weight_scale"]
assert s["dtype"] == "F32" and s["shape"] == [h["lm_head.weight"]["shape"][0], h["lm_head.weight"]["shape"][1] // 32], s
assert h["model.norm.weight"]["dtype"] == "F32" and h["model.embed_tokens.weight"]["dtype"] == "F32"
assert h["model.layers.0.mlp.down_proj.weight"]["dtype"] == "I8"
PY

# validation loss per head within 1%
M eval --model run --data data --json --threads 2 >f32.json 2>/dev/null || fail "eval float32"
M eval --model q8 --data data --json --threads 2 >q8.json 2>/dev/null || fail "eval q8"
"$PY" - f32.json q8.json <<'PY' || fail "int8 validation loss off by more than 1%"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for x, y in zip(a["heads"], b["heads"]):
    rel = abs(y["loss"] - x["loss"]) / x["loss"]
    print("head %d: float32 %.4f, int8 %.4f (%.2f%%)" % (x["head"], x["loss"], y["loss"], 100 * rel))
    assert rel < 0.01, (x, y)
PY

# greedy speculative == plain greedy in int8
printf 'line 7: the 0 quick\nline 12: the 5 quick brown foxes\nsaid speaker\n' >p.txt
M bench-decode --model q8 --prompts p.txt --max-new 24 --threads 2 --json >bench.json 2>err.txt ||
    fail "bench-decode on q8 (exit $?): $(cat err.txt)"
"$PY" - bench.json <<'PY' || fail "bench-decode on q8"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["weights"] == "q8" and r["mismatches"] == 0, r
assert [x["k"] for x in r["results"]] == [0, 1, 2, "auto"], r["results"]
PY
M generate --model q8 --prompt "line 3" --max-new 16 >/dev/null 2>err.txt || fail "generate on q8: $(cat err.txt)"
M sample --model q8 --prompt "line 3" --max-new 16 >/dev/null 2>err.txt || fail "sample on q8: $(cat err.txt)"

# bad input
expect_error "unknown type" "q4" -- M quantize --model run --type q4 --out x
expect_error "no model" "'nowhere' does not exist" -- M quantize --model nowhere --type q8 --out x
expect_error "already int8" "already int8" -- M quantize --model q8 --type q8 --out x
expect_error "no --out" "--out" -- M quantize --model run --type q8
M train --data data --out odd --n-layer 3 --n-future 2 --dim 48 --n-head 4 --seq-len 32 --batch 4 --steps 1 \
    --eval-every 0 --threads 2 >/dev/null 2>&1 || fail "train dim 48"
expect_error "width not a multiple of 32" "multiple of 32" -- M quantize --model odd --type q8 --out x
expect_error "training on int8" "int8 weights" -- M train --resume q8 --data data --out ft --steps 160
# an int8 checkpoint whose config.json says another ffn width than its tensors: refused from the header
cp -r q8 q8bad
"$PY" - q8bad/step_*/config.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["intermediate_size"] = 200
json.dump(c, open(sys.argv[1], "w"))
PY
expect_error "int8 file, bad config" "gate_proj.weight' has shape \[192, 64\], config.json's model needs \[200, 64\]" -- \
    M generate --model q8bad --prompt "line" --max-new 4
# a float32 file whose floats are not 4-byte aligned (one more byte of header padding, which
# the format allows) quantizes to the same bytes; a NaN weight is refused; so is an int8 file
# holding -128 (the AVX2 and VNNI products would disagree on it)
step=$(basename "$(ls -d run/step_* | tail -n 1)")
cp -r run runodd && cp -r run runnan && cp -r q8 q8min
"$PY" - "runodd/$step/model.safetensors" "runnan/$step/model.safetensors" "q8min/$step/model.safetensors" <<'PY' || fail "editing safetensors copies"
import json, struct, sys
def parse(path):
    raw = bytearray(open(path, "rb").read())
    n = struct.unpack("<Q", raw[:8])[0]
    return raw, n, json.loads(raw[8:8 + n])
raw, n, h = parse(sys.argv[1])
open(sys.argv[1], "wb").write(struct.pack("<Q", n + 1) + raw[8:8 + n] + b" " + raw[8 + n:])
raw, n, h = parse(sys.argv[2])
at = 8 + n + h["model.layers.1.mlp.up_proj.weight"]["data_offsets"][0] + 4 * 77
raw[at:at + 4] = struct.pack("<f", float("nan"))
open(sys.argv[2], "wb").write(raw)
raw, n, h = parse(sys.argv[3])
raw[8 + n + h["lm_head.weight"]["data_offsets"][0] + 5] = 0x80
open(sys.argv[3], "wb").write(raw)
PY
M quantize --model runodd --type q8 --out q8odd >/dev/null 2>err.txt || fail "quantize, misaligned floats: $(cat err.txt)"
cmp -s "q8/$step/model.safetensors" "q8odd/$step/model.safetensors" ||
    fail "a float32 file with misaligned floats quantizes to other bytes"
expect_error "a NaN weight" "up_proj.weight' holds NaN at index 77" -- M quantize --model runnan --type q8 --out x
[ ! -e x ] || fail "a refused quantization left '$(ls x)' behind"
expect_error "int8 -128" "lm_head.weight' holds -128 at index 5" -- M generate --model q8min --prompt "line" --max-new 4
# a scale that is not finite (its block's products would be NaN)
cp -r q8 q8inf
"$PY" - "q8inf/$step/model.safetensors" <<'PY' || fail "editing a q8 copy"
import json, struct, sys
raw = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
at = 8 + n + h["lm_head.weight_scale"]["data_offsets"][0] + 4 * 2
raw[at:at + 4] = struct.pack("<f", float("inf"))
open(sys.argv[1], "wb").write(raw)
PY
expect_error "an infinite q8 scale" "lm_head.weight_scale' has scale inf at index 2" -- \
    M generate --model q8inf --prompt "line" --max-new 4
# quantize writes a new checkpoint, never over one: not over its own source (whose optimizer
# state would be lost), not over an earlier copy; a path ending in / or /. names the same step
cp -r run runsrc
expect_error "--out is the source run" "already exists" -- M quantize --model runsrc --type q8 --out runsrc
[ -f "runsrc/$step/optimizer.safetensors" ] || fail "quantize into its source run removed the optimizer state"
expect_error "--out holds the step" "already exists" -- M quantize --model run --type q8 --out q8
[ "$(M quantize --model run --type q8 --out q8 >/dev/null 2>&1; echo $?)" -eq 1 ] || fail "an occupied --out: exit code not 1 (bad input)"
M quantize --model "run/$step/" --type q8 --out q8slash >/dev/null 2>&1 || fail "quantize of run/$step/"
[ -d "q8slash/$step" ] || fail "quantize of run/$step/ did not keep the step: $(ls q8slash)"
M quantize --model "run/$step/." --type q8 --out q8dot >/dev/null 2>&1 || fail "quantize of run/$step/."
[ -d "q8dot/$step" ] || fail "quantize of run/$step/. did not keep the step: $(ls q8dot)"
finish quantize
