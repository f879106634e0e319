#!/usr/bin/env bash
# run_all.sh: every experiment, in the given mode (--quick or --full), into
# experiments/results/ (or --out DIR/<experiment>).
set -euo pipefail
here=$(dirname "$0")
mode=--full
base=""
jobs=()
while [ $# -gt 0 ]; do
    case $1 in
    --quick | --full) mode=$1 ;;
    --out) base=${2:?--out needs a folder}; shift ;;
    --jobs) jobs=(--jobs "${2:?--jobs needs a count}"); shift ;;
    -h | --help) echo "usage: experiments/run_all.sh [--quick|--full] [--out BASE_DIR] [--jobs N]"; exit 0 ;;
    *) echo "$0: unknown flag '$1'" >&2; exit 2 ;;
    esac
    shift
done
for e in poly induction speculative add_heads head_types; do
    # --jobs to the experiments that run jobs side by side; the others train and time one run at a
    # time, which --jobs would leave on one thread (lib.sh: THREADS 1 when JOBS > 1)
    j=("${jobs[@]}")
    case $e in speculative | add_heads) j=() ;; esac
    if [ -n "$base" ]; then
        bash "$here/$e.sh" "$mode" ${j[@]+"${j[@]}"} --out "$base/$e"
    else
        bash "$here/$e.sh" "$mode" ${j[@]+"${j[@]}"}
    fi
done
