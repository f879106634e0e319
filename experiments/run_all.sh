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
    --out) base=$2; shift ;;
    --jobs) jobs=(--jobs "$2"); shift ;;
    -h | --help) echo "usage: experiments/run_all.sh [--quick|--full] [--out BASE_DIR] [--jobs N]"; exit 0 ;;
    *) echo "$0: unknown flag '$1'" >&2; exit 2 ;;
    esac
    shift
done
for e in poly induction speculative add_heads head_types; do
    if [ -n "$base" ]; then
        bash "$here/$e.sh" "$mode" "${jobs[@]}" --out "$base/$e"
    else
        bash "$here/$e.sh" "$mode" "${jobs[@]}"
    fi
done
