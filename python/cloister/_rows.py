"""What the Ray and Spark adapters share: the encoder per worker, a batch of texts to output
columns, and the log checks' kinds and messages (the core's `related_lists`, word for word), so
that both engines report a bad row exactly as the single-process `cloister.related` does."""

import os

import numpy as np

from ._native import EMBEDDING_DIM, Encoder

# The core's messages (crate/src/related.rs), as %-formats: Python's `%` and Spark's
# format_string (Java's String.format) read them alike.
NO_USER_OR_ITEM = ("invalid_item", "a row needs a user and an item")
BEFORE_1970 = ("invalid_time", "time %d is before 1970")
NOT_IN_CATALOGUE = ("unknown_item", "item '%s' is not in the catalogue")
OUT_OF_ORDER = ("invalid_time", "user '%s': time %d comes after %d in the log (a user's rows must be in time order)")
# A distributed log may hold a null time, which the core's typed input cannot.
NO_TIME = ("invalid_time", "a row needs a time")
NO_TEXT = ("invalid_item", "a catalogue row needs text")

EMBED_COLUMNS = ("embedding", "model", "error_kind", "error_message")


def load_encoder(model, root, threads):
    """One model load, in the worker that will use it. With $CLOISTER_LOAD_LOG set, each load
    appends its process id there: how the tests count loads per worker."""
    encoder = Encoder(model, root=root, threads=threads)
    log = os.environ.get("CLOISTER_LOAD_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
    return encoder


def embed_columns(encoder, texts, compact):
    """A batch of texts as columns: `embedding` (float32 [n, 384], NaN rows where a text is
    missing; or the compact strings, None there), `model` (the sha256 it is pinned to, None
    there), `error_kind` and `error_message` (None where the row was embedded)."""
    texts = ["" if t is None else str(t) for t in texts]
    n = len(texts)
    good = [i for i, t in enumerate(texts) if t.strip()]
    model = np.full(n, None, dtype=object)
    kind = np.full(n, NO_TEXT[0], dtype=object)
    message = np.full(n, NO_TEXT[1], dtype=object)
    model[good] = encoder.model_sha256
    kind[good] = None
    message[good] = None
    if compact:
        embedding = np.full(n, None, dtype=object)
        if good:
            rows = encoder.embed_compact([texts[i] for i in good])
            embedding[good] = [r["embedding"] for r in rows]
    else:
        embedding = np.full((n, EMBEDDING_DIM), np.nan, dtype=np.float32)
        if good:
            embedding[good] = encoder.embed([texts[i] for i in good])
    return {"embedding": embedding, "model": model, "error_kind": kind, "error_message": message}


def decode_columns(encoder, embeddings, models):
    """Stored compact embeddings back to float32 [n, 384] (NaN where a row cannot be read) with
    `error_kind` and `error_message` columns."""
    embeddings = [None if e is None else str(e) for e in embeddings]
    models = [None if m is None else str(m) for m in models]
    vectors, errors = encoder.decode_compact(embeddings, models)
    kind = np.full(len(embeddings), None, dtype=object)
    message = np.full(len(embeddings), None, dtype=object)
    for row, k, m in errors:
        kind[row] = k
        message[row] = m
    return {"vector": vectors, "error_kind": kind, "error_message": message}


def top_predecessors(predecessors, counts, totals, firsts, keep):
    """One item's `related` list from its predecessors' pair counts: the `keep` most frequent
    (ties by the predecessor's first appearance in the log, then by its id), weight = count / all pairs that
    start at the predecessor, in float32 as the core computes it."""
    order = np.lexsort((np.asarray(predecessors, dtype=str), np.asarray(firsts), -np.asarray(counts)))[:keep]
    weights = np.asarray(counts, dtype=np.float32)[order] / np.asarray(totals, dtype=np.float32)[order]
    return [{"id": str(predecessors[i]), "weight": float(w)} for i, w in zip(order, weights)]
