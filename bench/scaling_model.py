"""Predicted data-parallel training speed of mtp for many processes
(docs/scaling.md): the communication model of src/train/dist.c with stated
network numbers, on top of a measured one-process step time.

Per step and process: the gradients' reduce-scatter and the weights'
all-gather each move (P-1)/P x 4N bytes with a ring or pipelined algorithm
(N parameters, float32), so V = 2 (P-1)/P x 4N bytes; each is paid a latency
alpha per message round, 2 x parts x ceil(log2 P) of them (parts: the
gradient buckets, one per block plus the output and the embedding). The
reduce-scatter of the head and output buckets starts while the trunk's
backward runs; the part of it that fits in the trunk backward's time
(`--overlap`, a fraction of the step) is hidden. The AdamW update shrinks to
1/P of the parameters.

  python3 bench/scaling_model.py --params N --blocks L --step-seconds S --tokens-per-step K
      [--update-seconds U] [--overlap F] [--bandwidth GBps] [--latency-us A]
"""

import argparse
import math


def predict(P, a):
    N, parts = a.params, a.blocks + 2
    volume = 2.0 * (P - 1) / P * 4.0 * N  # bytes per process per step
    half = volume / 2 / (a.bandwidth * 1e9)
    latency = 2 * parts * math.ceil(math.log2(P)) * a.latency_us * 1e-6 if P > 1 else 0.0
    reduce = half + latency / 2
    gather = half + latency / 2
    compute = a.step_seconds - a.update_seconds + a.update_seconds / P
    hidden = min(reduce, a.overlap * a.step_seconds)
    step = compute + gather + reduce - hidden
    return volume, step, P * a.tokens_per_step / step


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--params", type=float, required=True, help="parameters N")
    p.add_argument("--blocks", type=int, required=True, help="transformer blocks L")
    p.add_argument("--step-seconds", type=float, required=True, help="one process's step time, measured")
    p.add_argument("--tokens-per-step", type=float, required=True, help="tokens one process takes per step")
    p.add_argument("--update-seconds", type=float, default=0.0, help="the AdamW update's share of the step")
    p.add_argument("--overlap", type=float, default=0.0, help="fraction of the step the reduce can hide in")
    p.add_argument("--bandwidth", type=float, default=12.5, help="GB/s per process (100 Gb/s InfiniBand: 12.5)")
    p.add_argument("--latency-us", type=float, default=2.0, help="microseconds per message round")
    p.add_argument("--procs", default="1,2,8,32,128,512,1024")
    a = p.parse_args()
    base = a.tokens_per_step / a.step_seconds
    print(f"N = {a.params:.3g} parameters, {a.bandwidth} GB/s, {a.latency_us} us; one process {base:,.0f} tok/s")
    print("| P | MB moved per process per step | step s | tokens/s | efficiency vs P x one process |")
    print("|---|---|---|---|---|")
    for P in (int(x) for x in a.procs.split(",")):
        vol, step, tps = predict(P, a)
        print(f"| {P} | {vol / 1e6:.1f} | {step:.3f} | {tps:,.0f} | {tps / (P * base):.0%} |")


if __name__ == "__main__":
    main()
