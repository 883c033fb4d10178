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

from onnx_peer import OnnxEmbedder


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
    embed = OnnxEmbedder(args.model, args.tokenizer, args.threads).embed

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
