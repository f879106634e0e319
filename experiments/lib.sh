# lib.sh: shared by the experiment scripts (sourced). Parses --quick / --full
# and --out DIR, finds mtp and the shared data, and offers small helpers.
#   MODE      quick (minutes; what CI runs) or full (an hour or two on 2 cores)
#   OUT       results directory: results.json, *.png, logs, runs
#   MTP       the mtp binary (default build/mtp); MTP_DATA the shared data folder
#   THREADS   CPU threads of each training and evaluation (default 2; 1 with --jobs > 1)
#   JOBS      runs (train + evaluate one model) at once (--jobs N, default 1)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MTP=${MTP:-$ROOT/build/mtp}
DATA=${MTP_DATA:-$(cd "$ROOT/.." && pwd)/shared/data}
THREADS=${THREADS:-}
JOBS=1
PY=${PYTHON:-/usr/bin/python3}
MODE=full
OUT=""
usage_common() {
    echo "  --quick      a few minutes: tiny models, few steps (checks the pipeline; numbers mean little)"
    echo "  --full       the real run (default): an hour or two on 2 cores"
    echo "  --out DIR    where results go (default experiments/results/$1)"
    echo "  --jobs N     train N models at once, each on THREADS threads (default 1; small"
    echo "               models run faster as parallel one-thread jobs than one after another)"
}
parse_args() { # parse_args NAME "$@"
    local name=$1
    shift
    while [ $# -gt 0 ]; do
        case $1 in
        --quick) MODE=quick ;;
        --full) MODE=full ;;
        --out) OUT=$2; shift ;;
        --jobs)
            JOBS=$2
            [[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "$0: --jobs $JOBS: give a positive count" >&2; exit 2; }
            shift
            ;;
        -h | --help) usage; exit 0 ;;
        *) echo "$0: unknown flag '$1' (see --help)" >&2; exit 2 ;;
        esac
        shift
    done
    OUT=${OUT:-$ROOT/experiments/results/$name}
    if [ -z "$THREADS" ]; then THREADS=$((JOBS > 1 ? 1 : 2)); fi
    [ -x "$MTP" ] || { echo "$0: $MTP is not built: run make first" >&2; exit 1; }
    command -v gnuplot >/dev/null || { echo "$0: needs gnuplot (apt-get install gnuplot-nox)" >&2; exit 1; }
    mkdir -p "$OUT"
}
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
M() { "$MTP" "$@"; }
# json_get FILE EXPR: a value from a JSON file, EXPR a Python subscript like '["accuracy"]'.
json_get() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }
# logged LOG COMMAND...: runs the command with its output in LOG; on failure
# prints the end of LOG and exits.
logged() {
    local out=$1
    shift
    if ! "$@" >"$out" 2>&1; then
        echo "$0: failed: $* (output in $out):" >&2
        tail -n 5 "$out" >&2
        exit 1
    fi
}

# job FUNCTION ARGS...: runs FUNCTION ARGS in the background once fewer than
# JOBS jobs are running (in the foreground when JOBS is 1); jobs_wait waits for
# all of them and exits if any failed (its own output says why).
JOB_PIDS=()
job() {
    if [ "$JOBS" -le 1 ]; then
        "$@"
        return
    fi
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    "$@" &
    JOB_PIDS+=($!)
}
jobs_wait() {
    local failed=0 pid
    for pid in "${JOB_PIDS[@]}"; do wait "$pid" || failed=1; done
    JOB_PIDS=()
    [ $failed -eq 0 ] || { echo "$0: a run failed (see above)" >&2; exit 1; }
}

# train_run RUN EVAL_EVERY TRAIN_FLAGS...: trains $OUT/runs/RUN on $OUT/data
# with the mode's SEQ, BATCH, STEPS, LR and THREADS, logging to RUN.out and
# RUN.jsonl; the flags give the model's shape and seed.
train_run() {
    local run=$1 every=$2
    shift 2
    log "train $run"
    rm -rf "$OUT/runs/$run"
    logged "$OUT/runs/$run.out" M train --data "$OUT/data" --out "$OUT/runs/$run" --seq-len "$SEQ" \
        --batch "$BATCH" --steps "$STEPS" --lr "$LR" --eval-every "$every" --save-every 0 --threads "$THREADS" \
        --log "$OUT/runs/$run.jsonl" "$@"
}
# score_run RUN EVAL_COMMAND FLAGS...: runs `mtp EVAL_COMMAND --model RUN FLAGS`
# on $OUT/task/test.jsonl into $OUT/eval/RUN.json.
score_run() {
    local run=$1 cmd=$2
    shift 2
    log "eval $run"
    M "$cmd" --model "$OUT/runs/$run" --data "$OUT/task/test.jsonl" --threads "$THREADS" --json "$@" \
        >"$OUT/eval/$run.json" 2>"$OUT/eval/$run.err" || { tail -3 "$OUT/eval/$run.err" >&2; exit 1; }
}
