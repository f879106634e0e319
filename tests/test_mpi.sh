#!/usr/bin/env bash
# Data-parallel training under OpenMPI (src/train/dist.c), on loopback:
#   - mpirun -np 2 with --grad-accum 1 ends within 1e-5 (relative) of one
#     process with --grad-accum 2 (the same micro-batches; only the order of
#     the float sums differs), weights and AdamW moments; -np 3 (an uneven
#     split of the parameter arena) against --grad-accum 3;
#   - a run saved by 2 processes resumes in 1, and one saved by 1 resumes in 2,
#     ending where an uninterrupted run ends;
#   - one log line per step, one error line for a bad flag;
#   - linear and causal heads: 2 processes as 1 process with accum 2;
#   - on a device (cpu-check), through host copies: the CPU's bytes, and resume;
#   - on cuda (a GPU or the host emulation of one), through NCCL in device memory
#     where there is one: as one process, and resume;
#   - killing one process mid-run ends the job with a message, and the last
#     checkpoint stays complete and loadable.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
command -v mpirun >/dev/null || { echo "skip: no mpirun (apt-get install openmpi-bin libopenmpi-dev)"; exit 77; }
ldd "$MTP" | grep -q libmpi || { echo "skip: $MTP was built without MPI (make MPI=1)"; exit 77; }
PY=${PYTHON:-/usr/bin/python3}
"$PY" -c 'import numpy' 2>/dev/null || { echo "skip: python3-numpy is not installed"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0  # the MPI library's own allocations
RUN="timeout 300 mpirun --oversubscribe"
# the launcher itself must work here (a container may lack what it needs)
if ! out=$(timeout 60 mpirun --oversubscribe -np 2 /bin/true 2>&1); then
    echo "skip: mpirun cannot start 2 processes on this machine: $(echo "$out" | head -3 | tr '\n' ' ')"
    exit 77
fi

speaker_corpus 400
M prepare --out data corpus/a.txt >/dev/null 2>&1 || fail "prepare"
ARGS="--data data --n-layer 3 --n-future 2 --dim 32 --n-head 4 --seq-len 32 --batch 4 --eval-every 0 --threads 1"

# same_run A B: the checkpoints' weights and moments agree within 1e-5 (relative to each tensor's largest value)
same_run() {
    "$PY" - "$HERE" "$1" "$2" <<'PY' || fail "$3: $1 and $2 differ"
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, safetensors_py
worst = 0.0
for f in ("model.safetensors", "optimizer.safetensors"):
    a, b = safetensors_py.load(f"{sys.argv[2]}/{f}"), safetensors_py.load(f"{sys.argv[3]}/{f}")
    assert sorted(a) == sorted(b)
    for k in a:
        worst = max(worst, float(np.abs(a[k] - b[k]).max() / (np.abs(a[k]).max() + 1e-30)))
print(f"max relative difference {worst:.2e}")
sys.exit(0 if worst < 1e-5 else 1)
PY
}

M train $ARGS --steps 8 --grad-accum 2 --out one --log one.jsonl >/dev/null 2>&1 || fail "1 process"
$RUN -np 2 "$MTP" train $ARGS --steps 8 --grad-accum 1 --out two --log two.jsonl >two.out 2>two.err ||
    fail "2 processes: $(tail -3 two.err)"
same_run one/step_00000008 two/step_00000008 "2 processes x accum 1 vs 1 x accum 2"
[ "$(wc -l <two.jsonl)" -eq 8 ] || fail "the log of 2 processes has $(wc -l <two.jsonl) lines for 8 steps"
grep -q "data parallel: 2 processes" two.err || fail "no data-parallel line: $(head -5 two.err)"
[ "$(grep -c '^step 8/8' two.err)" -eq 1 ] || fail "progress printed by more than one process"

# on a device (cpu-check: the CPU's kernels on memory the host cannot touch directly) gradients and
# weights cross processes through host copies: the same bytes as on the CPU; the moments' shards
# are gathered to save and uploaded to resume
$RUN -np 2 "$MTP" train $ARGS --steps 8 --grad-accum 1 --save-every 4 --keep-last 0 --device cpu-check \
    --out twodev >/dev/null 2>twodev.err || fail "2 processes on cpu-check: $(tail -3 twodev.err)"
for f in model.safetensors optimizer.safetensors; do
    cmp -s two/step_00000008/$f twodev/step_00000008/$f || fail "2 processes: $f differs between cpu and cpu-check"
done
rm -rf twodev/step_00000008
$RUN -np 2 "$MTP" train --resume twodev --steps 8 --threads 1 --device cpu-check >/dev/null 2>twodev.err ||
    fail "2 processes on cpu-check, resumed: $(tail -3 twodev.err)"
cmp -s two/step_00000008/optimizer.safetensors twodev/step_00000008/optimizer.safetensors ||
    fail "2 processes on cpu-check, resumed: moments differ"

# on cuda (a GPU per process, or the host emulation: make CUDA=emu): gradients and weights cross
# processes in device memory through NCCL where every process has it (the emulation's NCCL is MPI
# on host memory), else through host copies; either way as one process with the same micro-batches
if "$MTP" --version 2>/dev/null | grep -q "CUDA yes ([1-9]"; then
    M train $ARGS --steps 6 --grad-accum 2 --device cuda --out cu_one >/dev/null 2>cu_one.err ||
        fail "1 process on cuda: $(tail -3 cu_one.err)"
    $RUN -np 2 "$MTP" train $ARGS --steps 6 --grad-accum 1 --save-every 3 --keep-last 0 --device cuda \
        --out cu_two >/dev/null 2>cu_two.err || fail "2 processes on cuda: $(tail -3 cu_two.err)"
    same_run cu_one/step_00000006 cu_two/step_00000006 "2 processes on cuda vs 1 x accum 2"
    if grep -q "emulated on the host" cu_two.err; then
        grep -q "cross through device memory (NCCL)" cu_two.err ||
            fail "2 processes on the emulated GPU did not use its NCCL: $(grep 'data parallel' cu_two.err)"
    fi
    rm -rf cu_two/step_00000006
    $RUN -np 2 "$MTP" train --resume cu_two --steps 6 --threads 1 --device cuda >/dev/null 2>cu_two.err ||
        fail "2 processes on cuda, resumed: $(tail -3 cu_two.err)"
    same_run cu_one/step_00000006 cu_two/step_00000006 "2 processes on cuda, resumed"
fi

# head variants reduce their parts too: linear heads (parts past the blocks), a causal chain
for v in "--head-type linear" "--n-layer 4 --n-future 3 --head-order causal"; do
    M train $ARGS $v --steps 6 --grad-accum 2 --out v1 >/dev/null 2>&1 || fail "1 process $v"
    $RUN -np 2 "$MTP" train $ARGS $v --steps 6 --grad-accum 1 --out v2 >/dev/null 2>v2.err ||
        fail "2 processes $v: $(tail -3 v2.err)"
    same_run v1/step_00000006 v2/step_00000006 "2 processes vs accum 2, $v"
    rm -rf v1 v2
done

M train $ARGS --steps 8 --grad-accum 3 --out one3 >/dev/null 2>&1 || fail "1 process, accum 3"
$RUN -np 3 "$MTP" train $ARGS --steps 8 --grad-accum 1 --out three >/dev/null 2>three.err ||
    fail "3 processes: $(tail -3 three.err)"
same_run one3/step_00000008 three/step_00000008 "3 processes vs accum 3"

# resumed with another number of processes, at the same global batch
$RUN -np 2 "$MTP" train $ARGS --steps 8 --grad-accum 1 --out r21 --save-every 4 >/dev/null 2>&1 || fail "2 -> 1: first half"
rm -rf r21/step_00000008
M train --resume r21 --steps 8 --grad-accum 2 >/dev/null 2>r21.err || fail "2 -> 1: resume: $(cat r21.err)"
same_run one/step_00000008 r21/step_00000008 "saved by 2 processes, resumed in 1"
M train $ARGS --steps 8 --grad-accum 2 --out r12 --save-every 4 >/dev/null 2>&1 || fail "1 -> 2: first half"
rm -rf r12/step_00000008
$RUN -np 2 "$MTP" train --resume r12 --steps 8 --grad-accum 1 >/dev/null 2>r12.err || fail "1 -> 2: resume: $(tail -3 r12.err)"
same_run one/step_00000008 r12/step_00000008 "saved by 1 process, resumed in 2"

# a bad flag is reported once
$RUN -np 2 "$MTP" train $ARGS --bogus 1 --out x >/dev/null 2>bad.err && fail "a bad flag was accepted"
[ "$(grep -c "unknown flag '--bogus'" bad.err)" -eq 1 ] || fail "bad flag reported $(grep -c bogus bad.err) times"

# processes started apart (mpirun's MPMD form) stop before the first step, naming what differs
expect_apart() {  # what-differs-pattern label: the job failed, with one message saying so
    [ "$(grep -c "differs from process 0 in $1" apart.err)" -ge 1 ] ||
        fail "$2: no message naming $1: $(tail -3 apart.err)"
    ls apart/step_* >/dev/null 2>&1 && fail "$2: a checkpoint was written"
    rm -rf apart
}
$RUN -np 1 "$MTP" train $ARGS --steps 2 --out apart --lr 1e-3 : -np 1 "$MTP" train $ARGS --steps 2 \
    --out apart --lr 2e-3 >/dev/null 2>apart.err && fail "processes with different --lr trained"
expect_apart "the training flags" "different --lr"
$RUN -np 1 "$MTP" train $ARGS --steps 2 --out apart : -np 1 "$MTP" train $ARGS --steps 2 --out apart \
    --dim 64 >/dev/null 2>apart.err && fail "processes with different --dim trained"
expect_apart "the model's shape" "different --dim"
mkdir -p corpus2 && tac corpus/a.txt | head -300 >corpus2/b.txt  # the same characters, fewer tokens
M prepare --out data2 corpus2/b.txt >/dev/null 2>&1 || fail "prepare data2"
$RUN -np 1 "$MTP" train $ARGS --steps 2 --out apart : -np 1 "$MTP" train $ARGS --data data2 --steps 2 \
    --out apart >/dev/null 2>apart.err && fail "processes with different --data trained"
expect_apart "the data" "different --data"
# the same flags, but another newest checkpoint for one of them (machines holding different files)
M train $ARGS --steps 4 --save-every 2 --keep-last 0 --out res_a >/dev/null 2>&1 || fail "res_a"
cp -r res_a res_b && rm -rf res_b/step_00000004
$RUN -np 1 "$MTP" train --resume res_a --steps 6 --threads 1 : -np 1 "$MTP" train --resume res_b --steps 6 \
    --threads 1 >/dev/null 2>apart.err && fail "processes resuming from different steps trained"
expect_apart "the step they start from" "different checkpoints"
[ -d res_a/step_00000006 ] && fail "different checkpoints: a step was saved"

# process 0 alone writes the log: a log that cannot be written stops every process, which save
# the step together (process 0 saving alone waited for the others' optimizer shards)
timeout 120 mpirun --oversubscribe -np 2 "$MTP" train $ARGS --steps 5 --out fulllog --log /dev/full \
    >/dev/null 2>fulllog.err
rc=$?
[ $rc -eq 124 ] && fail "a log that cannot be written: the processes hung"
[ $rc -eq 0 ] && fail "a log that cannot be written: exit 0"
grep -q "cannot write" fulllog.err || fail "a log that cannot be written: $(tail -3 fulllog.err)"
[ -d fulllog/step_00000001 ] || fail "a log that cannot be written: the step was not saved ($(ls fulllog))"
# the final evaluation's log line cannot be written (a full 1 MB tmpfs, where a private mount
# namespace is permitted; log_slack): every process learns it, and they save the step together
# (process 0 once returned alone while the others waited in the save for it)
export ARGS
on_full_tmpfs "a final evaluation line that cannot be written" '
    E="--save-every 0 --eval-every 1000 --eval-batches 1 --log small/log.jsonl"
    mpirun --oversubscribe -np 2 "$MTP" train $ARGS --steps 4 --out fin $E >/dev/null 2>&1 || { echo "fin"; exit 1; }
    log_slack small/log.jsonl 200 small/fill
    timeout 120 mpirun --oversubscribe -np 2 "$MTP" train --resume fin --steps 5 $E >/dev/null 2>fin.err
    rc=$?
    [ $rc -eq 124 ] && { echo "the processes hung"; exit 1; }
    [ $rc -ne 0 ] && grep -q "cannot write" fin.err && [ -d fin/step_00000005 ] || { echo "rc $rc: $(tail -2 fin.err)"; exit 1; }
    whole_json_lines small/log.jsonl 5
'
# processes on different devices: one message, not a hang in the reducer's collectives
timeout 120 mpirun --oversubscribe -np 1 "$MTP" train $ARGS --steps 4 --out twodevs --device cpu-check : \
    -np 1 "$MTP" train $ARGS --steps 4 --out twodevs >/dev/null 2>twodevs.err
rc=$?
[ $rc -eq 124 ] && fail "processes on different devices hung"
grep -q "another device than process 0" twodevs.err || fail "different devices: $(tail -3 twodevs.err)"
# a run started from imported weights (no trainer state) with --steps 0: saved once, by every process
M train $ARGS --steps 0 --out imported >/dev/null 2>&1 || fail "imported"
rm imported/step_00000000/trainer_state.json imported/step_00000000/optimizer.safetensors
timeout 120 mpirun --oversubscribe -np 2 "$MTP" train --resume imported/step_00000000 --data data \
    --out fromimp --steps 0 --threads 1 >/dev/null 2>fromimp.err || fail "from imported weights: $(tail -3 fromimp.err)"
[ -f fromimp/step_00000000/model.safetensors ] || fail "from imported weights, --steps 0: nothing saved"

# SIGTERM to process 0: saved and stopped, as one process stops (no error line, no abort)
$RUN -np 2 "$MTP" train $ARGS --steps 100000 --save-every 0 --out termed >/dev/null 2>term.err &
job=$!
for _ in $(seq 1 300); do grep -q "step " term.err 2>/dev/null && break; sleep 0.1; done
sleep 0.5
for p in $(pgrep -f "train $ARGS --steps 100000 --save-every 0 --out termed"); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -q '^OMPI_COMM_WORLD_RANK=0$' && kill -TERM "$p"
done
timeout 60 tail --pid="$job" -f /dev/null
wait "$job"
rc=$?
ls -d termed/step_* >/dev/null 2>&1 || fail "SIGTERM to process 0: nothing saved"
grep -q "^mtp train: *$" term.err && fail "SIGTERM to process 0: an empty error line"
grep -q "MPI_ABORT\|mpi-abort" term.err && fail "SIGTERM to process 0: the job was aborted: $(tail -3 term.err)"
[ $rc -ne 0 ] || fail "SIGTERM to process 0: exit 0 (the run stopped before --steps)"

# one process killed mid-run: the job ends, the last checkpoint is whole
$RUN -np 2 "$MTP" train $ARGS --steps 100000 --save-every 40 --out killed >kill.out 2>kill.err &
job=$!
for _ in $(seq 1 300); do ls killed 2>/dev/null | grep -q '^step_' && break; sleep 0.1; done
sleep 0.5
victim=""
for p in $(pgrep -f "train $ARGS --steps 100000"); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -q '^OMPI_COMM_WORLD_RANK=1$' && victim=$p
done
[ -n "$victim" ] || fail "could not find process 1"
[ -n "$victim" ] && kill -9 "$victim"
timeout 60 tail --pid="$job" -f /dev/null
wait "$job" && fail "the job went on after a process was killed"
grep -q "exited on signal 9" kill.err || fail "no message about the killed process: $(tail -5 kill.err)"
ls -d killed/.tmp-* 2>/dev/null && fail "a partial checkpoint was left in the run directory"
M eval --model killed --data data --seq-len 32 --max-batches 2 >/dev/null 2>eval.err ||
    fail "the last checkpoint does not load: $(cat eval.err)"

finish mpi
