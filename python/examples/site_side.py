"""The site's side in one process: from a catalogue and an interaction log to the candidate
objects the browser package ranks (docs/server.md walks through it).

    python python/examples/site_side.py --catalogue catalogue.json --log log.jsonl --out candidates.jsonl

- catalogue: a JSON array of items ``{"id", "text" | "title" and "description", "category"?}``;
- log: JSON lines ``{"user", "item", "at"}`` (``at`` in ms since the epoch, each user's rows in
  time order);
- out: one candidate per line, ``{"id", "text", "server_score", "category"?, "related",
  "embedding", "model"}``: the compact embedding (the device need not encode the item), the
  ``related`` lists from the log, and log popularity as the server's score.

A catalogue row without text and a bad log row are reported on stderr and left out; the rest go on.
"""

import argparse
import json
import math
import sys
from collections import Counter

import cloister


def item_text(item):
    return item.get("text") or ". ".join(p for p in (item.get("title"), item.get("description")) if p)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalogue", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default="english")
    parser.add_argument("--root", default=None, help="where models/ is (default $CLOISTER_HOME or .)")
    parser.add_argument("--keep", type=int, default=128)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args(argv)

    with open(args.catalogue) as f:
        catalogue = json.load(f)
    rows = []
    with open(args.log) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    users = [str(r.get("user", "")) for r in rows]
    items = [str(r.get("item", "")) for r in rows]
    times = [int(r.get("at", -1)) for r in rows]
    ids = [str(item["id"]) for item in catalogue]

    lists, errors = cloister.related(users, items, times, keep=args.keep, catalogue=ids)
    for row, kind, message in errors:
        print(f"log row {row}: {kind}: {message}", file=sys.stderr)
    popularity = Counter(items)

    encoder = cloister.Encoder(args.model, root=args.root)
    texts = [item_text(item) for item in catalogue]
    written = 0
    with open(args.out, "w") as out:
        for start in range(0, len(catalogue), args.batch):
            chunk = catalogue[start : start + args.batch]
            compact = encoder.embed_compact(texts[start : start + args.batch])
            for item, text, vector in zip(chunk, texts[start : start + args.batch], compact):
                if "error" in vector:
                    print(f"catalogue item {item['id']}: {vector['error']['kind']}: {vector['error']['message']}", file=sys.stderr)
                    continue
                candidate = {
                    "id": str(item["id"]),
                    "text": text,
                    "server_score": math.log1p(popularity[str(item["id"])]),
                    "related": [{"id": p, "weight": w} for p, w in lists.get(str(item["id"]), [])],
                    **vector,
                }
                if item.get("category"):
                    candidate["category"] = item["category"]
                out.write(json.dumps(candidate) + "\n")
                written += 1
    print(f"{written} candidates, {sum(map(len, lists.values()))} related entries, {len(errors)} bad log rows", file=sys.stderr)


if __name__ == "__main__":
    main()
