"""The site's side on Ray or on Spark: site_side.py's catalogue and log to the same candidate
objects, with the embeddings and the `related` count running as engine jobs (docs/server.md).

    python python/examples/site_side_engines.py --engine spark --catalogue catalogue.json \\
        --log log.jsonl --out candidates/

- catalogue: a JSON array of items ``{"id", "text" | "title" and "description", "category"?}``
  (a million-item catalogue would be Parquet: ``spark.read.parquet``, ``ray.data.read_parquet``);
- log: JSON lines ``{"user", "item", "at"}``; a distributed log has no row order, so each
  user's rows count in time order;
- out: a directory of JSON-lines part files, one candidate per line, as site_side.py writes them.

A catalogue row without text and a bad log row are reported on stderr and left out.
"""

import argparse
import json
import math
import os
import sys

import pandas as pd


def item_text(item):
    return item.get("text") or ". ".join(p for p in (item.get("title"), item.get("description")) if p)


def with_text(catalogue):
    """The catalogue as a frame of `id`, `text`, `category` (the engines' input)."""
    return pd.DataFrame({
        "id": [str(item["id"]) for item in catalogue],
        "text": [item_text(item) for item in catalogue],
        "category": [item.get("category") for item in catalogue],
    })


def on_spark(args, catalogue):
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    import cloister.spark

    spark = (SparkSession.builder.master(args.master).config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    items = spark.createDataFrame(with_text(catalogue), "id string, text string, category string")
    log = spark.read.schema("user string, item string, at long").json(args.log)

    lists, errors = cloister.spark.related(log, row=None, keep=args.keep, catalogue=items.select("id"))
    for r in errors.collect():
        print(f"log: {r['kind']}: {r['message']}", file=sys.stderr)
    popularity = log.groupBy("item").count()
    embedded = cloister.spark.embed(items, "text", model=args.model, root=args.root, compact=True)
    for r in embedded.where(F.col("error_kind").isNotNull()).collect():
        print(f"catalogue item {r['id']}: {r['error_kind']}: {r['error_message']}", file=sys.stderr)
    candidates = (
        embedded.where(F.col("error_kind").isNull())
        .join(lists.withColumnRenamed("item", "id"), "id", "left")
        .join(popularity.withColumnRenamed("item", "id"), "id", "left")
        .select(
            "id", "text",
            F.log1p(F.coalesce(F.col("count"), F.lit(0))).alias("server_score"),
            "category",
            F.coalesce(F.col("related"), F.array()).alias("related"),
            "embedding", "model",
        )
    )
    # A null category is left out of the object, as site_side.py does.
    candidates.write.mode("overwrite").option("ignoreNullFields", "true").json(args.out)
    spark.stop()


def on_ray(args, catalogue):
    import ray

    import cloister.ray

    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    frame = with_text(catalogue)
    items = ray.data.from_pandas([frame.iloc[i::4] for i in range(4)])
    log = ray.data.read_json(args.log, lines=True)

    lists, errors = cloister.ray.related(log, row=None, keep=args.keep, catalogue=items.select_columns(["id"]))
    for r in errors.take_all():
        print(f"log: {r['kind']}: {r['message']}", file=sys.stderr)
    popularity = log.groupby("item").count().rename_columns({"item": "id", "count()": "count"})
    # Materialised before the joins: the actors hold the CPUs while they live.
    embedded = cloister.ray.embed(items, "text", model=args.model, root=args.root, compact=True,
                                  workers=args.cpus).materialize()
    for r in embedded.filter(expr=ray.data.expressions.col("error_kind").is_not_null()).take_all():
        print(f"catalogue item {r['id']}: {r['error_kind']}: {r['error_message']}", file=sys.stderr)

    def candidate(batch):
        return pd.DataFrame({
            "id": batch["id"], "text": batch["text"],
            "server_score": [math.log1p(0 if pd.isna(n) else n) for n in batch["count"]],
            "category": batch["category"],
            # A left join leaves no list (a null) where an item has no predecessors.
            "related": [list(r) if pd.api.types.is_list_like(r) else [] for r in batch["related"]],
            "embedding": batch["embedding"], "model": batch["model"],
        })

    good = embedded.filter(expr=ray.data.expressions.col("error_kind").is_null()).drop_columns(["error_kind", "error_message"])
    candidates = (
        good.join(lists.rename_columns({"item": "id"}), "left_outer", 4, on=("id",))
        .join(popularity, "left_outer", 4, on=("id",))
        .map_batches(candidate, batch_format="pandas")
    )
    os.makedirs(args.out, exist_ok=True)
    for n, rows in enumerate(candidates.iter_batches(batch_format="pandas", batch_size=4096)):
        with open(os.path.join(args.out, f"part-{n:05}.json"), "w") as f:
            for row in rows.to_dict("records"):
                if row["category"] is None:
                    del row["category"]
                row["related"] = [{"id": e["id"], "weight": float(e["weight"])} for e in row["related"]]
                f.write(json.dumps(row) + "\n")
    ray.shutdown()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["ray", "spark"], required=True)
    parser.add_argument("--catalogue", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--out", required=True, help="a directory of JSON-lines part files")
    parser.add_argument("--model", default="english")
    parser.add_argument("--root", default=None, help="where models/ is (default $CLOISTER_HOME or .)")
    parser.add_argument("--keep", type=int, default=128)
    parser.add_argument("--master", default="local[2]", help="Spark's master")
    parser.add_argument("--cpus", type=int, default=2, help="Ray's local CPUs")
    args = parser.parse_args(argv)
    with open(args.catalogue) as f:
        catalogue = json.load(f)
    (on_spark if args.engine == "spark" else on_ray)(args, catalogue)


if __name__ == "__main__":
    main()
