#!/usr/bin/env python3
"""summarize.py: markdown tables from the experiments' results.json files.

    python3 experiments/summarize.py [RESULTS_DIR]   (default experiments/results)

Prints one table per experiment found: polynomial accuracy per m and n,
induction accuracy per width and n, speculative decoding per K."""
import json
import os
import sys

base = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "results")


def load(name):
    path = os.path.join(base, name, "results.json")
    return json.load(open(path)) if os.path.exists(path) else None


poly = load("poly")
if poly:
    by_n = poly["mean_accuracy_by_m"]
    ms = sorted({int(m) for v in by_n.values() for m in v})
    print("Polynomial arithmetic: greedy exact match per number of operations m (mean over seeds %s)\n"
          % poly["config"]["seeds"])
    print("| n | " + " | ".join("m=%d" % m for m in ms) + " |")
    print("|---|" + "---:|" * len(ms))
    for n, v in by_n.items():
        print("| %s | " % n[2:] + " | ".join("%.3f" % v[str(m)] for m in ms) + " |")
    print("\nFinal validation loss of each head (nats per byte), per run:\n")
    for r in poly["runs"]:
        print("- n=%d seed %d: %s" % (r["n"], r["seed"], " / ".join("%.4f" % x for x in r["final_val_head_losses"])))
    print()

ind = load("induction")
if ind:
    print("Induction: second-token accuracy at later name mentions (mean over seeds %s)\n" % ind["config"]["seeds"])
    sizes = ind["mean_by_size"]
    print("| width d | non-embedding params | " + " | ".join(sizes) + " | first-token accuracy (" +
          ", ".join(sizes) + ") |")
    print("|---:|---:|" + "---:|" * len(sizes) + "---|")
    for i, e in enumerate(next(iter(sizes.values()))):
        print("| %d | %d | " % (e["dim"], e["non_embedding_params"]) +
              " | ".join("%.3f" % sizes[k][i]["accuracy"] for k in sizes) + " | " +
              ", ".join("%.3f" % sizes[k][i]["first_token_accuracy"] for k in sizes) + " |")
    occ = {r["occurrences"] for r in ind["runs"]}
    print("\n(%s scored mentions per model.)\n" % ", ".join(map(str, sorted(occ))))

spec = load("speculative")
if spec:
    print("Self-speculative greedy decoding (%s, %d prompts, medians):\n" % (spec["model"], spec["prompts"]))
    print("| K | tokens/s | tokens/forward | wall-clock speedup | acceptance per head |")
    print("|---|---:|---:|---:|---|")
    for e in spec["results"]:
        print("| %s | %.1f | %.2f | %.2fx | %s |" % (e["k"], e["tokens_per_sec"], e["tokens_per_forward"], e["speedup"],
                                                  ", ".join("h%d %s" % (i + 2, "-" if a is None else "%.3f" % a)
                                                            for i, a in enumerate(e["accept_rate"])) or "-"))
