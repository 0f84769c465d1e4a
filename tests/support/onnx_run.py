#!/usr/bin/env python3
"""Helpers the export tests (tests/test_export.cpp) run to check Tangent's files with independent readers.

  onnx_run.py run MODEL.onnx INPUT.npy OUTPUT.npy [INPUT2.npy OUTPUT2.npy ...]
      runs the model on ONNX Runtime (CPU) with each INPUT as its single input; saves the first output.
  onnx_run.py generate MODEL_WITH_PAST.onnx CONTEXT TOKENS LOGITS.npy ID [ID ...]
      greedy generation with a language model's with-past graph (`tangent export --with-past`): prints the TOKENS
      new token ids after the prompt IDs, separated by spaces, and saves the logits each was chosen from as
      LOGITS.npy [TOKENS, V]. The window slides as `tangent generate` slides it: when the next token would not fit
      in CONTEXT positions, it restarts (empty past) from the last ceil(CONTEXT / 2) tokens.
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


def generate(model_path, context, tokens, logits_path, *prompt):
    import onnxruntime as ort

    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    context, tokens = int(context), int(tokens)
    ids_name = sess.get_inputs()[0].name
    out_names = [o.name for o in sess.get_outputs()]
    seq = [int(t) for t in prompt]
    start, past, new, rows = max(0, len(seq) - context), None, [], []
    for _ in range(tokens):
        if len(seq) - start > context:  # slide: restart from the last ceil(context / 2) tokens
            start, past = len(seq) - (context + 1) // 2, None
        if past is None:  # prefill the window, with empty past tensors
            feed = seq[start:]
            past = {i.name: np.zeros([1 if d == "batch" else 0 if d == "past_sequence" else d for d in i.shape],
                                     np.float32) for i in sess.get_inputs()[1:]}
        else:
            feed = seq[-1:]
        logits, *present = sess.run(None, {ids_name: np.array([feed], np.int64), **past})
        past = {n.replace("present_", "past_", 1): v for n, v in zip(out_names[1:], present)}
        rows.append(logits[0, -1])
        seq.append(int(np.argmax(logits[0, -1])))
        new.append(seq[-1])
    np.save(logits_path, np.stack(rows))
    print(" ".join(map(str, new)))


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
    elif len(sys.argv) >= 7 and sys.argv[1] == "generate":
        generate(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "safetensors":
        safetensors(*sys.argv[2:])
    else:
        sys.exit(__doc__)
