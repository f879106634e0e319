#!/usr/bin/env bash
# GPT-2 BPE against OpenAI's tiktoken on 6000 random texts (tests/tiktoken_cases.cjs:
# contractions, every Unicode White_Space character, letters and digits of many
# scripts, marks, emoji, random code points): mtp's ids must equal tiktoken's
# for every text. Texts holding a code point unassigned in Unicode 14 (PCRE2
# 10.42's tables; tiktoken's are newer) are left out. Needs Node.js and the npm
# package tiktoken (scripts/install-deps.sh --with-tests puts it in build/npm),
# and $MTP_DATA/gpt2; skipped without them.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/tests/lib.sh"
MODULES=${TIKTOKEN_NODE_PATH:-$ROOT/build/npm/node_modules}
command -v node >/dev/null || { echo "skip: no node (apt-get install nodejs)"; exit 77; }
[ -d "$MODULES/tiktoken" ] || { echo "skip: no npm package tiktoken in $MODULES (scripts/install-deps.sh --with-tests)"; exit 77; }
[ -f "${MTP_DATA:-}/gpt2/encoder.json" ] || { echo "skip: no \$MTP_DATA/gpt2"; exit 77; }

NODE_PATH=$MODULES node "$ROOT/tests/tiktoken_cases.cjs" 6000 20261126 texts.jsonl ids.jsonl || fail "tiktoken_cases.cjs"
M tokenizer encode --tokenizer "$MTP_DATA/gpt2" --json-lines --json <texts.jsonl >ours.jsonl || fail "mtp tokenizer encode --json-lines"
/usr/bin/env python3 - <<'PY' || fail "ids differ from tiktoken's"
import json, sys, unicodedata
texts = [json.loads(l) for l in open("texts.jsonl", encoding="utf-8")]
want = [l.strip() for l in open("ids.jsonl")]
got = [l.strip() for l in open("ours.jsonl")]
assert len(texts) == len(want) == len(got), (len(texts), len(want), len(got))
# Python 3.11 (Debian 12) has Unicode 14's tables, as PCRE2 10.42 does.
newer = [any(unicodedata.category(c) == "Cn" for c in t) for t in texts]
compared = [i for i in range(len(texts)) if not newer[i]]
bad = [i for i in compared if want[i] != got[i]]
for i in bad[:5]:
    print("text %r: tiktoken %s, mtp %s" % (texts[i], want[i], got[i]))
print("%d texts compared (%d left out: code points unassigned in Unicode %s), %d differ"
      % (len(compared), len(texts) - len(compared), unicodedata.unidata_version, len(bad)))
sys.exit(1 if bad or len(compared) < 4000 else 0)
PY
finish tiktoken_diff
