"""An independent reading of the safetensors format, in Python's standard library and numpy
(Debian's /usr/bin/python3 with python3-numpy; Debian 12 has no python3-safetensors).

    /usr/bin/python3 tests/data/safetensors_reference.py
        writes the reference files tests/test_checkpoint.cpp reads (committed; rerun to remake):
        reference.safetensors         the layout nalgrad writes (compact JSON, metadata first,
                                      data in header order, header padded with spaces to 8 bytes)
        reference_pretty.safetensors  the same tensors as Python's json.dumps writes them by
                                      default: spaces, sorted keys, data in another order
    /usr/bin/python3 tests/data/safetensors_reference.py --check FILE
        validates any safetensors file and prints its tensors.
"""
import json
import math
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8")}


def reference_tensors():
    """(name, array) in data order; tests/test_checkpoint.cpp builds the same ones."""
    return [
        ("conv.weight", (np.arange(6, dtype="<f4") * 0.5 - 1).reshape(2, 3)),
        ("conv.bias", np.array([math.pi, -0.0, 1e-300], dtype="<f8")),
        ("steps", np.array([[-1, 2**40], [7, 0]], dtype="<i8")),
    ]


def encode(tensors, metadata, header_json):
    offsets, data, position = {}, b"", 0
    for name, array in tensors:
        raw = array.tobytes()
        offsets[name] = [position, position + len(raw)]
        data += raw
        position += len(raw)
    entries = {name: {"dtype": [k for k, v in DTYPES.items() if v == array.dtype][0],
                      "shape": list(array.shape), "data_offsets": offsets[name]}
               for name, array in tensors}
    header = header_json(metadata, entries).encode("utf-8")
    header += b" " * ((8 - len(header) % 8) % 8)
    return struct.pack("<Q", len(header)) + header + data


def compact(metadata, entries):
    ordered = {"__metadata__": metadata, **entries}
    return json.dumps(ordered, separators=(",", ":"))


def pretty(metadata, entries):
    return json.dumps({"__metadata__": metadata, **entries}, sort_keys=True)


def check(path):
    blob = open(path, "rb").read()
    assert len(blob) >= 8, "shorter than the header length"
    (n,) = struct.unpack("<Q", blob[:8])
    assert 8 + n <= len(blob), "header length beyond the file"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    assert all(isinstance(v, str) for v in metadata.values()), "metadata values must be strings"
    spans = sorted((e["data_offsets"][0], e["data_offsets"][1], name) for name, e in header.items())
    covered = 0
    for begin, end, name in spans:
        assert begin == covered, f"{name}: gap or overlap at {begin}"
        covered = end
    assert covered == len(data), "data not entirely covered"
    print(f"{path}: header {n} bytes (data at offset {8 + n}), metadata {metadata}")
    for name, e in header.items():
        begin, end = e["data_offsets"]
        dtype = DTYPES[e["dtype"]]
        count = int(np.prod(e["shape"], dtype=np.int64))
        assert end - begin == count * dtype.itemsize, f"{name}: size does not match dtype*shape"
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(e["shape"])
        print(f"  {name} {e['dtype']} {e['shape']}: {array.flatten().tolist()[:8]}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
        return
    metadata = {"epoch": "3", "format": "pt"}  # sorted, as nalgrad's std::map writes it
    tensors = reference_tensors()
    with open(os.path.join(HERE, "reference.safetensors"), "wb") as f:
        f.write(encode(tensors, metadata, compact))
    # Data in reverse order, so header order (sorted) and data order differ.
    with open(os.path.join(HERE, "reference_pretty.safetensors"), "wb") as f:
        f.write(encode(tensors[::-1], metadata, pretty))
    for name in ("reference.safetensors", "reference_pretty.safetensors"):
        check(os.path.join(HERE, name))


if __name__ == "__main__":
    main()
