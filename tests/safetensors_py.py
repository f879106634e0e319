"""A small pure-Python safetensors reader and writer (json + numpy only).

File layout: an 8-byte little-endian u64 N, then N bytes of JSON header
{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 "__metadata__": {str: str}} (metadata optional), then the data bytes. Offsets
are relative to the start of the data section. The reader validates every
offset and size before touching data, so a malformed file raises ValueError
with the file name and the problem instead of returning garbage.
"""

import json
import struct

import numpy as np

_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def read_raw(path):
    """Returns (header dict without __metadata__, metadata dict, data bytes)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: {len(blob)} bytes, too short for a safetensors header")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ValueError(f"{path}: header length {n} exceeds file size {len(blob)}")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    meta = header.pop("__metadata__", {}) or {}
    data = blob[8 + n:]
    spans = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{path}: tensor {name!r}: bad entry {info!r}")
        if info["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name!r}: unsupported dtype {info['dtype']!r}")
        shape = info["shape"]
        if not isinstance(shape, list) or any(not isinstance(s, int) or s < 0 for s in shape):
            raise ValueError(f"{path}: tensor {name!r}: bad shape {shape!r}")
        b, e = info["data_offsets"]
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        need = count * _DTYPES[info["dtype"]].itemsize
        if not (0 <= b <= e <= len(data)) or e - b != need:
            raise ValueError(f"{path}: tensor {name!r}: offsets [{b}, {e}] do not fit "
                             f"shape {shape} {info['dtype']} ({need} bytes) in {len(data)} data bytes")
        spans.append((b, e, name))
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise ValueError(f"{path}: tensors {n0!r} and {n1!r} overlap")
    return header, meta, data


def load(path):
    """Returns {name: numpy array} (copies, native byte order)."""
    header, _, data = read_raw(path)
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = _DTYPES[info["dtype"]]
        arr = np.frombuffer(data, dtype=dt, count=(e - b) // dt.itemsize, offset=b)
        out[name] = arr.reshape(info["shape"]).astype(dt.newbyteorder("="), copy=True)
    return out


def load_with_dtypes(path):
    """Returns {name: (dtype string, shape list)} from the header alone."""
    header, _, _ = read_raw(path)
    return {k: (v["dtype"], list(v["shape"])) for k, v in header.items()}


def save(path, tensors, metadata=None):
    """Writes {name: numpy array} in sorted name order, 8-byte aligned header."""
    header = {}
    chunks = []
    off = 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        key = a.dtype.newbyteorder("<") if a.dtype.itemsize > 1 else a.dtype
        if key not in _NAMES:
            raise ValueError(f"{path}: tensor {name!r}: unsupported dtype {a.dtype}")
        raw = a.astype(key, copy=False).tobytes()
        header[name] = {"dtype": _NAMES[key], "shape": list(a.shape),
                        "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for c in chunks:
            f.write(c)
