#!/usr/bin/env bash
# The tokenizer.json files mtp writes, read by Hugging Face's tokenizers.js
# (npm @huggingface/tokenizers): the byte tokenizer, GPT-2's BPE saved by
# mtp prepare, and a BPE trained by mtp tokenizer train must each give the
# same ids as mtp on real text (Tiny Shakespeare, TinyStories). Needs
# Node.js, the npm package (scripts/install-deps.sh --with-tests puts it in
# build/npm) and $MTP_DATA; skipped without them.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/tests/lib.sh"
MODULES=${TIKTOKEN_NODE_PATH:-$ROOT/build/npm/node_modules}
command -v node >/dev/null || { echo "skip: no node (apt-get install nodejs)"; exit 77; }
[ -d "$MODULES/@huggingface/tokenizers" ] ||
    { echo "skip: no npm package @huggingface/tokenizers in $MODULES (scripts/install-deps.sh --with-tests)"; exit 77; }
[ -f "${MTP_DATA:-}/gpt2/encoder.json" ] || { echo "skip: no \$MTP_DATA/gpt2"; exit 77; }
# Node resolves ES-module imports from the script's folder upwards, not NODE_PATH.
mkdir -p js && cp "$ROOT/tests/hf_encode.mjs" js/ && ln -s "$MODULES" js/node_modules

SHAK=$MTP_DATA/tinyshakespeare/input.txt
STORIES=$MTP_DATA/tinystories/tinystories_val_prefix.txt
# same_ids NAME TOKENIZER_JSON TEXT: tokenizers.js and mtp agree on TEXT.
same_ids() {
    node js/hf_encode.mjs "$2" "$3" >hf.json || { fail "$1: tokenizers.js could not load or encode"; return; }
    M tokenizer encode --tokenizer "$2" --json <"$3" >ours.json || { fail "$1: mtp encode"; return; }
    [ "$(wc -c <ours.json)" -gt 100 ] || fail "$1: too few ids"
    cmp -s hf.json ours.json || fail "$1: tokenizers.js ids differ from mtp's"
}
M prepare --quiet --out bytes --val-fraction 0 "$SHAK" >/dev/null || fail "prepare bytes"
same_ids "byte tokenizer" bytes/tokenizer.json "$SHAK"
M prepare --quiet --tokenizer "$MTP_DATA/gpt2" --out gpt2 --val-fraction 0 "$SHAK" >/dev/null || fail "prepare gpt2"
same_ids "GPT-2 saved by mtp, Tiny Shakespeare" gpt2/tokenizer.json "$SHAK"
same_ids "GPT-2 saved by mtp, TinyStories" gpt2/tokenizer.json "$STORIES"
M tokenizer train --quiet --vocab-size 3000 --out trained.json "$SHAK" >/dev/null || fail "tokenizer train"
same_ids "trained BPE, Tiny Shakespeare" trained.json "$SHAK"
same_ids "trained BPE, TinyStories" trained.json "$STORIES"
finish hf_tokenizer_json
