"""The Python wheel's throughput (issue 19): items/s through `cloister.Encoder.embed` and
`embed_compact` on the native int8 kernel, at a given thread count, in batches of 32, median of
rounds. Run by scripts/bench.sh in the test venv with the wheel build.sh made:
    python bench/wheel_bench.py --threads 1 --rounds 5
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import cloister

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--rounds", type=int, default=5)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--sentences", default="crate/benches/sentences-256.txt")
parser.add_argument("--root", default=".")
args = parser.parse_args()

texts = [t for t in Path(args.sentences).read_text().splitlines() if t.strip()]
encoder = cloister.Encoder("english", root=args.root, threads=args.threads)
encoder.embed(texts[: args.batch])  # warm-up


def rate(fn):
    rounds = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        for i in range(0, len(texts), args.batch):
            fn(texts[i : i + args.batch])
        rounds.append(len(texts) / (time.perf_counter() - started))
    return statistics.median(rounds), rounds


embed, embed_rounds = rate(encoder.embed)
compact, compact_rounds = rate(encoder.embed_compact)
print(json.dumps({
    "threads": args.threads, "batch": args.batch, "sentences": len(texts),
    "embed_items_per_s": round(embed, 1), "embed_rounds": [round(r, 1) for r in embed_rounds],
    "embed_compact_items_per_s": round(compact, 1), "compact_rounds": [round(r, 1) for r in compact_rounds],
    "per_core": round(embed / args.threads, 1),
}))
