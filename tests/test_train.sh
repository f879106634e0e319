#!/usr/bin/env bash
# End-to-end checks of `mtp train` and `mtp sample`: determinism, the two head
# schedules, exact resume, memorization, checkpoint housekeeping, and one
# test per kind of bad input (clear one-line error, non-zero exit, no crash,
# no half-written checkpoint).
set -u
source "$(dirname "$0")/lib.sh"

# a small corpus: a few hundred lines of varied text, and a short text to memorize
speaker_corpus 300
for i in $(seq 1 200); do echo "def f$i(x):\n    return x * $i + $((i % 9))"; done >corpus/b.py
M prepare --quiet --out data --val-fraction 0.2 corpus >/dev/null 2>&1 || fail "prepare"
TINY="--data data --n-layer 3 --n-future 2 --dim 32 --n-head 4 --seq-len 16 --batch 4 --threads 2 --eval-every 0"

same() { cmp -s "$1" "$2"; }

# ---- same seed, same run; other seed, other run
M train $TINY --out r1 --steps 5 --seed 7 2>/dev/null || fail "train r1"
M train $TINY --out r2 --steps 5 --seed 7 2>/dev/null || fail "train r2"
M train $TINY --out r3 --steps 5 --seed 8 2>/dev/null || fail "train r3"
same r1/step_00000005/model.safetensors r2/step_00000005/model.safetensors || fail "same seed gave different weights"
same r1/step_00000005/model.safetensors r3/step_00000005/model.safetensors && fail "different seeds gave the same weights"

# ---- sequential and naive schedules: identical parameters and moments (n = 3, GQA)
S="--data data --n-layer 4 --n-future 3 --dim 32 --n-head 4 --n-kv-head 2 --seq-len 16 --batch 3 --threads 2 --eval-every 0 --steps 3"
M train $S --out seq --schedule sequential 2>/dev/null || fail "train sequential"
M train $S --out naive --schedule naive 2>/dev/null || fail "train naive"
same seq/step_00000003/model.safetensors naive/step_00000003/model.safetensors || fail "schedules: weights differ"
same seq/step_00000003/optimizer.safetensors naive/step_00000003/optimizer.safetensors || fail "schedules: moments differ"

# ---- resume: 20 straight steps == 10 steps, save, resume, 10 steps (bit for bit)
R="$TINY --steps 20 --save-every 10 --keep-last 0 --grad-accum 2"
M train $R --out full 2>/dev/null || fail "train full"
M train --resume full/step_00000010 --out resumed --threads 2 2>/dev/null || fail "resume"
same full/step_00000020/model.safetensors resumed/step_00000020/model.safetensors || fail "resume: weights differ"
same full/step_00000020/optimizer.safetensors resumed/step_00000020/optimizer.safetensors || fail "resume: moments differ"
# with a constant learning rate the schedule does not depend on --steps: 10 + 10 == 20
C="$TINY --warmup 0 --min-lr-ratio 1"
M train $C --out c20 --steps 20 2>/dev/null || fail "train c20"
M train $C --out c10 --steps 10 2>/dev/null || fail "train c10"
M train --resume c10 --steps 20 --threads 2 2>/dev/null || fail "resume c10"
same c20/step_00000020/model.safetensors c10/step_00000020/model.safetensors || fail "10+10 != 20 steps"
# a run directory means its latest checkpoint; --keep-last prunes
M train $TINY --out keep --steps 8 --save-every 2 --keep-last 2 2>/dev/null || fail "train keep"
[ "$(ls keep | tr '\n' ' ')" = "step_00000006 step_00000008 " ] || fail "keep-last 2 left: $(ls keep)"
# killed while pruning (strace kills at the 4th file removal): no step_* folder is left incomplete
if command -v strace >/dev/null && strace -f -o /dev/null -e trace=none true 2>/dev/null; then
    cp -r keep keepkill
    strace -f -o /dev/null -e trace=unlink -e inject=unlink:signal=KILL:when=4 "$MTP" train --resume keepkill \
        --steps 9 --keep-last 1 >/dev/null 2>&1
    for d in keepkill/step_*; do
        [ -f "$d/tokenizer.json" ] && [ -f "$d/optimizer.safetensors" ] || fail "killed while pruning: $d is incomplete"
    done
    # a run refused before it opens (no --data) closes no descriptor it does not own (it closed stdin)
    strace -f -o close.txt -e trace=close "$MTP" train --out nodata --threads 1 </dev/null >/dev/null 2>&1
    grep -q "close(0)" close.txt && fail "a refused train closed its standard input"
    M train --resume keepkill --steps 10 --keep-last 1 2>/dev/null || fail "resume after a kill while pruning"
    [ "$(ls -A keepkill | grep -v '^\.lock$' | tr '\n' ' ')" = "step_00000010 " ] ||
        fail "after a kill while pruning: $(ls -A keepkill)"
fi
# --steps 0 writes the initialized model
M train $TINY --out init --steps 0 2>/dev/null || fail "steps 0"
[ -f init/step_00000000/model.safetensors ] && [ -f init/step_00000000/config.json ] &&
    [ -f init/step_00000000/tokenizer.json ] || fail "steps 0 wrote no checkpoint"
# ... and a run resumed from it gets the default warmup of its real --steps (not steps 0's: none)
M train --resume init --steps 20 2>/dev/null || fail "resume after --steps 0"
M train $TINY --out init20 --steps 20 2>/dev/null || fail "train 20 steps"
same init/step_00000020/model.safetensors init20/step_00000020/model.safetensors ||
    fail "--steps 0 then --resume --steps 20 differs from 20 steps (the warmup was fixed at 0)"

# config.json's floats keep their bits through a save (7 digits changed half of all floats), a key
# given twice is refused (Python's json keeps the last, a first-match reader another), and a stray
# step_* name that holds no checkpoint does not block the run
cp -r init cfg && rm -rf cfg/step_00000020
/usr/bin/python3 - cfg/step_00000000/config.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["rms_norm_eps"] = 5.93483455e-05
json.dump(c, open(sys.argv[1], "w"))
PY
mkdir cfg/step_00000099
M train --resume cfg/step_00000000 --out cfg --steps 1 2>err.txt || fail "resume with an edited eps: $(cat err.txt)"
/usr/bin/python3 -c 'import json, struct, sys
a = json.load(open(sys.argv[1]))["rms_norm_eps"]; b = json.load(open(sys.argv[2]))["rms_norm_eps"]
f = lambda x: struct.pack("<f", x)
sys.exit(0 if f(a) == f(b) else 1)' cfg/step_00000000/config.json cfg/step_00000001/config.json ||
    fail "config.json: rms_norm_eps changed its float bits on save"
sed -i 's/^{/{"max_position_embeddings": 4, /' cfg/step_00000001/config.json
expect_error "a key twice in config.json" "appears twice" -- M eval --model cfg/step_00000001 --data data
# a config.json that disagrees with the weights is refused from the file's header, before the model's
# memory is allocated (a vocabulary of 15 M took 3.8 GB first): within 1 GB of address space
cp -r init bigvocab && rm -rf bigvocab/step_00000020
sed -i 's/"vocab_size":[^,]*/"vocab_size": 15000000/' bigvocab/step_00000000/config.json
# (AddressSanitizer reserves terabytes of address space for its shadow: no limit under it)
limit=1000000
ldd "$MTP" 2>/dev/null | grep -q libasan && limit=unlimited
(ulimit -v $limit; "$MTP" generate --model bigvocab --prompt a --max-new 2 >/dev/null 2>err.txt)
grep -q "model.embed_tokens.weight' has shape \[257, 32\], config.json's model needs \[15000000, 32\]" err.txt ||
    fail "a config.json with another vocabulary: $(cat err.txt)"

# a negative second moment (a damaged file) is refused on --resume: it made the next step NaN
cp -r init negv && rm -rf negv/step_00000020
/usr/bin/python3 - negv/step_00000000/optimizer.safetensors <<'PY'
import json, struct, sys
raw = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
at = 8 + n + h["exp_avg_sq.model.norm.weight"]["data_offsets"][0] + 4 * 3
raw[at:at + 4] = struct.pack("<f", -1.0)
open(sys.argv[1], "wb").write(raw)
PY
expect_error "a negative second moment" "exp_avg_sq -1" -- M train --resume negv --steps 1

# ---- a run directory that was moved or copied continues where it now is
M train $TINY --out before_move --steps 4 --save-every 2 2>/dev/null || fail "train before_move"
mv before_move moved && cp -r moved copied
M train --resume moved --steps 6 2>/dev/null || fail "resume a moved run"
[ -d moved/step_00000006 ] || fail "moved run: no moved/step_00000006 ($(ls moved))"
[ ! -e before_move ] || fail "moved run: wrote into its old path before_move/"
M train --resume copied/step_00000004 --steps 5 2>/dev/null || fail "resume a step of a copied run"
[ -d copied/step_00000005 ] && [ ! -e moved/step_00000005 ] || fail "copied run: step 5 went to $(ls -d */step_00000005)"
M train --resume moved --out elsewhere --steps 7 2>/dev/null || fail "resume with an explicit --out"
[ -d elsewhere/step_00000007 ] || fail "resume --out elsewhere: $(ls elsewhere 2>&1)"

# ---- Ctrl-C: the run saves the step it reached and exits 130 (not done); --resume finishes it
"$MTP" train $TINY --out interrupted --steps 100000 --save-every 0 --log interrupted.jsonl >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 300); do  # wait until training is under way
    sleep 0.1
    [ -s interrupted.jsonl ] && break
done
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 130 ] || fail "interrupted run exited with $rc, not 130"
saved=$(ls interrupted | grep '^step_' | tail -n 1)
case "$saved" in step_0*) ;; *) fail "no checkpoint after Ctrl-C: $(ls interrupted)" ;; esac
n_saved=$((10#${saved#step_}))
[ "$n_saved" -gt 0 ] && [ "$n_saved" -lt 100000 ] || fail "Ctrl-C saved step $n_saved"
M train --resume interrupted --steps $((n_saved + 2)) --threads 2 2>/dev/null || fail "resume after Ctrl-C"
[ -d interrupted/step_$(printf %08d $((n_saved + 2))) ] || fail "resume after Ctrl-C did not reach its --steps"

# ---- SIGTERM (kill, timeout, a batch system) saves like Ctrl-C and exits 143; a second run on
# the same directory meanwhile is refused (the first holds RUN_DIR/.lock)
"$MTP" train $TINY --out termed --steps 100000 --save-every 0 --log termed.jsonl >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 300); do
    sleep 0.1
    [ -s termed.jsonl ] && break
done
expect_error "second run on a locked directory" "in use by another mtp train" -- \
    M train $TINY --out termed --steps 5
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 143 ] || fail "SIGTERM: exited with $rc, not 143"
ls termed | grep -q '^step_0' || fail "no checkpoint after SIGTERM: $(ls termed)"

# ---- a resumed run does not write into another run's directory, and --keep-last prunes only the
# run's own step_NNNNNNNN checkpoints
M train $TINY --out runP --steps 2 2>/dev/null || fail "train runP"
M train $TINY --out runQ --steps 4 --save-every 2 --keep-last 0 2>/dev/null || fail "train runQ"
expect_error "resume into another run's directory" "another run's checkpoints" -- \
    M train --resume runQ/step_00000002 --out runP --steps 3
[ -d runP/step_00000002 ] || fail "runP lost its checkpoint: $(ls runP)"
cp -r runQ/step_00000002 runQ/step_00000002_best
echo notes >runQ/step_notes.txt
M train --resume runQ --steps 6 --save-every 1 --keep-last 2 2>/dev/null || fail "resume runQ"
[ "$(ls runQ | tr '\n' ' ')" = "step_00000002_best step_00000005 step_00000006 step_notes.txt " ] ||
    fail "--keep-last 2 left: $(ls runQ | tr '\n' ' ')"

# ---- the model's tokenizer stays the run's: data prepared with another one is refused on
# --resume and --init-from; data without a tokenizer.json trains on, the checkpoint keeps the run's
M tokenizer train --quiet --vocab-size 300 --out other.json corpus >/dev/null 2>&1 || fail "tokenizer train"
M prepare --quiet --out data_bpe --tokenizer other.json corpus >/dev/null 2>&1 || fail "prepare data_bpe"
expect_error "resume on another tokenizer's data" "another tokenizer" -- \
    M train --resume runP --data data_bpe --steps 3 --vocab-size 257
expect_error "init-from on another tokenizer's data" "another tokenizer" -- \
    M train --init-from runP --data data_bpe --out runI --steps 1 --n-future 3
# the same data without its tokenizer.json: the ids past the model's vocabulary are named, with the
# model's tokenizer as the fix (not a larger --vocab-size, which a trained model cannot take)
mkdir data_bpe_bare && cp data_bpe/*.bin data_bpe_bare/
for how in "--resume runP" "--init-from runP --out runJ --n-future 3"; do
    expect_error "$how on a larger vocabulary's data" "the model's vocabulary has 257 tokens" -- \
        M train $how --data data_bpe_bare --steps 3
    grep -q -- "--vocab-size" err.txt && fail "$how: the error suggests --vocab-size: $(cat err.txt)"
done
mkdir data_bare && cp data/*.bin data_bare/
M train --resume runP --data data_bare --steps 3 2>/dev/null || fail "resume on data without tokenizer.json"
same runP/step_00000002/tokenizer.json runP/step_00000003/tokenizer.json ||
    fail "a step on data without tokenizer.json lost the run's tokenizer: $(ls runP/step_00000003)"

expect_error "--freeze-trunk on resume" "cannot change on --resume" -- M train --resume runP --freeze-trunk --steps 5

# ---- the log cannot be written: the run stops with an error naming --log, its steps saved
M train $TINY --out logfull --steps 3 --save-every 0 --log /dev/full >/dev/null 2>err.txt
rc=$?
[ $rc -eq 1 ] && grep -q -- "--log '/dev/full': cannot write" err.txt || fail "log on a full device: rc $rc, $(cat err.txt)"
[ -d logfull/step_00000001 ] || fail "log failure: the step made was not saved: $(ls logfull 2>&1)"

# ---- a run larger than the machine: refused before anything is allocated; the sequential schedule
# is suggested only to a naive run
BIG="--data data --n-layer 3 --dim 8 --n-head 2 --seq-len 4000 --batch 65536 --steps 0 --threads 1"
expect_error "memory, sequential" "GB of memory but the machine has" -- M train $BIG --out big
grep -q "schedule" err.txt && fail "memory: --schedule suggested to a sequential run: $(cat err.txt)"
expect_error "memory, naive" "or use --schedule sequential" -- M train $BIG --out big --schedule naive

# ---- a full disk under the log (a 1 MB tmpfs in a private mount namespace, where permitted): a
# resumed step's line fits, the final evaluation's does not (log_slack). The step is saved (it was
# lost) and the log holds whole lines only; then the training line fails, and the step is saved too
export TINY
on_full_tmpfs "full disk under the log" '
    E="--save-every 0 --eval-every 1000 --eval-batches 1 --log small/log.jsonl"
    "$MTP" train $TINY --out fin --steps 4 $E 2>/dev/null || { echo "train fin"; exit 1; }
    log_slack small/log.jsonl 200 small/fill
    "$MTP" train --resume fin --steps 5 $E >/dev/null 2>err.txt
    [ $? -eq 1 ] && grep -q -- "--log .*cannot write" err.txt || { echo "final eval: $(cat err.txt)"; exit 1; }
    [ -d fin/step_00000005 ] || { echo "the final evaluation line failed and step 5 was lost"; exit 1; }
    whole_json_lines small/log.jsonl 5 || exit 1
    rm small/fill && log_slack small/log.jsonl 60 small/fill
    "$MTP" train --resume fin --steps 6 $E >/dev/null 2>err.txt
    [ $? -eq 1 ] && [ -d fin/step_00000006 ] || { echo "training line: $(cat err.txt)"; exit 1; }
    whole_json_lines small/log.jsonl 5 || exit 1
'
M train $TINY --out frag --steps 4 --log frag.jsonl 2>/dev/null || fail "train frag"
printf '{"step": 5, "lo' >>frag.jsonl
M train --resume frag --steps 6 2>err.txt || fail "resume after a log fragment: $(cat err.txt)"
grep -q "unfinished line" err.txt || fail "resume did not say it cut the log's fragment: $(cat err.txt)"
/usr/bin/env python3 -c "
import json, sys
steps = [json.loads(l)['step'] for l in open('frag.jsonl')]
assert steps == [1, 2, 3, 4, 5, 6], steps" || fail "log after a fragment: $(cat frag.jsonl)"
M train --resume frag --steps 7 --log '' 2>/dev/null || fail "resume with --log ''"
[ "$(wc -l <frag.jsonl)" -eq 6 ] || fail "--log '' still wrote the run's log"
# a lone copy of a checkpoint names its run absolutely (it once made a new run under the working
# directory); that run refuses a checkpoint not its own, so a lone copy resumes with --out
mkdir -p fromhere && cp -r frag/step_00000007 lone
(cd fromhere && "$MTP" train --resume ../lone --steps 8 >/dev/null 2>../err.txt)
[ $? -eq 1 ] && [ -z "$(ls fromhere)" ] && grep -q "frag' holds another run's checkpoints" err.txt ||
    fail "a lone checkpoint resumed into $(ls fromhere): $(cat err.txt)"
(cd fromhere && "$MTP" train --resume ../lone --steps 8 --out again >/dev/null 2>&1) && [ -d fromhere/again/step_00000008 ] ||
    fail "resume of a lone checkpoint with --out"

# ---- log lines: one per step plus one per eval, valid JSON with the keys of design.md
M train $TINY --out logged --steps 4 --eval-every 2 --eval-batches 2 --log log.jsonl 2>/dev/null || fail "train log"
/usr/bin/env python3 - log.jsonl <<'PY' || fail "log file"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
steps = [l for l in lines if "split" not in l]
evals = [l for l in lines if l.get("split") == "val"]
assert len(steps) == 4 and len(evals) == 2, (len(steps), len(evals))
for l in steps:
    for k in ("step", "loss", "head_losses", "lr", "grad_norm", "tokens_per_sec", "ms"):
        assert k in l, k
    assert len(l["head_losses"]) == 2 and abs(sum(l["head_losses"]) - l["loss"]) < 1e-3
PY

# ---- memorization: a tiny n=2 model learns a short text (loss < 0.05)
mkdir -p mem && printf 'To be, or not to be, that is the question: whether tis nobler in the mind to suffer the slings and arrows of outrageous fortune.\n' >mem/t.txt
M prepare --quiet --out memdata --val-fraction 0 mem/t.txt >/dev/null 2>&1 || fail "prepare mem"
M train --data memdata --out memrun --n-layer 3 --n-future 2 --dim 64 --n-head 4 --seq-len 32 --batch 8 \
    --steps 300 --lr 3e-3 --warmup 20 --min-lr-ratio 0.1 --weight-decay 0 --eval-every 0 --threads 2 \
    --log mem.jsonl 2>/dev/null || fail "train mem"
last=$(tail -n 1 mem.jsonl | /usr/bin/env python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["loss"])')
/usr/bin/env python3 -c "import sys; sys.exit(0 if float('$last') < 0.05 else 1)" || fail "memorization: final loss $last >= 0.05"
out=$(M sample --model memrun --prompt "To be, or not" --max-new 20 --temperature 0 2>/dev/null)
case "$out" in "To be, or not to be, that is the"*) ;; *) fail "greedy sample of memorized text: '$out'" ;; esac

# ---- bad input: one line on stderr naming the problem, exit 1 or 2, no crash, no checkpoint left
no_checkpoint() { ! ls "$1"/step_* "$1"/.tmp-* >/dev/null 2>&1 || fail "$2: left a checkpoint in $1"; }

expect_error "missing data dir" "does not exist" -- M train $TINY --data nowhere --out bad1
expect_error "data is a file" "is a file, not a directory" -- M train $TINY --data data/tokenizer.json --out bad1b
mkdir -p emptydata
expect_error "empty data dir" "no train_" -- M train $TINY --data emptydata --vocab-size 257 --out bad2
no_checkpoint bad2 "empty data dir"
cp -r data trunc && truncate -s -3 trunc/train_000000.bin
expect_error "truncated shard" "train_000000.bin" -- M train $TINY --data trunc --out bad3
cp -r data magic && printf '\x01\x02\x03\x04' | dd of=magic/train_000000.bin bs=1 conv=notrunc status=none
expect_error "wrong magic" "magic" -- M train $TINY --data magic --out bad4
expect_error "token >= vocab" "vocab" -- M train $TINY --vocab-size 100 --out bad5
no_checkpoint bad5 "token >= vocab"
cp -r r1/step_00000005 badheader && printf '\xff\xff\xff\xff' | dd of=badheader/model.safetensors bs=1 conv=notrunc status=none
expect_error "corrupt safetensors header" "model.safetensors" -- M train --resume badheader --out bad6 --steps 6
no_checkpoint bad6 "corrupt header"
cp -r r1/step_00000005 pastend && truncate -s -8 pastend/model.safetensors
expect_error "offsets past end of file" "model.safetensors" -- M train --resume pastend --out bad7 --steps 6
cp -r r1/step_00000005 badopt && truncate -s -8 badopt/optimizer.safetensors
expect_error "truncated optimizer state" "optimizer.safetensors" -- M train --resume badopt --out bad7b --steps 6
expect_error "resume config mismatch" "does not match" -- M train --resume r1 --dim 64 --steps 6 --out bad8
expect_error "dim not divisible by heads" "divisible" -- M train $TINY --dim 30 --out bad9
expect_error "n >= L" "n-future" -- M train $TINY --n-layer 2 --n-future 2 --out bad10
# contradicting shape flags are usage errors (exit 2), as a bad value of one flag is
M train $TINY --dim 30 --out bad9 >/dev/null 2>&1
[ $? -eq 2 ] || fail "--dim 30 --n-head 4: exit code is not 2"
[ ! -e bad9 ] || fail "a refused shape left its --out behind"
expect_error "T > max context" "max-context" -- M train $TINY --seq-len 64 --max-context 32 --out bad11
expect_error "zero size" "--dim" -- M train $TINY --dim 0 --out bad12
expect_error "negative size" "--batch" -- M train $TINY --batch -1 --out bad13
expect_error "unwritable output dir" "/proc/nope" -- M train $TINY --out /proc/nope/run
expect_error "more memory than the machine has" "memory" -- M train $TINY --dim 8192 --n-head 64 --batch 64 --out bad15
expect_error "unknown flag" "--bogus" -- M train $TINY --bogus 1 --out bad14
expect_error "sample missing model" "nowhere" -- M sample --model nowhere --prompt hi
expect_error "sample bad flag value" "--max-new" -- M sample --model r1 --prompt hi --max-new x
# run directories hold one trajectory
expect_error "fresh run into a used run dir" "already holds checkpoints" -- M train $TINY --out r1 --steps 5
expect_error "resume behind newer checkpoints" "newer checkpoint" -- M train --resume full/step_00000010 --out full
before=$(stat -c %Y full/step_00000020/model.safetensors)
M train --resume full --threads 2 >/dev/null 2>err.txt || fail "resuming a finished run failed: $(cat err.txt)"
grep -q "nothing to do" err.txt || fail "resuming a finished run: no 'nothing to do' in: $(cat err.txt)"
[ "$(stat -c %Y full/step_00000020/model.safetensors)" = "$before" ] || fail "finished run's checkpoint was rewritten"
# damaged trainer_state.json and config.json values
edit_json() {  # FILE PYTHON-EXPR-ON-j
    /usr/bin/env python3 -c "import json,sys; j=json.load(open(sys.argv[1])); $2; json.dump(j, open(sys.argv[1],'w'))" "$1"
}
cp -r r1/step_00000005 accum && edit_json accum/trainer_state.json 'j["args"]["grad_accum"]=400'
expect_error "trainer_state grad_accum out of range" "args.grad_accum" -- M train --resume accum --out bad16 --steps 6
cp -r r1/step_00000005 hugestep && edit_json hugestep/trainer_state.json 'j["step"]=1e30'
expect_error "trainer_state step out of range" "step" -- M train --resume hugestep --out bad17 --steps 6
cp -r r1/step_00000005 manyheads && edit_json manyheads/config.json 'j["n_future_tokens"]=70; j["num_hidden_layers"]=2'
expect_error "config.json with too many heads" "n_future_tokens" -- M train --resume manyheads --out bad18 --steps 6
cp -r r1/step_00000005 hugevocab && edit_json hugevocab/config.json 'j["vocab_size"]=1e10'
expect_error "config.json vocab out of range" "vocab_size" -- M sample --model hugevocab --prompt hi
cp -r r1/step_00000005 notok && rm notok/tokenizer.json
expect_error "sample without tokenizer.json" "tokenizer.json" -- M sample --model notok --prompt hi
# a diverging run stops before the bad update reaches the weights, and saves nothing
M train $TINY --out bad19 --steps 30 --lr 10 --weight-decay 10 --grad-clip 0 --warmup 0 >/dev/null 2>err.txt
rc=$?
{ [ $rc -eq 1 ] && tail -n 1 err.txt | grep -q "diverged"; } || fail "divergence: exit $rc, last line: $(tail -n 1 err.txt)"
for d in bad16 bad17 bad18 bad19; do no_checkpoint $d "$d"; done

for d in bad1 bad3 bad4 bad9 bad10 bad11 bad12 bad13 bad14 bad15; do no_checkpoint $d "$d"; done

echo "memorization final loss: $last"
finish train
