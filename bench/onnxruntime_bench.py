#!/usr/bin/env python3
"""`npm run bench`, native peer: the int8 ONNX all-MiniLM-L6-v2 in Python onnxruntime.

Same sentences, same batch sizes and the same thread count as `dist/cloister bench`; tokenized
with the same tokenizer.json (HF tokenizers), padded to each batch's longest, mean-pooled and
normalised like sentence-transformers. Prints one line per batch size in cloister bench's format.
"""
import argparse
import statistics
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--sentences", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--save", help="write the batch-32 embeddings here (.npy) for the agreement check")
    args = p.parse_args()

    sentences = [l for l in open(args.sentences, encoding="utf-8").read().split("\n") if l]
    tok = Tokenizer.from_file(args.tokenizer)
    tok.enable_truncation(256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # to the batch's longest
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}

    def embed(batch):
        enc = tok.encode_batch(batch)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = sess.run(None, feed)[0]
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    embed(sentences[:8])  # warm-up
    print(f"onnxruntime {ort.__version__}: {len(sentences)} sentences, int8 ONNX, {args.threads} threads")
    for batch in (1, 32):
        rates = []
        out = None
        for r in range(args.rounds + 1):
            started = time.perf_counter()
            parts = [embed(sentences[i:i + batch]) for i in range(0, len(sentences), batch)]
            rate = len(sentences) / (time.perf_counter() - started)
            if r == 0:
                out = np.concatenate(parts)  # warm-up pass, not timed
            else:
                rates.append(rate)
        rounds = ", ".join(f"{x:.1f}" for x in sorted(rates))
        print(f"batch {batch:>2}: {statistics.median(rates):.1f} sentences/s (median of {args.rounds}; rounds {rounds})")
        if args.save and batch == 32:
            np.save(args.save, out.astype(np.float32))


if __name__ == "__main__":
    main()
