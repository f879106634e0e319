#!/usr/bin/env bash
# bench_tokenizer.sh: GPT-2 BPE encoding throughput of mtp against OpenAI's
# tiktoken (npm package `tiktoken`, run offline by Node.js) on the same text,
# side by side, and the time to train a 32k BPE on about 30 MB of code.
#
#   bash bench/bench_tokenizer.sh            (PAIRS=3 REPEAT=5 by default)
#
# Text: the .py files of the CPython 3.11.2 standard library from the shared
# data folder (only files that are valid UTF-8, since tiktoken takes
# JavaScript strings). Each tool reads all files into memory, then encodes
# them REPEAT times; the median is reported. The tools run alternately,
# PAIRS times, so both see the same machine load. tiktoken runs on one
# thread; mtp is run with 1 thread (the like-for-like number) and 2.
# Training: stdlib + test suite (about 30 MB), 32000 ids, 2 threads, with
# peak memory from /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${MTP_DATA:-$(cd .. && pwd)/shared/data}
MTP=${MTP:-build/mtp}
W=${BENCH_DIR:-/tmp/mtp_bench_tokenizer}
PAIRS=${PAIRS:-3}
REPEAT=${REPEAT:-5}
[ -x "$MTP" ] || { echo "build mtp first (make)"; exit 1; }
[ -d "$DATA/python_code" ] || { echo "no $DATA/python_code: set MTP_DATA to the shared data folder"; exit 1; }
command -v node >/dev/null || { echo "needs Node.js and npm (apt-get install nodejs npm)"; exit 1; }

mkdir -p "$W/stdlib" "$W/testsuite"
[ -n "$(ls -A "$W/stdlib")" ] || tar -xJf "$DATA/python_code/cpython-3.11.2_stdlib_py.tar.xz" -C "$W/stdlib"
[ -n "$(ls -A "$W/testsuite")" ] || tar -xJf "$DATA/python_code/cpython-3.11.2_testsuite_py.tar.xz" -C "$W/testsuite"
[ -d "$W/node_modules/tiktoken" ] || (cd "$W" && npm install --silent --no-audit --no-fund tiktoken@1.0.22 >/dev/null)

# The valid UTF-8 .py files of the stdlib, in name order.
find "$W/stdlib" -name '*.py' -type f | LC_ALL=C sort | while IFS= read -r f; do
    iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>&1 && printf '%s\n' "$f"
done >"$W/files.txt"
mapfile -t FILES <"$W/files.txt"
echo "text: ${#FILES[@]} files, $(cat "${FILES[@]}" | wc -c) bytes (CPython 3.11.2 stdlib, valid UTF-8 .py files)"
echo "machine: $(nproc) cores, $(uname -m); node $(node --version); tiktoken $(node -p "require('$W/node_modules/tiktoken/package.json').version")"

median() { sort -g | awk '{a[NR]=$1} END {print NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
: >"$W/mtp1" ; : >"$W/mtp2" ; : >"$W/tk"
for p in $(seq "$PAIRS"); do
    "$MTP" tokenizer bench --tokenizer "$DATA/gpt2" --threads 1 --repeat "$REPEAT" "${FILES[@]}" | tee -a "$W/mtp1.log" |
        sed 's/.*, \([0-9.]*\) MB\/s$/\1/' >>"$W/mtp1"
    NODE_PATH="$W/node_modules" node bench/tiktoken_bench.cjs "$W/files.txt" "$REPEAT" | tee -a "$W/tk.log" |
        sed 's/.*, \([0-9.]*\) MB\/s$/\1/' >>"$W/tk"
    "$MTP" tokenizer bench --tokenizer "$DATA/gpt2" --threads 2 --repeat "$REPEAT" "${FILES[@]}" | tee -a "$W/mtp2.log" |
        sed 's/.*, \([0-9.]*\) MB\/s$/\1/' >>"$W/mtp2"
done
tail -n 1 "$W/mtp1.log"; tail -n 1 "$W/tk.log"
m1=$(median <"$W/mtp1"); m2=$(median <"$W/mtp2"); tk=$(median <"$W/tk")
echo
echo "| encoder | threads | MB/s (median of $PAIRS runs) | vs tiktoken |"
echo "|---|---|---|---|"
echo "| tiktoken 1.0.22 (npm, WebAssembly) | 1 | $tk | 1.00x |"
echo "| mtp | 1 | $m1 | $(awk -v a="$m1" -v b="$tk" 'BEGIN {printf "%.2fx", a / b}') |"
echo "| mtp | 2 | $m2 | $(awk -v a="$m2" -v b="$tk" 'BEGIN {printf "%.2fx", a / b}') |"

echo
echo "training a 32k BPE on stdlib + test suite (.py files), 2 threads:"
/usr/bin/time -f "peak RSS %M kB, wall %e s" "$MTP" tokenizer train --quiet --vocab-size 32000 --threads 2 \
    --glob '*.py' --out "$W/code32k.json" "$W/stdlib" "$W/testsuite"
