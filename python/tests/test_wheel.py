"""The Python wheel against the CLI it shares its core with, and `related` against a reference.

Run by scripts/test.sh on the wheel build.sh made, installed in a fresh venv:
    CLOISTER_HOME=. python -m unittest discover -s python/tests -v
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

import cloister

ROOT = Path(os.environ.get("CLOISTER_HOME", ".")).resolve()
CLI = ROOT / "dist" / "cloister"
TEXTS = [
    "Waterproof trail running shoes with a rock plate",
    "A quiet mystery novel set in a lighthouse",
    "Cast-iron skillet, pre-seasoned, 26 cm",
    "An illustrated history of the Silk Road",
    "Noise-cancelling headphones for long flights",
    "Sourdough baking for beginners",
    "红色越野跑鞋",
    "Un roman policier dans un phare",
] * 3


def cli_lines(*args, texts):
    out = subprocess.run(
        [str(CLI), "embed", *args], input="\n".join(texts) + "\n", capture_output=True, text=True, check=True,
        env={**os.environ, "CLOISTER_HOME": str(ROOT)},
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


def reference_related(rows, keep, window):
    """The definition, written out plainly: per user in log order, count (p, c) when c comes at
    most `window` events after p; keep each c's `keep` most frequent predecessors (ties by first
    appearance of p in the log), weight count / all pairs that start at p."""
    seqs = defaultdict(list)
    order = {}
    for user, item, _ in rows:
        seqs[user].append(item)
        order.setdefault(item, len(order))
    counts = defaultdict(Counter)
    out_total = Counter()
    for seq in seqs.values():
        for k, p in enumerate(seq):
            for c in seq[k + 1 : k + 1 + window]:
                counts[c][p] += 1
                out_total[p] += 1
    return {
        c: [(p, n / out_total[p]) for p, n in sorted(ps.items(), key=lambda e: (-e[1], order[e[0]]))[:keep]]
        for c, ps in counts.items()
    }


def example_inputs(tmp):
    """The worked example's inputs: the demo catalogue plus an item without text, and a
    generated log in time order (each user browses one category; no two rows share a time) with
    one row naming an item outside the catalogue. Returns ({name: path}, log rows)."""
    import random

    catalogue = json.loads((ROOT / "www" / "catalogue.json").read_text())
    catalogue.append({"id": "blank", "title": "", "description": "", "category": "none"})
    by_category = defaultdict(list)
    for item in catalogue[:-1]:
        by_category[item["category"]].append(item["id"])
    categories = sorted(by_category)
    rng = random.Random(11)
    log = []
    for u in range(200):
        # 1001 and 60,000 are coprime: no two rows share a time.
        category, at = rng.choice(categories), 1_700_000_000_000 + u * 1001
        for _ in range(rng.randrange(2, 8)):
            log.append({"user": f"u{u}", "item": rng.choice(by_category[category]), "at": at})
            at += 60_000
    log.sort(key=lambda r: r["at"])  # a log in time order, users interleaved
    log.append({"user": "u0", "item": "not-in-the-catalogue", "at": 1_800_000_000_000})
    paths = {name: Path(tmp, name) for name in ("catalogue.json", "log.jsonl")}
    paths["catalogue.json"].write_text(json.dumps(catalogue))
    paths["log.jsonl"].write_text("".join(json.dumps(r) + "\n" for r in log))
    return paths, log


def run_example(script, catalogue, log, out, *extra):
    run = subprocess.run(
        [sys.executable, str(ROOT / "python" / "examples" / script), "--catalogue", str(catalogue),
         "--log", str(log), "--out", str(out), "--root", str(ROOT), *extra],
        capture_output=True, text=True)
    if run.returncode != 0:
        raise AssertionError(f"{script} {' '.join(extra)} failed ({run.returncode}):\n{run.stderr[-4000:]}")
    return run


class EncoderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.encoder = cloister.Encoder("english", root=ROOT)

    def test_embeddings_are_the_clis_and_unit_float32(self):
        vectors = self.encoder.embed(TEXTS)
        self.assertEqual(vectors.shape, (len(TEXTS), 384))
        self.assertEqual(vectors.dtype, np.float32)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        cli = np.array(cli_lines(texts=TEXTS), dtype=np.float32)
        # One core, one kernel, the same micro-batches: the same floats.
        self.assertLessEqual(float(np.abs(vectors - cli).max()), 1e-6)
        self.assertEqual(self.encoder.embed([]).shape, (0, 384))
        self.assertEqual(self.encoder.model_name, "all-MiniLM-L6-v2")
        self.assertRegex(self.encoder.model_sha256, "^[0-9a-f]{64}$")

    def test_compact_embeddings_are_the_clis_and_a_row_without_text_is_an_error_in_place(self):
        rows = self.encoder.embed_compact(TEXTS[:4] + ["  "] + TEXTS[4:8])
        self.assertEqual(rows[4], {"error": {"kind": "invalid_item", "message": "a catalogue row needs text"}})
        good = rows[:4] + rows[5:]
        self.assertEqual(good, cli_lines("--compact", texts=TEXTS[:8]))
        self.assertTrue(all(len(r["embedding"]) == 520 and r["model"] == self.encoder.model_sha256 for r in good))
        with self.assertRaisesRegex(ValueError, "^invalid_item: row 1 has no text"):
            self.encoder.embed(["fine", ""])

    def test_the_gil_is_released_while_encoding(self):
        ticks = 0
        done = threading.Event()

        def count():
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                time.sleep(0.001)

        counter = threading.Thread(target=count)
        counter.start()
        started = time.perf_counter()
        before = ticks
        self.encoder.embed(TEXTS * 4)
        elapsed = time.perf_counter() - started
        during = ticks - before
        done.set()
        counter.join()
        # Holding the GIL, the counter could not run while `embed` did (a tick or two at most).
        self.assertGreater(elapsed, 0.1)
        self.assertGreater(during, 20, f"{during} ticks in {elapsed:.2f} s")

    def test_a_model_file_that_does_not_match_its_pin_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            models = Path(tmp, "models")
            shutil.copytree(ROOT / "models" / "all-MiniLM-L6-v2", models / "all-MiniLM-L6-v2",
                            ignore=shutil.ignore_patterns("*.safetensors", "onnx"))
            shutil.copy(ROOT / "models" / "manifest.json", models / "manifest.json")
            model = models / "all-MiniLM-L6-v2" / "model.int8.bpk"
            data = bytearray(model.read_bytes())
            data[len(data) // 2] ^= 0xFF
            model.write_bytes(bytes(data))
            with self.assertRaisesRegex(ValueError, "^integrity: .*does not match the pin"):
                cloister.Encoder("english", root=tmp)
        with self.assertRaisesRegex(OSError, "nonexistent"):
            cloister.Encoder("/nonexistent/model.int8.bpk", root=ROOT)
        with self.assertRaisesRegex(ValueError, "^invalid_option"):
            cloister.Encoder("english", root=ROOT, precision="int4")

    def test_threads_are_set_once_per_process(self):
        script = (
            "import cloister\n"
            f"cloister.Encoder('english', root={str(ROOT)!r}, threads=1)\n"
            f"cloister.Encoder('english', root={str(ROOT)!r}, threads=1)\n"
            "try:\n"
            f"    cloister.Encoder('english', root={str(ROOT)!r}, threads=2)\n"
            "except ValueError as e:\n"
            "    print(e)\n"
        )
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        self.assertIn("already runs the encoder on 1 threads", out.stdout)


class FitPriorTest(unittest.TestCase):
    def test_the_prior_is_the_clis_byte_for_byte_and_bad_lines_are_reported(self):
        topics = [
            ("A generation ship drifts between stars", "space"),
            ("Slow Sunday sauces from an Italian kitchen", "cook"),
            ("Trail running high in the Alps", "boots"),
        ]
        candidates = [
            {"id": "space", "text": "A space opera of rival empires", "server_score": 1.0},
            {"id": "cook", "text": "An Italian cookbook of slow sauces", "server_score": 2.0},
            {"id": "boots", "text": "Waterproof leather hiking boots", "server_score": 3.0},
            {"id": "other", "text": "A guide to office chairs", "server_score": 4.0},
        ]
        at = 1_700_000_000_000
        lines = [
            {"user": u % 4, "history": [{"item": {"id": "h", "text": hist}, "kind": "purchase", "at": at}],
             "candidates": candidates, "target": target}
            for u, (hist, target) in enumerate(topics * 4)
        ]
        text = [json.dumps(line) for line in lines] + ["not json"]
        encoder = cloister.Encoder("english", root=ROOT)
        for meta in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp, "prior.json")
                subprocess.run([str(CLI), "fit-prior", *(["--meta"] if meta else []), "--out", str(out)],
                               input="\n".join(text) + "\n", capture_output=True, text=True, check=True,
                               env={**os.environ, "CLOISTER_HOME": str(ROOT)})
                prior, report = cloister.fit_prior(encoder, lines + ["not json"], meta=meta)
                self.assertEqual(prior, out.read_text())
            self.assertEqual((report.lists, report.users, report.skipped), (12, 4, 0))
            self.assertEqual([(n, kind) for n, kind, _ in report.errors], [(13, "invalid_json")])
        with self.assertRaisesRegex(ValueError, "^invalid_input: no usable training lines"):
            cloister.fit_prior(encoder, ["garbage"])


class RelatedTest(unittest.TestCase):
    def test_related_lists_match_the_reference_on_a_generated_log(self):
        import random

        rng = random.Random(7)
        rows = []
        for u in range(300):
            t = 1_700_000_000_000 + u
            # Users drift through 40 items, mostly to a neighbour: transitions with structure.
            item = rng.randrange(40)
            for _ in range(rng.randrange(2, 12)):
                rows.append((f"u{u}", f"i{item}", t))
                t += rng.randrange(0, 3) * 60_000
                item = (item + rng.choice([1, 1, 2, -1, 7])) % 40
        rng.shuffle(rows)
        rows.sort(key=lambda r: r[2])  # a log in time order, users interleaved
        users, items, times = map(list, zip(*rows))
        for keep, window in [(128, 3), (2, 1), (5, 4)]:
            lists, errors = cloister.related(users, items, times, keep=keep, window=window)
            self.assertEqual(errors, [])
            want = reference_related(rows, keep, window)
            self.assertEqual(sorted(lists), sorted(want))
            for item, entries in want.items():
                got = lists[item]
                self.assertEqual([p for p, _ in got], [p for p, _ in entries], item)
                for (_, w), (_, v) in zip(got, entries):
                    self.assertAlmostEqual(w, v, places=6)

    def test_bad_rows_are_reported_and_left_out(self):
        users = ["a", "a", "b", "a", "c", "b"]
        items = ["x", "y", "x", "z", "", "nope"]
        times = [1, 2, 3, 0, 4, 5]
        lists, errors = cloister.related(users, items, times, catalogue=["x", "y", "z"])
        self.assertEqual([(row, kind) for row, kind, _ in errors], [(3, "invalid_time"), (4, "invalid_item"), (5, "unknown_item")])
        self.assertEqual(lists, {"y": [("x", 1.0)]})
        with self.assertRaisesRegex(ValueError, "^invalid_input"):
            cloister.related(["a"], ["x", "y"], [1])


class SiteSideExampleTest(unittest.TestCase):
    """python/examples/site_side.py, the worked example of docs/server.md, run for real."""

    def test_catalogue_and_log_to_candidates_the_ranker_takes(self):
        import base64
        import struct

        with tempfile.TemporaryDirectory() as tmp:
            paths, log = example_inputs(Path(tmp))
            paths["candidates.jsonl"] = Path(tmp, "candidates.jsonl")
            run = run_example("site_side.py", paths["catalogue.json"], paths["log.jsonl"], paths["candidates.jsonl"])
            candidates = [json.loads(line) for line in paths["candidates.jsonl"].read_text().splitlines()]
            catalogue = json.loads(paths["catalogue.json"].read_text())
        self.assertIn("catalogue item blank: invalid_item", run.stderr)
        self.assertIn(f"log row {len(log) - 1}: unknown_item", run.stderr)
        self.assertEqual(len(candidates), len(catalogue) - 1)
        self.assertGreater(sum(1 for c in candidates if c["related"]), 100)

        # The compact form against the float vectors: cosine >= 0.999 for every item.
        encoder = cloister.Encoder("english", root=ROOT)
        floats = encoder.embed([c["text"] for c in candidates])
        for c, f in zip(candidates, floats):
            raw = base64.b64decode(c["embedding"])
            values = np.frombuffer(raw[:384], dtype=np.int8).astype(np.float32) * struct.unpack("<f", raw[384:])[0]
            cosine = float(values @ f / np.linalg.norm(values))
            self.assertGreaterEqual(cosine, 0.999, c["id"])

        # And the ranker takes them as sent: no item is encoded again or has its embedding refused.
        history = [{"item": {"id": candidates[0]["id"], "text": candidates[0]["text"]}, "kind": "purchase", "at": 1_700_000_000_000}]
        request = {"id": 1, "history": history, "candidates": candidates[:100]}
        out = subprocess.run([str(CLI), "rerank"], input=json.dumps(request) + "\n", capture_output=True, text=True,
                             check=True, env={**os.environ, "CLOISTER_HOME": str(ROOT)})
        ranked = json.loads(out.stdout)
        self.assertEqual(len(ranked["items"]), 100)
        self.assertFalse(any(item.get("notes") for item in ranked["items"]), ranked["items"][0])


if __name__ == "__main__":
    unittest.main()
