#!/usr/bin/env bash
# The commands on a device, checked on any machine with the cpu-check device
# (the CPU kernels on memory the host cannot touch directly: code that reads
# or writes device memory itself crashes). The same runs with --device cpu and
# --device cpu-check must give the same results bit for bit: training
# checkpoints (weights and moments through the host copies a device needs),
# resume (moments uploaded), validation, both schedules, GQA, linear and
# causal heads, fine-tuning with a frozen trunk; generated text, plain,
# self-speculative and auto, greedy and sampled; eval's losses; eval-choice's
# scores and eval-gen's answers; bench-decode.
# And the devices a build cannot use are refused clearly.
set -u
source "$(dirname "$0")/lib.sh"

speaker_corpus 200
M prepare --quiet --out data --val-fraction 0.2 corpus >/dev/null 2>&1 || fail "prepare"
TINY="--data data --n-layer 3 --n-future 2 --dim 32 --n-head 4 --seq-len 16 --batch 4 --threads 2"

# both devices, same flags: the checkpoints of step S in runs A (cpu) and B (cpu-check) must match
both() {
    local name=$1 steps=$2
    shift 2
    M train "$@" --out "cpu_$name" --device cpu >/dev/null 2>&1 || fail "$name: train on cpu"
    M train "$@" --out "chk_$name" --device cpu-check >"chk_$name.log" 2>&1 || {
        fail "$name: train on cpu-check"
        tail -3 "chk_$name.log"
    }
    local s
    s=$(printf 'step_%08d' "$steps")
    for f in model.safetensors optimizer.safetensors; do
        cmp -s "cpu_$name/$s/$f" "chk_$name/$s/$f" || fail "$name: $s/$f differs between cpu and cpu-check"
    done
}

both plain 6 $TINY --steps 6 --save-every 3 --keep-last 0 --eval-every 3
# resume on the device from step 3: moments go up, the rest as before
M train --resume chk_plain/step_00000003 --out chk_resumed --threads 2 --device cpu-check >/dev/null 2>&1 ||
    fail "resume on cpu-check"
cmp -s cpu_plain/step_00000006/optimizer.safetensors chk_resumed/step_00000006/optimizer.safetensors ||
    fail "resume on cpu-check: moments differ"
both naive_gqa 3 --data data --n-layer 4 --n-future 3 --dim 32 --n-head 4 --n-kv-head 2 --seq-len 16 --batch 3 \
    --threads 2 --steps 3 --schedule naive --eval-every 0
both linear 3 $TINY --n-future 3 --head-type linear --steps 3 --eval-every 0 --grad-accum 2
both causal 3 $TINY --n-layer 4 --n-future 3 --head-order causal --steps 3 --eval-every 0
# fine-tuning new heads on a frozen trunk: packed moments
M train $TINY --n-future 1 --steps 4 --eval-every 0 --out base >/dev/null 2>&1 || fail "train the base"
both frozen 3 $TINY --n-layer 5 --init-from base --n-future 3 --freeze-trunk --steps 3 --eval-every 0

# decoding and scoring: a model with drafting heads, trained a little
M train $TINY --n-layer 4 --n-future 3 --steps 30 --lr 3e-3 --eval-every 0 --out dec >/dev/null 2>&1 ||
    fail "train the decoding model"
for k in 0 1 2 auto; do
    for dev in cpu cpu-check; do
        M generate --model dec --prompt "line 4" --max-new 24 --speculative $k --threads 2 --device $dev \
            >"gen_${k}_$dev.txt" 2>"gen_${k}_$dev.err" || fail "generate --speculative $k on $dev: $(tail -1 "gen_${k}_$dev.err")"
    done
    cmp -s "gen_${k}_cpu.txt" "gen_${k}_cpu-check.txt" || fail "generate --speculative $k: cpu and cpu-check differ"
done
cmp -s gen_0_cpu.txt gen_2_cpu-check.txt || fail "greedy speculative on cpu-check differs from plain"
for dev in cpu cpu-check; do
    M sample --model dec --prompt "line" --max-new 16 --temperature 0.8 --seed 5 --speculative 2 --threads 2 \
        --device $dev >"sample_$dev.txt" 2>/dev/null || fail "sample on $dev"
    M eval --model dec --data data --json --threads 2 --device $dev >"eval_$dev.json" 2>/dev/null || fail "eval on $dev"
done
cmp -s sample_cpu.txt sample_cpu-check.txt || fail "sample: cpu and cpu-check differ"
cmp -s eval_cpu.json eval_cpu-check.json || fail "eval: cpu and cpu-check differ"
# scoring and generating evaluations (timings left out of the comparison)
printf '{"query": "line 3: the", "choices": [" 3 quick", " cat", " dog"], "gold": 0}\n' >mc.jsonl
printf '{"query": "said", "choices": [" speaker", " nobody"], "gold": 0}\n' >>mc.jsonl
printf '{"prompt": "line 4: the", "answer": "4 quick"}\n{"prompt": "line 7", "answer": ": the"}\n' >gen.jsonl
for dev in cpu cpu-check; do
    M eval-choice --model dec --data mc.jsonl --json --threads 2 --device $dev 2>/dev/null |
        sed 's/"seconds":[0-9.e+-]*//' >"choice_$dev.json" || fail "eval-choice on $dev"
    M eval-gen --model dec --data gen.jsonl --max-new 6 --json --quiet --threads 2 --device $dev >"egen_$dev.json" \
        2>/dev/null || fail "eval-gen on $dev"
done
grep -q '"items":2' choice_cpu.json || fail "eval-choice: $(cat choice_cpu.json)"
cmp -s choice_cpu.json choice_cpu-check.json || fail "eval-choice: cpu and cpu-check differ"
cmp -s egen_cpu.json egen_cpu-check.json || fail "eval-gen: cpu and cpu-check differ"
printf '{"prompt": "line 3: the"}\n{"prompt": "line 9"}\n' >prompts.jsonl
M bench-decode --model dec --prompts prompts.jsonl --max-new 12 --threads 2 --device cpu-check >bd.txt 2>&1 ||
    fail "bench-decode on cpu-check: $(tail -1 bd.txt)"
grep -q "differ from plain" bd.txt && fail "bench-decode on cpu-check: speculative output differs from plain"

M bench-train --steps 1 --dim 32 --n-head 4 --n-layer 2 --seq-len 16 --batch 2 --threads 2 --device cpu-check \
    >bench.txt 2>&1 || fail "bench-train on cpu-check: $(tail -1 bench.txt)"
grep -q "cpu-check" bench.txt || fail "bench-train does not name its device"

expect_error "bf16 on the CPU" "--precision bf16" -- M bench-train --precision bf16 --device cpu
expect_error "unknown precision" "expected fp32, tf32 or bf16" -- M train $TINY --steps 1 --out np --precision fp16
expect_error "unknown device" "expected cpu, cuda or cpu-check" -- M bench-train --device gpu
M --version >version.txt || fail "--version"
grep -Eq "kernels for (avx512|avx2|generic)" version.txt || fail "--version does not name the kernels' vector set: $(cat version.txt)"
M bench-train --steps 1 --dim 32 --n-head 4 --n-layer 2 --seq-len 16 --batch 2 --threads 2 --json >bench.json 2>&1 ||
    fail "bench-train --json: $(tail -1 bench.json)"
grep -Eq '"kernels": "(avx512|avx2|generic)' bench.json || fail "bench-train --json does not name the kernels: $(cat bench.json)"
if ! nm "$MTP" 2>/dev/null | grep -q cuda_init; then
    expect_error "cuda without CUDA" "make CUDA=1" -- M train $TINY --steps 1 --out nocuda --device cuda
    grep -q "CUDA no (make CUDA=1)" version.txt || fail "--version does not say CUDA is missing: $(cat version.txt)"
else
    grep -q "CUDA yes ([0-9]* GPU" version.txt || fail "--version does not count the GPUs: $(cat version.txt)"
fi

# Where the build has CUDA and a GPU, or the host emulation of one (make CUDA=emu): training on
# cuda follows the CPU (float32 sums in another order: losses within 1e-3 over 6 steps), greedy
# text is the same plain, self-speculative and auto, sampling runs, and bf16 products train close
# to float32, also with the fused attention (heads of 64).
if grep -q "CUDA yes ([1-9]" version.txt; then
    # close A.log B.log TOL: every logged training loss of B within TOL (relative) of A's
    close() {
        python3 - "$@" <<'PY'
import json, sys
def losses(p):
    return [r["loss"] for r in map(json.loads, open(p)) if "split" not in r]
a, b, tol = losses(sys.argv[1]), losses(sys.argv[2]), float(sys.argv[3])
worst = max(abs(x - y) / abs(x) for x, y in zip(a, b)) if a and len(a) == len(b) else float("inf")
print(f"{sys.argv[2]}: largest relative loss difference {worst:.2e} over {len(a)} steps (tolerance {tol})")
sys.exit(0 if worst <= tol else 1)
PY
    }
    M train $TINY --steps 6 --eval-every 0 --out cu_cpu --log cu_cpu.log --device cpu >/dev/null 2>&1 ||
        fail "train on cpu (for cuda)"
    M train $TINY --steps 6 --eval-every 0 --out cu_gpu --log cu_gpu.log --device cuda >cu_gpu.out 2>&1 ||
        fail "train on cuda: $(tail -1 cu_gpu.out)"
    close cu_cpu.log cu_gpu.log 1e-3 || fail "training on cuda drifts from cpu"
    for k in 0 2 auto; do
        M generate --model dec --prompt "line 4" --max-new 24 --speculative $k --threads 2 --device cuda \
            >"gen_${k}_cuda.txt" 2>"gen_${k}_cuda.err" || fail "generate --speculative $k on cuda: $(tail -1 "gen_${k}_cuda.err")"
    done
    cmp -s gen_0_cuda.txt gen_2_cuda.txt && cmp -s gen_0_cuda.txt gen_auto_cuda.txt ||
        fail "greedy speculative text on cuda differs from plain"
    M sample --model dec --prompt "line" --max-new 16 --temperature 0.8 --seed 5 --speculative 2 --threads 2 \
        --device cuda >sample_cuda.txt 2>/dev/null || fail "sample on cuda"
    HD64="--data data --n-layer 3 --n-future 2 --dim 64 --n-head 1 --seq-len 16 --batch 4 --threads 2 --steps 6"
    for p in fp32 bf16; do
        MTP_FLASH_ATTENTION=1 M train $HD64 --eval-every 0 --precision $p --out "cu_$p" --log "cu_$p.log" \
            --device cuda >"cu_$p.out" 2>&1 || fail "train --precision $p on cuda: $(tail -1 "cu_$p.out")"
    done
    close cu_fp32.log cu_bf16.log 2e-2 || fail "bf16 training with the fused attention drifts from fp32"
fi
finish test_device_commands.sh
