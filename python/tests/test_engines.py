"""`cloister.spark` and `cloister.ray` on a local cluster each (Spark `local[2]`, Ray local with
2 CPUs) against the single-process CLI and wheel: the same embeddings, the same `related`
lists and the same bad-row reports, the model loaded once per worker.

Sizes (CI's; `bench/engines_bench.py --full` runs the issue's 100,000 items): items to embed
$CLOISTER_ENGINE_ITEMS (default 300), log rows $CLOISTER_ENGINE_ROWS (default 1,000,000).
Run by scripts/test.sh in the test venv (python/requirements-test.txt: ray, pyspark, polars);
scripts/test.sh installs a JRE where none is found. A missing engine fails these tests; they are
never skipped.
"""

import json
import os
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import pandas as pd

import cloister
import site_data
from test_wheel import ROOT, cli_lines, example_inputs, run_example

ITEMS = int(os.environ.get("CLOISTER_ENGINE_ITEMS", "300"))
ROWS = int(os.environ.get("CLOISTER_ENGINE_ROWS", "1000000"))
CATALOGUE_ITEMS = 20_000
USERS = 20_000


def by_id(rows):
    return {r["id"]: r for r in rows}


class EngineCase:
    """What both engines must do; a subclass says how to run a job and collect its rows."""

    @classmethod
    def setUpClass(cls):
        cls.catalogue = site_data.catalogue(ITEMS, seed=3)
        # Rows 999, 1999, ... have no text; make sure the small CI size has one too.
        cls.catalogue[ITEMS // 2]["text"] = "   "
        good = [item for item in cls.catalogue if item["text"].strip()]
        cls.cli = dict(zip([item["id"] for item in good], np.array(cli_lines(texts=[item["text"] for item in good]), dtype=np.float32)))
        cls.cli_compact = dict(zip([item["id"] for item in good], cli_lines("--compact", texts=[item["text"] for item in good])))
        cls.log = site_data.log(ROWS, CATALOGUE_ITEMS, USERS)
        cls.ids = [f"i{i}" for i in range(CATALOGUE_ITEMS)]
        cls.reference = cloister.related(
            list(cls.log["user"]), list(cls.log["item"]), cls.log["at"].tolist(), catalogue=cls.ids
        )
        cls.load_log = Path(tempfile.mkdtemp()) / "loads"
        os.environ["CLOISTER_LOAD_LOG"] = str(cls.load_log)

    def loads(self):
        pids = self.load_log.read_text().split() if self.load_log.exists() else []
        self.load_log.unlink(missing_ok=True)
        return pids

    def test_embeddings_are_the_clis_and_a_row_without_text_is_an_error_in_its_row(self):
        self.loads()
        rows = by_id(self.embed(self.catalogue, compact=False))
        self.assertEqual(len(rows), ITEMS)
        pids = self.loads()
        self.assertEqual(len(pids), len(set(pids)), "a worker loaded the model more than once")
        self.assertLessEqual(len(pids), 2)
        worst = 1.0
        for item in self.catalogue:
            row = rows[item["id"]]
            if not item["text"].strip():
                self.assertEqual((row["embedding"], row["model"], row["error_kind"], row["error_message"]),
                                 (None, None, "invalid_item", "a catalogue row needs text"))
                continue
            self.assertIsNone(row["error_kind"])
            vector = np.asarray(row["embedding"], dtype=np.float32)
            worst = min(worst, float(vector @ self.cli[item["id"]]))
        # The same kernel; only the engine's batch boundaries differ from the CLI's.
        self.assertGreaterEqual(worst, 0.99999)

    def test_compact_embeddings_read_back_and_a_bad_one_is_an_error_in_its_row(self):
        rows = by_id(self.embed(self.catalogue, compact=True))
        sha = cloister.Encoder("english", root=ROOT).model_sha256
        good = [r for r in rows.values() if r["error_kind"] is None]
        self.assertEqual(len(good), len(self.cli_compact))
        self.assertTrue(all(r["model"] == sha and len(r["embedding"]) == 520 for r in good))
        stored = [{"id": r["id"], "embedding": r["embedding"], "model": r["model"]} for r in good]
        stored += [
            {"id": "short", "embedding": good[0]["embedding"][:516], "model": sha},
            {"id": "other", "embedding": good[0]["embedding"], "model": "0" * 64},
            {"id": "none", "embedding": None, "model": sha},
        ]
        back = by_id(self.decode(stored))
        worst = min(float(np.asarray(back[r["id"]]["vector"]) @ self.cli[r["id"]]) for r in good)
        self.assertGreaterEqual(worst, 0.999)
        self.assertEqual({k: (back[k]["vector"], back[k]["error_kind"]) for k in ("short", "other", "none")},
                         {"short": (None, "invalid_embedding"), "other": (None, "invalid_embedding"),
                          "none": (None, "missing_embedding")})

    def test_the_worked_example_makes_the_single_process_candidates(self):
        """python/examples/site_side_engines.py against site_side.py on the same inputs."""
        with tempfile.TemporaryDirectory() as tmp:
            paths, log = example_inputs(Path(tmp))
            run_example("site_side.py", paths["catalogue.json"], paths["log.jsonl"], Path(tmp, "one.jsonl"))
            want = by_id(json.loads(line) for line in Path(tmp, "one.jsonl").read_text().splitlines())
            run = run_example("site_side_engines.py", paths["catalogue.json"], paths["log.jsonl"], Path(tmp, "parts"),
                              "--engine", self.name)
            got = by_id(json.loads(line) for part in sorted(Path(tmp, "parts").glob("part-*")) for line in part.read_text().splitlines())
        self.assertIn("catalogue item blank: invalid_item: a catalogue row needs text", run.stderr)
        self.assertIn("log: unknown_item: item 'not-in-the-catalogue' is not in the catalogue", run.stderr)
        self.assertEqual(sorted(got), sorted(want))
        encoder = cloister.Encoder("english", root=ROOT)
        for key, one in want.items():
            other = got[key]
            self.assertEqual({k: other[k] for k in ("text", "model") if k in other}, {k: one[k] for k in ("text", "model")})
            self.assertEqual(other.get("category"), one.get("category"))
            self.assertAlmostEqual(other["server_score"], one["server_score"], places=12)
            self.assertEqual([(e["id"], np.float32(e["weight"])) for e in other["related"]],
                             [(e["id"], np.float32(e["weight"])) for e in one["related"]], key)
            vectors, errors = encoder.decode_compact([one["embedding"], other["embedding"]], one["model"])
            self.assertEqual(errors, [])
            self.assertGreaterEqual(float(vectors[0] @ vectors[1]), 0.9999, key)

    def test_related_lists_and_bad_rows_are_the_single_process_ones(self):
        lists, errors = self.related(self.log, self.ids)
        want_lists, want_errors = self.reference
        self.assertGreater(len(want_errors), 12)  # the planted rows and the ones that go back in time
        self.assertEqual(sorted(errors), sorted(want_errors))
        self.assertEqual(len(lists), len(want_lists))
        self.assertEqual(lists, want_lists)


class SparkTest(EngineCase, unittest.TestCase):
    name = "spark"
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        os.environ["PYSPARK_PYTHON"] = sys.executable
        from pyspark.sql import SparkSession

        import cloister.spark

        cls.engine = cloister.spark
        cls.spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.driver.memory", "3g")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        cls.spark.sparkContext.setLogLevel("ERROR")

    @classmethod
    def tearDownClass(cls):
        cls.spark.stop()

    def frame(self, rows, partitions=4):
        return self.spark.createDataFrame(pd.DataFrame(rows)).repartition(partitions)

    def embed(self, catalogue, compact):
        out = self.engine.embed(self.frame(catalogue), "text", root=str(ROOT), compact=compact)
        return [r.asDict() for r in out.collect()]

    def decode(self, stored):
        return [r.asDict() for r in self.engine.decode(self.frame(stored), root=str(ROOT)).collect()]

    def related(self, log, ids):
        frame = self.spark.createDataFrame(pd.DataFrame(log))
        lists, errors = self.engine.related(frame, catalogue=self.spark.createDataFrame(pd.DataFrame({"id": ids})))
        return (
            {r["item"]: [(e["id"], e["weight"]) for e in r["related"]] for r in lists.collect()},
            [(r["row"], r["kind"], r["message"]) for r in errors.collect()],
        )


class RayTest(EngineCase, unittest.TestCase):
    name = "ray"
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        import ray

        import cloister.ray

        cls.ray = ray
        cls.engine = cloister.ray
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"CLOISTER_LOAD_LOG": str(cls.load_log)}})
        ray.data.DataContext.get_current().enable_progress_bars = False

    @classmethod
    def tearDownClass(cls):
        cls.ray.shutdown()

    def dataset(self, rows, blocks=4):
        # Blocks from the start: a repartition would need a CPU while the actors hold both.
        frame = pd.DataFrame(rows)
        return self.ray.data.from_pandas([frame.iloc[i::blocks] for i in range(blocks)])

    def embed(self, catalogue, compact):
        return self.engine.embed(self.dataset(catalogue), "text", root=str(ROOT), workers=2, compact=compact).take_all()

    def decode(self, stored):
        return self.engine.decode(self.dataset(stored), root=str(ROOT)).take_all()

    def related(self, log, ids):
        lists, errors = self.engine.related(self.ray.data.from_pandas(pd.DataFrame(log)),
                                            catalogue=self.ray.data.from_pandas(pd.DataFrame({"id": ids})))
        return (
            {r["item"]: [(e["id"], e["weight"]) for e in r["related"]] for r in lists.take_all()},
            [(r["row"], r["kind"], r["message"]) for r in errors.take_all()],
        )

    def test_each_actor_loads_the_model_once(self):
        self.loads()
        self.embed(self.catalogue * 4, compact=True)
        pids = self.loads()
        self.assertEqual(len(pids), 2, "two actors, one load each")
        self.assertEqual(len(set(pids)), 2)


if __name__ == "__main__":
    unittest.main()
