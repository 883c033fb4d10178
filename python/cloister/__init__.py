"""Cloister's site-side companion, on the same Rust core as the CLI and the browser package.

- ``Encoder(model="english", threads=None)``: ``embed(texts)`` gives unit vectors as a numpy
  ``float32 [n, 384]`` array (the vectors the browser package makes, on the native int8 kernel,
  with the GIL released); ``embed_compact(texts)`` gives per text what a candidate carries to be
  ranked without encoding on the device: ``{"embedding": <520 base64 characters>, "model":
  <sha256>}``, or ``{"error": {"kind", "message"}}`` for a row without text.
- ``Encoder.decode_compact(embeddings, models)``: stored compact embeddings back to float32
  ``[n, 384]`` for this encoder's model (NaN rows) and ``[(row, kind, message), ...]``.
- ``related(users, items, times, keep=128, window=3, catalogue=None)``: the ``related`` lists of an
  interaction log, ``({item: [(predecessor, weight), ...]}, [(row, kind, message), ...])``.
- ``fit_prior(encoder, lines, meta=False)``: the prior ``cloister fit-prior`` writes, from training
  lines (JSON text or dicts: ``{"user"?, "history", "candidates", "target"}``), as
  ``(PRIOR.json text, FitReport)``; bad lines are in ``FitReport.errors``.

``cloister.ray`` and ``cloister.spark`` (imported on their own, with ``ray`` or ``pyspark``
installed) run the encoder and the ``related`` count as Ray Data and Spark jobs.

Model files are looked up under ``root`` (default ``$CLOISTER_HOME``, else the working
directory), where ``build.sh`` puts ``models/``, and checked against their sha256 pins.
"""

import json

from ._native import EMBEDDING_DIM, Encoder, FitReport, related
from ._native import fit_prior as _fit_prior

__all__ = ["EMBEDDING_DIM", "Encoder", "FitReport", "fit_prior", "related"]


def fit_prior(encoder, lines, meta=False):
    """The prior ``cloister fit-prior`` writes (its PRIOR.json text, byte for byte) and a
    ``FitReport``; ``lines`` are JSON text or dicts."""
    text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    return _fit_prior(encoder, text, meta=meta)
