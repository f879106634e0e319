"""mtp's reader of PyTorch checkpoints (src/core/pth.c: zip + restricted
unpickler) against torch.save/torch.load themselves.

Files written by the real torch.save (float32, bfloat16, float16, float64,
a module's state_dict, storages shared by views with offsets and strides,
nested dicts, pickle protocol 4, the same archive rewritten with zip64
records everywhere) are read by build/tools/pth_dump into float32
safetensors; every tensor must equal torch.load's, bit for bit. Hostile and
damaged files (globals that would run code, bad offsets, truncated or
compressed archives, files that are not a dict of tensors) must be refused
with one error line, and nothing they name may run.
"""

import collections
import io
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
BUILD = os.environ.get("BUILD", "build")
TOOL = os.path.join(HERE, "..", BUILD, "tools", "pth_dump")

try:
    import numpy as np
    import torch
except ImportError:
    print("skip: python3-torch is not installed")
    sys.exit(77)
if not os.access(TOOL, os.X_OK):
    print(f"skip: {TOOL} not built")
    sys.exit(77)
import safetensors_py  # noqa: E402

failures = []


def fail(msg):
    print("FAIL:", msg)
    failures.append(msg)


def flatten(obj, prefix=""):
    out = {}
    for k, v in obj.items():
        name = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(flatten(v, name))
        elif isinstance(v, torch.Tensor) and v.is_floating_point():
            out[name] = v
    return out


def run_tool(path, out):
    return subprocess.run([TOOL, path, out], capture_output=True, text=True)


def check_ok(case, path, reference):
    out = path + ".safetensors"
    r = run_tool(path, out)
    if r.returncode != 0:
        fail(f"{case}: pth_dump failed: {r.stderr.strip()}")
        return
    got = safetensors_py.load(out)
    want = flatten(reference)
    if sorted(got) != sorted(want):
        fail(f"{case}: tensor names {sorted(got)} != {sorted(want)}")
        return
    for name, t in want.items():
        w = t.detach().float().contiguous().numpy()
        g = got[name]
        if tuple(g.shape) != tuple(w.shape):
            fail(f"{case}: {name} shape {g.shape} != {w.shape}")
        elif not np.array_equal(g.view(np.uint32), w.view(np.uint32)):
            bad = int((g.view(np.uint32) != w.view(np.uint32)).sum())
            fail(f"{case}: {name}: {bad} of {w.size} values differ")


def check_refused(case, path, pattern, marker=None):
    r = run_tool(path, path + ".safetensors")
    lines = r.stderr.strip().splitlines()
    if r.returncode != 1 or len(lines) != 1 or pattern not in r.stderr:
        fail(f"{case}: expected exit 1 and one line with '{pattern}', got {r.returncode}: {r.stderr.strip()}")
    if marker and os.path.exists(marker):
        fail(f"{case}: reading the file ran code from it ({marker} exists)")


def entries_of(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write_zip(path, entries, method=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for name, data in entries:
            z.writestr(name, data)


def write_zip64(path, entries):
    """Every size and offset in zip64 extra fields, and zip64 end records."""
    out, central = bytearray(), bytearray()
    for name, data in entries:
        nb, off, crc = name.encode(), len(out), zlib.crc32(data)
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(extra))
        out += nb + extra + data
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(nb), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF)
        central += nb + cextra
    cd_off = len(out)
    out += central
    rec = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central), cd_off)
    out += struct.pack("<IIQI", 0x07064B50, 0, rec, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path, "wb") as f:
        f.write(out)


STORAGE = object()  # stands for the storage in crafted pickles


def crafted_pickle(root_of, numel, storage_type=None, protocol=2):
    """A data.pkl made by hand: root_of(tensor_factory) builds the object."""
    storage_type = storage_type or torch.FloatStorage

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", storage_type, "0", "cpu", numel) if obj is STORAGE else None

    class Tensor:
        def __init__(self, offset, size, stride):
            self.args = (STORAGE, offset, size, stride, False, collections.OrderedDict())

        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2, self.args)

    buf = io.BytesIO()
    Pickler(buf, protocol=protocol).dump(root_of(Tensor))
    return buf.getvalue()


def special_values(dtype):
    vals = [0.0, -0.0, 1.0, -2.5, 65504.0, 6e-8, 1e-5, float("inf"), float("-inf"), float("nan"), 3.14159, 1e30]
    return torch.tensor(vals, dtype=torch.float32).to(dtype)


def main():
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp()
    P = lambda name: os.path.join(tmp, name)  # noqa: E731

    # ---- files torch.save writes ------------------------------------------
    base = torch.randn(6, 8)
    cases = {
        "dtypes": {
            "f32": torch.randn(3, 5),
            "bf16": torch.randn(4, 7).bfloat16(),
            "f16": torch.randn(2, 3, 4).half(),
            "f64": torch.randn(5).double(),
            "bf16_special": special_values(torch.bfloat16),
            "f16_special": torch.cat([special_values(torch.float16), torch.tensor([2.0**-24, 2.0**-20], dtype=torch.float16)]),
            "ints": torch.arange(5),
            "scalar": torch.tensor(2.5),
            "empty": torch.zeros(0, 4),
        },
        "views": {"a": base, "b": base[2:], "c": base.t(), "d": base[:, 3], "e": base[1:5:2, ::3],
                  "h": base.bfloat16()[1:, 2:]},
        "nested": {"model": {"w": torch.randn(3, 3), "inner": {"b": torch.randn(2)}}, "step": 7, "name": "x"},
    }
    lin = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    cases["state_dict"] = lin.state_dict()
    for name, obj in cases.items():
        torch.save(obj, P(name + ".pth"))
        check_ok(name, P(name + ".pth"), torch.load(P(name + ".pth")))
    torch.save(cases["dtypes"], P("proto4.pth"), pickle_protocol=4)
    check_ok("pickle protocol 4", P("proto4.pth"), cases["dtypes"])
    write_zip64(P("zip64.pth"), entries_of(P("views.pth")))
    check_ok("zip64 records", P("zip64.pth"), torch.load(P("views.pth")))
    write_zip(P("pyzip.pth"), entries_of(P("dtypes.pth")))
    check_ok("re-zipped by Python", P("pyzip.pth"), cases["dtypes"])

    # ---- hostile and damaged files ----------------------------------------
    marker = P("ran")

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"w": torch.ones(2), "x": Evil()}, P("evil.pth"))
    check_refused("os.system global", P("evil.pth"), "refuses the global 'posix.system'", marker)

    class Eval:
        def __reduce__(self):
            return (eval, (f"open('{marker}', 'w')",))

    torch.save({"x": Eval()}, P("eval.pth"))
    check_refused("builtins.eval global", P("eval.pth"), "refuses the global '__builtin__.eval'", marker)

    data = open(P("dtypes.pth"), "rb").read()
    open(P("truncated.pth"), "wb").write(data[: len(data) // 2])
    check_refused("truncated archive", P("truncated.pth"), "end-of-central-directory")
    open(P("notzip.pth"), "wb").write(b"\x80\x02}q\x00." + b"\0" * 100)
    check_refused("legacy (non-zip) file", P("notzip.pth"), "not a zip archive")

    ents = entries_of(P("views.pth"))
    short = [(n, d[: len(d) // 2] if n.endswith("/data/0") else d) for n, d in ents]
    write_zip(P("short_storage.pth"), short)
    check_refused("truncated storage", P("short_storage.pth"), "should hold")
    write_zip(P("deflated.pth"), ents, zipfile.ZIP_DEFLATED)
    check_refused("compressed entries", P("deflated.pth"), "compressed")
    write_zip(P("nostorage.pth"), [(n, d) for n, d in ents if "/data/" not in n])
    check_refused("missing storage", P("nostorage.pth"), "not in the archive")

    floats = np.arange(16, dtype="<f4").tobytes()

    def archive(name, pkl, payload=floats):
        write_zip(P(name), [("archive/data.pkl", pkl), ("archive/data/0", payload)])
        return P(name)

    ok = archive("crafted_ok.pth", crafted_pickle(lambda T: {"w": T(2, (3, 2), (4, 1))}, 16))
    check_ok("crafted strided view", ok, {"w": torch.arange(16.0)[2:].as_strided((3, 2), (4, 1))})
    bad = archive("offset.pth", crafted_pickle(lambda T: {"w": T(10, (3, 2), (4, 1))}, 16))
    check_refused("view past the storage", bad, "reads past the end of its storage")
    # a stride whose product with the rows wraps around 64 bits (2^50 x 16384 = 2^64)
    bad = archive("wrap.pth", crafted_pickle(lambda T: {"w": T(0, (16385, 2), (1 << 50, 1))}, 16))
    check_refused("stride x rows past 2^64", bad, "reads past the end of its storage")
    # one dict under two keys (memo references could name 10^9 tensors in a small file)
    bad = archive("shared.pth", crafted_pickle(lambda T: (lambda d: {"a": d, "b": d})({"w": T(0, (2,), (1,))}), 16))
    check_refused("a dict under two keys", bad, "appears under two keys")
    # a name given twice (torch.load keeps the last; taking the first would load other weights)
    pkl = crafted_pickle(lambda T: {"w": T(0, (2,), (1,)), "v": T(2, (2,), (1,))}, 16)
    assert pkl.count(b"X\x01\x00\x00\x00v") == 1, pkl
    bad = archive("dupname.pth", pkl.replace(b"X\x01\x00\x00\x00v", b"X\x01\x00\x00\x00w"))
    check_refused("a tensor name twice", bad, "'w' appears twice")
    # memo indices that each double the memo: refused by the pickle's size, not grown to 2^24 slots
    idxs, nmemo, total = [], 0, 3 + 5 * 20 + 1
    for k in range(20):
        idx = min(total - (3 + 5 * (k + 1)) + nmemo + 16, 1 << 24)
        idxs.append(idx)
        nmemo = max(idx + 1, 2 * nmemo) if idx >= nmemo else nmemo
    memo = b"\x80\x02N" + b"".join(b"r" + struct.pack("<I", i) for i in idxs) + b"."
    check_refused("memo indices past the pickle", archive("memo.pth", memo), "memo index")
    bad = archive("neg.pth", crafted_pickle(lambda T: {"w": T(-1, (2,), (1,))}, 16))
    check_refused("negative offset", bad, "negative storage offset")
    bad = archive("numel.pth", crafted_pickle(lambda T: {"w": T(0, (2,), (1,))}, 1000))
    check_refused("storage larger than its entry", bad, "should hold")
    bad = archive("list.pth", crafted_pickle(lambda T: [T(0, (2,), (1,))], 16))
    check_refused("not a dict", bad, "does not hold a dict")
    bad = archive("emptytuple.pth", b"\x80\x02(t.")  # a tuple made before anything was pushed
    check_refused("empty tuple at the top", bad, "does not hold a dict")
    bad = archive("garbage.pth", bytes(range(256)) * 4)
    check_refused("garbage pickle", bad, "pickle")
    bad = archive("cut.pth", crafted_pickle(lambda T: {"w": T(0, (2,), (1,))}, 16)[:-9])
    check_refused("truncated pickle", bad, "truncated")
    for i in range(1, 40):  # every prefix of a valid pickle is refused cleanly
        pkl = crafted_pickle(lambda T: {"w": T(0, (2, 2), (2, 1))}, 16)
        r = run_tool(archive("prefix.pth", pkl[: len(pkl) * i // 40]), P("prefix.safetensors"))
        if r.returncode != 1 or len(r.stderr.strip().splitlines()) != 1:
            fail(f"pickle prefix {i}/40: exit {r.returncode}, stderr {r.stderr.strip()!r}")

    if failures:
        print(f"test_pth: {len(failures)} failures")
        sys.exit(1)
    print("test_pth: all checks passed")


main()
