#!/usr/bin/env bash
# The experiments' quick mode end to end (experiments/run_all.sh --quick):
# each writes a results.json with the expected fields and PNG plots. Needs
# gnuplot and $MTP_DATA (TinyStories); skipped without them.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/tests/lib.sh"
command -v gnuplot >/dev/null || { echo "skip: no gnuplot (apt-get install gnuplot-nox)"; exit 77; }
[ -f "${MTP_DATA:-}/tinystories/TinyStories-train_first2MiB.txt" ] || { echo "skip: no \$MTP_DATA/tinystories"; exit 77; }
MTP=$MTP THREADS=${OMP_NUM_THREADS:-2} bash "$ROOT/experiments/run_all.sh" --quick --out out >run.log 2>&1 ||
    { fail "run_all.sh --quick"; tail -n 20 run.log; }
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
for f in out/poly/poly_accuracy.png out/poly/poly_head_losses.png out/induction/induction_accuracy.png \
    out/speculative/speculative.png out/add_heads/add_heads.png out/head_types/head_types.png; do
    [ -f "$f" ] && is_png "$f" || fail "$f is not a PNG"
done
/usr/bin/env python3 - <<'PY' || fail "results.json contents"
import json
p = json.load(open("out/poly/results.json"))
assert sorted(p["mean_accuracy_by_m"]) == ["n=1", "n=2", "n=4"], p["mean_accuracy_by_m"].keys()
assert all(sorted(map(int, v)) == list(range(1, 11)) for v in p["mean_accuracy_by_m"].values())
assert all(0 <= a <= 1 for v in p["mean_accuracy_by_m"].values() for a in v.values())
assert all(r["final_val_head_losses"] and len(r["final_val_head_losses"]) == r["n"] for r in p["runs"])
i = json.load(open("out/induction/results.json"))
assert sorted(i["mean_by_size"]) == ["n=1", "n=2"]
assert all(r["occurrences"] > 0 and 0 <= r["accuracy"] <= 1 for r in i["runs"])
s = json.load(open("out/speculative/results.json"))
assert s["mismatches"] == 0 and [e["k"] for e in s["results"]] == list(range(s["heads"])) + ["auto"]
a = json.load(open("out/add_heads/results.json"))
assert a["base_text_unchanged"] and [r["head_steps"] for r in a["runs"]] == [0, 20, 60]
assert all(len(r["accept_rate"]) == a["n"] - 1 and r["tokens_per_forward"] >= 1 for r in a["runs"])
h = json.load(open("out/head_types/results.json"))
assert [v["name"] for v in h["variants"]] == ["n1", "parallel", "linear", "causal", "anticausal"], h
assert all(len(v["head_loss"]) == v["n"] and all(0 < x < 10 for x in v["head_loss"]) for v in h["variants"])
assert all(v["tokens_per_forward"] >= 1 and len(v["accept_rate"]) == 3 for v in h["variants"] if v["n"] > 1)
assert all(v["humaneval_tasks"] == 1 and 0 <= v["humaneval_pass@1"] <= 1 for v in h["variants"])
PY
finish experiments
