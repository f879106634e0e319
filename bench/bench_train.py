#!/usr/bin/env python3
"""Training speed and memory: mtp (`mtp bench-train`) against the PyTorch
baseline (bench/torch_train.py), run alternately in pairs on the same config,
thread count and random tokens; medians over the pairs.

usage: bench/bench_train.py [--quick] [--threads N] [--repeats R] [--only small|gpt2s] [--no-memory]
                            [--mtp BINARY] [--isa native|avx2]
Prints markdown tables: speed per (config, n, schedule); best schedule vs best
schedule; GFLOP/s of n=4 against n=1; peak memory for n = 1, 2, 4, 8 at V = 50304.

--isa avx2 runs both sides as on a machine without AVX-512, on one that has it: OpenBLAS's
Haswell kernel, PyTorch's and oneDNN's kernels held to AVX2, and the mtp given by --mtp, which
must be an AVX2 build, e.g. a Zen 3's instruction set and cache blocking:
  make BUILD=build/avx2 OPT="-O3 -march=x86-64-v3 -DMTP_ASSUME_L2_BYTES=524288" build/avx2/mtp
  bench/bench_train.py --mtp build/avx2/mtp --isa avx2
It says nothing of that machine's clock, caches or memory: a proxy, not a measurement of it.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MTP = os.path.join(ROOT, "build", "mtp")
ISA = "native"
CONFIGS = {  # the configs of the core issue
    "small": dict(V=256, d=256, H=8, L=6, T=256, B=8, steps=5),
    "gpt2s": dict(V=50304, d=768, H=12, L=12, T=256, B=4, steps=3),
}


def run_json(cmd, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if ISA == "avx2":  # PyTorch's element-wise kernels, and oneDNN's (old and new names), to AVX2
        env.update(ATEN_CPU_CAPABILITY="avx2", DNNL_MAX_CPU_ISA="AVX2", MKLDNN_MAX_CPU_ISA="AVX2")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ours(c, n, sched, threads):
    return run_json([MTP, "bench-train", "--json", "--vocab-size", str(c["V"]), "--dim", str(c["d"]),
                     "--n-head", str(c["H"]), "--n-layer", str(c["L"]), "--n-future", str(n),
                     "--seq-len", str(c["T"]), "--batch", str(c["B"]), "--steps", str(c["steps"]),
                     "--schedule", sched, "--threads", str(threads)], threads)


def torch(c, n, sched, threads):
    return run_json([sys.executable, os.path.join(ROOT, "bench", "torch_train.py"), "--vocab", str(c["V"]),
                     "--dim", str(c["d"]), "--heads", str(c["H"]), "--layers", str(c["L"]), "--future", str(n),
                     "--seq", str(c["T"]), "--batch", str(c["B"]), "--steps", str(c["steps"]),
                     "--threads", str(threads), "--schedule", sched], threads)


def fair_openblas():
    """OpenBLAS (which both PyTorch and the ceiling measurement use) falls back to its
    oldest kernel, Prescott (SSE3), on CPUs newer than its release: 66 GFLOP/s where its
    AVX-512 kernel reaches 200+ on an Intel Xeon of model 207 with OpenBLAS 0.3.21. That
    would make the baseline look 3x slower than it is, so pick the kernel the CPU can run
    unless the user chose one. Returns a line saying what was done, or None."""
    if os.environ.get("OPENBLAS_CORETYPE"):
        return None
    try:
        import ctypes
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        core = lib.openblas_get_corename().decode()
        with open("/proc/cpuinfo") as f:
            flags = f.read().split()
    except (OSError, AttributeError):
        return None
    if core.lower() not in ("prescott", "nehalem", "core2", "katmai", "coppermine", "northwood", "banias"):
        return None
    want = "SkylakeX" if "avx512f" in flags and "avx512bw" in flags else ("Haswell" if "avx2" in flags else None)
    if not want:
        return None
    os.environ["OPENBLAS_CORETYPE"] = want
    return f"OpenBLAS picked its {core} kernel on this CPU: OPENBLAS_CORETYPE={want} set for every run"


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def main():
    global MTP, ISA
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small config, one pair, no memory table")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=sorted(CONFIGS))
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--mtp", default=MTP, help="the mtp binary (default: build/mtp)")
    ap.add_argument("--isa", choices=("native", "avx2"), default="native",
                    help="avx2: both sides held to AVX2 (OpenBLAS Haswell, PyTorch and oneDNN AVX2; "
                    "--mtp must be an AVX2 build)")
    a = ap.parse_args()
    MTP, ISA = os.path.abspath(a.mtp), a.isa
    if not os.access(MTP, os.X_OK):
        sys.exit(f"{a.mtp} not found or not executable: run make first, or pass --mtp BINARY")
    if ISA == "avx2":
        if os.environ.get("OPENBLAS_CORETYPE", "Haswell") != "Haswell":
            sys.exit(f"--isa avx2 uses OpenBLAS's Haswell kernel; OPENBLAS_CORETYPE is "
                     f"{os.environ['OPENBLAS_CORETYPE']}: unset it")
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"
        version = subprocess.run([MTP, "--version"], capture_output=True, text=True).stdout
        if "kernels for avx2" not in version:
            said = version.splitlines()[-1] if version else "no --version"
            sys.exit(f"--isa avx2: {a.mtp} is not an AVX2 build ({said}); "
                     f"make BUILD=build/avx2 OPT=\"-O3 -march=x86-64-v3\" build/avx2/mtp")
    names = ["small"] if a.quick else ([a.only] if a.only else list(CONFIGS))
    repeats = 1 if a.quick else a.repeats
    fixed = fair_openblas()
    if fixed:
        print(fixed)
    try:
        import torch as _t
    except ImportError:
        sys.exit(f"bench_train.py: PyTorch is not importable by {sys.executable} (the baseline): install Debian's "
                 "python3-torch (bash scripts/install-deps.sh --with-tests) and run /usr/bin/python3 "
                 "bench/bench_train.py")
    print(f"threads={a.threads}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, "
          f"torch {_t.__version__}, {repeats} alternating pair(s) per row, medians"
          + (f"; AVX2 only (mtp: {a.mtp})" if ISA == "avx2" else "") + "\n")
    rows, info = [], None
    for name in names:
        c = CONFIGS[name]
        for n in (1, 4):
            for sched in ("sequential", "naive"):
                o_runs, t_runs = [], []
                for _ in range(repeats):
                    o_runs.append(ours(c, n, sched, a.threads))
                    t_runs.append(torch(c, n, sched, a.threads))
                info = o_runs[0]
                rows.append(dict(config=name, n=n, sched=sched, ms=med(o_runs, "ms_per_step"),
                                 tok=med(o_runs, "tokens_per_sec"), gflops=med(o_runs, "gflops"),
                                 mfu=med(o_runs, "mfu"), mb=med(o_runs, "peak_rss_mb"),
                                 t_ms=med(t_runs, "ms_per_step"), t_tok=med(t_runs, "tokens_per_sec"),
                                 t_mb=med(t_runs, "peak_rss_mb")))
                r = rows[-1]
                print(f"  {name} n={n} {sched}: mtp {r['ms']:.1f} ms, torch {r['t_ms']:.1f} ms", file=sys.stderr)
    print(f"mtp kernels: {info.get('kernels', 'unknown')}; BLAS: {info['blas']}; matmul ceiling "
          f"{info['ceiling_gflops']:.1f} GFLOP/s ({a.threads} threads)\n")
    print("| config | n | schedule | mtp ms/step | mtp tok/s | GFLOP/s | MFU | mtp peak MB "
          "| torch ms/step | torch tok/s | torch peak MB | speed vs torch |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['n']} | {r['sched']} | {r['ms']:.1f} | {r['tok']:.0f} | {r['gflops']:.1f} "
              f"| {100 * r['mfu']:.1f}% | {r['mb']:.0f} | {r['t_ms']:.1f} | {r['t_tok']:.0f} | {r['t_mb']:.0f} "
              f"| {r['t_ms'] / r['ms']:.2f}x |")
    print("\n| config | n | mtp best tok/s | torch best tok/s | ratio |")
    print("|---|---|---|---|---|")
    for name in names:
        for n in (1, 4):
            sel = [r for r in rows if r["config"] == name and r["n"] == n]
            best, tbest = max(r["tok"] for r in sel), max(r["t_tok"] for r in sel)
            print(f"| {name} | {n} | {best:.0f} | {tbest:.0f} | {best / tbest:.2f}x |")
    print("\n| config | GFLOP/s n=1 | GFLOP/s n=4 | n=4 / n=1 |")
    print("|---|---|---|---|")
    for name in names:
        g1 = max(r["gflops"] for r in rows if r["config"] == name and r["n"] == 1)
        g4 = max(r["gflops"] for r in rows if r["config"] == name and r["n"] == 4)
        print(f"| {name} | {g1:.1f} | {g4:.1f} | {100 * g4 / g1:.1f}% |")
    if a.quick or a.no_memory:
        return
    c = dict(CONFIGS["gpt2s"], steps=1)
    print("\nPeak memory (MB) at V=50304 (gpt2s config, L=12 blocks in total):\n")
    print("| n | sequential | naive | sequential - n=1 sequential |")
    print("|---|---|---|---|")
    base = None
    for n in (1, 2, 4, 8):
        seq = ours(c, n, "sequential", a.threads)["peak_rss_mb"]
        nav = ours(c, n, "naive", a.threads)["peak_rss_mb"]
        base = seq if base is None else base
        print(f"| {n} | {seq:.0f} | {nav:.0f} | {seq - base:+.0f} |")


if __name__ == "__main__":
    main()
