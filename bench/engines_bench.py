"""`npm run bench`, the site's side on Ray and Spark (issue 19), on this machine in one run:

- embeddings: items/s of `cloister.ray.embed` with 1 and 2 actors, of the int8 ONNX peer
  (onnxruntime, 1 thread) in the same kind of Ray actor, and of `cloister.spark.embed` on
  `local[1]` and `local[2]`; each job's wall time includes starting its workers and loading
  the model, so the marginal rate (the extra items of a larger job over the extra time) is
  given too, and the scaling from 1 to 2 workers is taken from it;
- the `related` job over a generated log on Ray and on Spark (2 CPUs) and in one process.
- `--full`: the issue's sizes, checked: 100,000 generated items on both engines (2 workers)
  against the single-process CLI (cosine 1.0 up to float rounding) and the 1,000,000-row log's
  lists against the single-process count.

Prints one JSON object per measurement. Run by scripts/bench.sh in the test venv (with
onnxruntime and tokenizers added):
    python bench/engines_bench.py --root . --onnx-model M --tokenizer T
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "python" / "tests"))

import site_data  # noqa: E402

import cloister  # noqa: E402

os.environ["PYSPARK_PYTHON"] = sys.executable


def report(**fields):
    print(json.dumps(fields), flush=True)


def blocks(frame, n):
    return [frame.iloc[i::n] for i in range(n)]


class OnnxActor:
    """The peer in a Ray actor, as a site would write it: one session per actor, 1 thread."""

    def __init__(self, model, tokenizer):
        from onnx_peer import OnnxEmbedder

        self.embedder = OnnxEmbedder(model, tokenizer, threads=1)

    def __call__(self, batch):
        batch["embedding"] = list(self.embedder.embed(batch["text"].tolist()))
        return batch


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def rates(name, workers, run, small, large):
    """Job items/s at `large`, and the marginal rate between `small` and `large` items, after
    one unmeasured job (Spark keeps its Python workers, and their model, between jobs)."""
    run(small)
    t_small, _ = timed(lambda: run(small))
    t_large, _ = timed(lambda: run(large))
    report(engine=name, workers=workers, items=large, wall_s=round(t_large, 2),
           job_items_per_s=round(large / t_large, 1),
           marginal_items_per_s=round((large - small) / (t_large - t_small), 1))
    return (large - small) / (t_large - t_small)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=".")
    p.add_argument("--onnx-model", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--items", type=int, default=3000, help="the larger embedding job")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--full", action="store_true")
    p.add_argument("--checks-only", action="store_true", help="with --full: the checks, not the timed jobs")
    args = p.parse_args()
    root = str(Path(args.root).resolve())
    texts = [item["text"] for item in site_data.catalogue(args.items, seed=5) if item["text"]]
    small, large = len(texts) // 4, len(texts)

    import ray

    import cloister.ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    marginal = {}
    for workers in () if args.checks_only else (1, 2):
        def run_cloister(n, workers=workers):
            ds = ray.data.from_pandas(blocks(pd.DataFrame({"text": texts[:n]}), 8))
            return cloister.ray.embed(ds, root=root, workers=workers).materialize()

        def run_onnx(n, workers=workers):
            ds = ray.data.from_pandas(blocks(pd.DataFrame({"text": texts[:n]}), 8))
            return ds.map_batches(OnnxActor, fn_constructor_args=(args.onnx_model, args.tokenizer), batch_size=32,
                                  batch_format="pandas", compute=ray.data.ActorPoolStrategy(size=workers),
                                  num_cpus=1).materialize()

        marginal[("ray", workers)] = rates("ray cloister", workers, run_cloister, small, large)
        marginal[("onnx", workers)] = rates("ray onnxruntime", workers, run_onnx, small, large)
    if marginal:
        report(engine="ray", scaling_1_to_2=round(marginal[("ray", 2)] / marginal[("ray", 1)], 2),
               onnx_scaling_1_to_2=round(marginal[("onnx", 2)] / marginal[("onnx", 1)], 2),
               cloister_over_onnx_per_core=round(marginal[("ray", 1)] / marginal[("onnx", 1)], 2))

    log = site_data.log(args.rows, 20_000, 20_000)
    ids = [f"i{i}" for i in range(20_000)]
    t, (want, want_errors) = timed(lambda: cloister.related(list(log["user"]), list(log["item"]), log["at"].tolist(), catalogue=ids))
    report(engine="wheel related (1 process)", rows=args.rows, seconds=round(t, 2), rows_per_s=round(args.rows / t))

    def ray_related():
        lists, errors = cloister.ray.related(ray.data.from_pandas(pd.DataFrame(log)), catalogue=ray.data.from_pandas(pd.DataFrame({"id": ids})))
        return lists.take_all(), errors.take_all()

    t, (lists, errors) = timed(ray_related)
    same = same_as(want, want_errors, lists, errors)
    report(engine="ray related", rows=args.rows, seconds=round(t, 2), rows_per_s=round(args.rows / t), identical=same)
    if args.full:
        full_check("ray", lambda t: cloister.ray.embed(ray.data.from_pandas(blocks(pd.DataFrame({"id": range(len(t)), "text": t}), 16)),
                                                       root=root, workers=2).select_columns(["id", "embedding"]).to_pandas(), root)
    ray.shutdown()

    from pyspark.sql import SparkSession

    import cloister.spark

    def session(cores):
        spark = (SparkSession.builder.master(f"local[{cores}]").config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false").config("spark.driver.memory", "3g")
                 .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                 .config("spark.sql.shuffle.partitions", "4").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        return spark

    for cores in (2,) if args.checks_only else (1, 2):
        spark = session(cores)

        def run_spark(n):
            df = spark.createDataFrame(pd.DataFrame({"text": texts[:n]})).repartition(8)
            cloister.spark.embed(df, root=root).write.format("noop").mode("overwrite").save()

        if not args.checks_only:
            marginal[("spark", cores)] = rates("spark cloister", cores, run_spark, small, large)
        if cores == 2:
            def spark_related():
                lists, errors = cloister.spark.related(spark.createDataFrame(pd.DataFrame(log)),
                                                       catalogue=spark.createDataFrame(pd.DataFrame({"id": ids})))
                return lists.collect(), errors.collect()

            t, (lists, errors) = timed(spark_related)
            same = same_as(want, want_errors, lists, errors)
            report(engine="spark related", rows=args.rows, seconds=round(t, 2), rows_per_s=round(args.rows / t), identical=same)
            if args.full:
                full_check("spark", lambda t: cloister.spark.embed(
                    spark.createDataFrame(pd.DataFrame({"id": range(len(t)), "text": t})).repartition(16), root=root
                ).select("id", "embedding").toPandas(), root)
        spark.stop()
    if ("spark", 1) in marginal:
        report(engine="spark", scaling_1_to_2=round(marginal[("spark", 2)] / marginal[("spark", 1)], 2))


def same_as(want, want_errors, lists, errors):
    """An engine's lists and errors (rows) against the single-process count's."""
    got = {r["item"]: [(e["id"], e["weight"]) for e in r["related"]] for r in lists}
    return got == want and sorted((r["row"], r["kind"], r["message"]) for r in errors) == sorted(want_errors)


def full_check(engine, run, root, n=100_000):
    """The issue's size: `n` generated items through the engine and through the CLI."""
    items = [item for item in site_data.catalogue(n, seed=9) if item["text"]]
    texts = [item["text"] for item in items]
    out = subprocess.run([str(Path(root) / "dist" / "cloister"), "embed"], input="\n".join(texts) + "\n",
                         capture_output=True, text=True, check=True, env={**os.environ, "CLOISTER_HOME": root})
    cli = np.array([json.loads(line) for line in out.stdout.splitlines()], dtype=np.float32)
    t, frame = timed(lambda: run(texts))
    got = np.zeros_like(cli)
    got[frame["id"].to_numpy()] = np.stack(frame["embedding"].to_numpy())
    cosine = np.einsum("ij,ij->i", got, cli)
    report(engine=f"{engine} full check", items=len(texts), seconds=round(t, 1), min_cosine_vs_cli=float(cosine.min()),
           max_abs_diff=float(np.abs(got - cli).max()))


if __name__ == "__main__":
    main()
