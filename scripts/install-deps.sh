#!/usr/bin/env bash
# Installs the Debian packages mtp needs to build and test (skips what is
# already there). Run as root or with sudo available.
set -euo pipefail
build_pkgs=(make gcc g++ clang libomp-dev libopenblas-openmp-dev libcjson-dev libpcre2-dev libopenmpi-dev openmpi-bin pkg-config)
# xz-utils: the shared data's .tar.xz archives (experiments, bench); bc and time: bench scripts
test_pkgs=(python3 python3-numpy python3-torch python3-sentencepiece python3-nltk libclang-rt-14-dev gnuplot-nox
    xz-utils bc time)
want=("${build_pkgs[@]}")
[ "${1:-}" = "--with-tests" ] && want+=("${test_pkgs[@]}")
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm for the tokenizer's oracle, unless some build of them is
# there already (Debian's npm package conflicts with other Node.js builds).
[ "${1:-}" = "--with-tests" ] && ! command -v npm >/dev/null && missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The tokenizer's oracles, from npm, kept in build/npm (their tests are
# skipped without them): OpenAI's tiktoken (tests/test_tiktoken_diff.sh) and
# Hugging Face's tokenizers.js (tests/test_hf_tokenizer_json.sh).
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--with-tests" ] &&
    { [ ! -d build/npm/node_modules/tiktoken ] || [ ! -d build/npm/node_modules/@huggingface/tokenizers ]; }; then
    mkdir -p build/npm
    npm install --silent --no-audit --no-fund --prefix build/npm tiktoken@1.0.22 @huggingface/tokenizers@0.2.0 \
        >/dev/null || echo "note: npm could not install the tokenizer oracles; their tests will be skipped"
fi
