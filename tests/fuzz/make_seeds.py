#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/corpus/ (committed; rerun only to change the seeds):
valid checkpoints for fuzz_checkpoint's model, valid IDX files, a few programs, and hostile
files that must be refused (sizes that overflow, a duplicate name, gzip trailing garbage). The
program format draws extents of 0 to 5, so it cannot express an overflowing shape."""
import gzip
import json
import os
import random
import struct

here = os.path.dirname(os.path.abspath(__file__))


def write(name, file, data):
    folder = os.path.join(here, "corpus", name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, file), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None):
    header, blobs, offset = {}, b"", 0
    for name, dtype, shape, values in tensors:
        code = "<f" if dtype == "F32" else "<d"
        blob = b"".join(struct.pack(code, v) for v in values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs += blob
        offset += len(blob)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + blobs


model = [("fc.weight", "F32", [3, 2], [0.5, -1, 2, 0.25, 3, -4]),
         ("fc.bias", "F32", [2], [1, -1]),
         ("conv.weight", "F64", [1, 1, 1, 2], [0.125, 8])]
write("checkpoint", "model.safetensors", safetensors(model, {"epoch": "3"}))
write("checkpoint", "model-extra.safetensors",
      safetensors(model + [("step", "F32", [], [7])]))
write("checkpoint", "partial.safetensors", safetensors(model[:1]))
write("checkpoint", "empty.safetensors", safetensors([]))


def raw_safetensors(header_text, data):
    text = header_text.encode()
    return struct.pack("<Q", len(text)) + text + data


# Hostile headers (refused): a shape whose element count wraps int64 (3 x 6148914691236517206
# wraps to 2, matching 8 data bytes), and one tensor name given twice.
write("checkpoint", "overflow-shape.safetensors",
      raw_safetensors('{"fc.bias":{"dtype":"F32","shape":[3,6148914691236517206],"data_offsets":[0,8]}}',
                      struct.pack("<ff", 1, -1)))
entry = '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}'
write("checkpoint", "duplicate-name.safetensors",
      raw_safetensors('{"fc.bias":' + entry + ',"fc.bias":' + entry + '}', struct.pack("<ff", 1, -1)))


def idx(dims, data):
    return struct.pack(">I", 0x800 + len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


write("idx", "rank1.idx", idx([5], [0, 1, 2, 3, 9]))
write("idx", "rank2.idx", idx([2, 3], range(6)))
write("idx", "rank3.idx", idx([2, 2, 2], range(8)))
write("idx", "rank3.idx.gz", gzip.compress(idx([2, 3, 4], range(24)), mtime=0))
write("idx", "empty.idx", idx([0, 4], []))
# Hostile (refused): extents whose product is 2^48 bytes, and gzip data followed by garbage.
write("idx", "overflow-extents.idx", idx([65536, 65536, 65536], range(8)))
write("idx", "trailing-garbage.idx.gz", gzip.compress(idx([4], range(4)), mtime=0) + b"junk")

rng = random.Random(7)
for i in range(6):
    write("program", f"random-{i}", bytes(rng.randrange(256) for _ in range(64)))
# A 4-D start, then conv2d (7), max_pool2d (8), flatten (11), dense (6), cross entropy (13).
write("program", "cnn", bytes([1, 3, 2, 4, 4, 2, 7, 2, 2, 1, 2, 1, 1, 1, 0, 1, 1, 1, 8, 1, 1, 0, 0, 0,
                               0, 11, 0, 6, 1, 3, 0, 13, 2, 1, 0, 1, 2]))
