#!/usr/bin/env bash
# decode_big.sh: decoding speed on a model of realistic size, far larger than
# the CPU caches (d=1536, 16 blocks of which 4 heads, GPT-2 vocabulary, about
# 600M parameters, 2.4 GB of fp32 weights), random-initialized: speed does
# not depend on what the weights learned, only acceptance does (zero here).
# Builds the model and its int8 copy (mtp quantize --type q8) once, takes
# prompts from CPython's standard library (from ../shared/data), and runs
# `mtp bench-decode` on both: plain, K = 1..3 and auto, with the
# read-bandwidth roofline measured in the same process, then prints the int8
# over float32 plain-decoding speed ratio. --mtp runs another build of mtp on
# the same models (e.g. an AVX2 one: make BUILD=build/avx2 OPT="-O3
# -march=x86-64-v3" build/avx2/mtp); its tables go to DIR/model.ISA.txt, DIR/q8.ISA.txt.
#   bash bench/decode_big.sh [--threads N] [--prompts P] [--max-new N] [--repeats R] [--out DIR] [--mtp BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 prompts=8 max_new=64 repeats=1 out=runs/decode_big bench_mtp=
while [ $# -gt 0 ]; do
    case "$1" in -h | --help) ;; *) [ $# -ge 2 ] || { echo "decode_big.sh: $1 needs a value" >&2; exit 2; } ;; esac
    case "$1" in
    --threads) threads=$2 ;;
    --prompts) prompts=$2 ;;
    --max-new) max_new=$2 ;;
    --repeats) repeats=$2 ;;
    --out) out=$2 ;;
    --mtp) bench_mtp=$2 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "decode_big.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift 2
done
data=$(cd .. && pwd)/shared/data
for f in "$data/gpt2/encoder.json" "$data/tinyshakespeare/input.txt" "$data/python_code/cpython-3.11.2_stdlib_py.tar.xz"; do
    [ -f "$f" ] || { echo "decode_big.sh: $f not found: this benchmark reads ../shared/data" >&2; exit 1; }
done
make -j"$(nproc)" build/mtp >/dev/null
mtp=./build/mtp
# the build that runs the benchmark (the models are made by this tree's build either way)
run=$mtp tag=
if [ -n "$bench_mtp" ]; then
    [ -x "$bench_mtp" ] || { echo "decode_big.sh: --mtp $bench_mtp is not an executable" >&2; exit 2; }
    run=$bench_mtp
    isa=$("$run" --version | sed -n 's/.*kernels for \([a-z0-9]*\).*/\1/p')
    tag=.${isa:-other}
fi
mkdir -p "$out"
if [ ! -f "$out/model/step_00000000/model.safetensors" ]; then
    echo "building the model in $out/model (2.4 GB) ..."
    "$mtp" prepare --quiet --tokenizer "$data/gpt2" --force --out "$out/data" "$data/tinyshakespeare/input.txt"
    rm -rf "$out/model"
    "$mtp" train --data "$out/data" --out "$out/model" --n-layer 16 --n-future 4 --dim 1536 --n-head 12 \
        --seq-len 256 --max-context 1024 --steps 0 --eval-every 0 --threads "$threads" >/dev/null
fi
if [ ! -s "$out/prompts.jsonl" ]; then
    # the first 1,500 characters of standard-library modules: code, as the paper's speedups are measured on
    tmp=$(mktemp -d)
    tar -xJf "$data/python_code/cpython-3.11.2_stdlib_py.tar.xz" -C "$tmp"
    find "$tmp" -name '*.py' -size +4k | sort | awk 'NR % 40 == 1' | head -n 64 >"$tmp/list"
    python3 - "$tmp/list" >"$out/prompts.jsonl" <<'PY'
import json, sys
for path in open(sys.argv[1]).read().splitlines():
    text = open(path, encoding="utf-8", errors="replace").read()[:1500]
    print(json.dumps({"prompt": text}))
PY
    rm -rf "$tmp"
fi
if [ ! -f "$out/q8/step_00000000/model.safetensors" ]; then
    echo "quantizing to $out/q8 ..."
    "$mtp" quantize --model "$out/model" --type q8 --out "$out/q8" --threads "$threads"
fi
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; flags: $(grep -o -w -E 'avx512f|avx512_vnni|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "mtp: $run, $("$run" --version | sed -n 's/^built with: //p')"
for m in model q8; do
    echo
    "$run" bench-decode --model "$out/$m" --prompts "$out/prompts.jsonl" --max-prompts "$prompts" \
        --max-new "$max_new" --repeats "$repeats" --threads "$threads" | tee "$out/$m$tag.txt"
done
# int8 over float32: plain decoding's ms per forward, from the two tables
ms() { awk -F'|' '/\(plain\)/ { gsub(/ /, "", $8); print $8 }' "$1"; }
awk -v f="$(ms "$out/model$tag.txt")" -v q="$(ms "$out/q8$tag.txt")" \
    'BEGIN { if (f > 0 && q > 0) printf "\nint8 plain decoding: %.2fx float32 (%.2f vs %.2f ms per token)\n", f / q, q, f }'
