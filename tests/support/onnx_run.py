#!/usr/bin/env python3
"""Helpers the export tests (tests/test_export.cpp) run to check Tangent's files with independent readers.

  onnx_run.py run MODEL.onnx INPUT.npy OUTPUT.npy [INPUT2.npy OUTPUT2.npy ...]
      runs the model on ONNX Runtime (CPU) with each INPUT as its single input; saves the first output.
  onnx_run.py safetensors FILE.safetensors OUTDIR
      parses FILE with NumPy only (8-byte header length, JSON header, raw bytes) and writes each tensor as
      OUTDIR/<index>.npy (in header order; bfloat16 widened to float32), plus OUTDIR/index.json listing
      {"names": [...], "dtypes": [...], "metadata": {...}}.
Exit status 0 on success; errors go to stderr.
"""
import json
import os
import struct
import sys

import numpy as np


def run(model_path, *paths):
    import onnxruntime as ort

    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    for input_path, output_path in zip(paths[0::2], paths[1::2]):
        (y, *_) = sess.run(None, {name: np.load(input_path)})
        np.save(output_path, np.ascontiguousarray(y))


DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "BOOL": np.bool_,
          "BF16": np.uint16}


def safetensors(path, outdir):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    meta = header.pop("__metadata__", {})
    names = sorted(header, key=lambda k: header[k]["data_offsets"][0])
    dtypes = []
    for i, name in enumerate(names):
        e = header[name]
        b, end = e["data_offsets"]
        arr = np.frombuffer(body[b:end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
        if e["dtype"] == "BF16":  # no NumPy bfloat16: widen the 16 bits to float32
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        dtypes.append(e["dtype"])
        np.save(os.path.join(outdir, "%d.npy" % i), np.ascontiguousarray(arr))
    with open(os.path.join(outdir, "index.json"), "w") as f:
        json.dump({"names": names, "dtypes": dtypes, "metadata": meta}, f)


if __name__ == "__main__":
    if len(sys.argv) >= 5 and len(sys.argv) % 2 == 1 and sys.argv[1] == "run":
        run(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "safetensors":
        safetensors(*sys.argv[2:])
    else:
        sys.exit(__doc__)
