"""Cloister on Ray Data: embeddings through `map_batches` with an actor class (one model load
per actor) and the `related` lists as a Ray Data job (group-bys and joins; nothing loops over
the interactions on the driver). Requires `ray[data]` (2.x); see docs/server.md.

- ``embed(ds, column="text", workers=1, compact=False, ...)``: ``ds`` with ``embedding``
  (``list<float32>``, or the compact string; null on a row with an error), ``model``,
  ``error_kind``, ``error_message``.
- ``decode(ds, column="embedding", model_column="model", ...)``: stored compact embeddings back
  to float32 vectors, with the per-row errors.
- ``related(log, ...)``: ``(lists, errors)``: one row per item with its ``related`` list
  (``[{"id", "weight"}]``, most frequent predecessor first), and one row per bad log row
  ``(row, kind, message)``: the single-process ``cloister.related``, row for row.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import ray.data
from ray.data.expressions import col

from . import _rows
from ._native import EMBEDDING_DIM


def _vectors(matrix, errors):
    """A float32 [n, 384] matrix as an Arrow list column, null where a row has an error."""
    n = matrix.shape[0]
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * EMBEDDING_DIM)
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1)), mask=pa.array(errors))


class _Embedder:
    """A Ray actor: loads the model once, then embeds every batch it is given."""

    def __init__(self, model, root, threads, column, compact):
        self.encoder = _rows.load_encoder(model, root, threads)
        self.column = column
        self.compact = compact

    def __call__(self, batch: pa.Table) -> pa.Table:
        out = _rows.embed_columns(self.encoder, batch.column(self.column).to_pylist(), self.compact)
        errors = np.array([k is not None for k in out["error_kind"]])
        embedding = pa.array(out["embedding"], pa.string()) if self.compact else _vectors(out["embedding"], errors)
        for name in _rows.EMBED_COLUMNS:
            if name in batch.column_names:
                batch = batch.drop_columns([name])
        return batch.append_column("embedding", embedding).append_column(
            "model", pa.array(out["model"], pa.string())
        ).append_column("error_kind", pa.array(out["error_kind"], pa.string())).append_column(
            "error_message", pa.array(out["error_message"], pa.string())
        )


class _Decoder:
    def __init__(self, model, root, column, model_column):
        self.encoder = _rows.load_encoder(model, root, None)
        self.column = column
        self.model_column = model_column

    def __call__(self, batch: pa.Table) -> pa.Table:
        out = _rows.decode_columns(
            self.encoder, batch.column(self.column).to_pylist(), batch.column(self.model_column).to_pylist()
        )
        errors = np.array([k is not None for k in out["error_kind"]])
        return batch.append_column("vector", _vectors(out["vector"], errors)).append_column(
            "error_kind", pa.array(out["error_kind"], pa.string())
        ).append_column("error_message", pa.array(out["error_message"], pa.string()))


def embed(ds, column="text", *, model="english", root=None, threads=1, workers=1, batch_size=32, compact=False):
    """`ds` with `embedding`, `model`, `error_kind` and `error_message`, from `workers` actors of
    `threads` CPUs each, every one loading the model once."""
    return ds.map_batches(
        _Embedder,
        fn_constructor_kwargs={"model": model, "root": root, "threads": threads, "column": column, "compact": compact},
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=threads,
    )


def decode(ds, column="embedding", *, model_column="model", model="english", root=None, workers=1, batch_size=256):
    """`ds` with `vector` (the unit float32 vector a stored compact embedding carries, pinned to
    `model`; null where it cannot be read), `error_kind` and `error_message`."""
    return ds.map_batches(
        _Decoder,
        fn_constructor_kwargs={"model": model, "root": root, "column": column, "model_column": model_column},
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=workers),
    )


def _columns(batch, user, item, at, row):
    """The log's columns under Cloister's names, with empty strings for null users and items;
    `order` is the row's position, or its time when the log has none (then `row` is null)."""
    times = batch[at].astype("Int64")
    return pd.DataFrame({
        "row": batch[row].astype("Int64") if row else pd.array([pd.NA] * len(batch), dtype="Int64"),
        "order": batch[row].astype("Int64") if row else times,
        "user": batch[user].fillna("").astype(str),
        "item": batch[item].fillna("").astype(str),
        "at": times,
    })


def _bucket(keys, buckets):
    """A stable bucket per key (the same on every worker): one `map_groups` call per bucket
    instead of one per user or item; Ray's per-group call made the job 92 s on 200,000 rows."""
    return (pd.util.hash_pandas_object(keys, index=False).to_numpy() % np.uint64(buckets)).astype(np.int64)


def _user_sequences(rows, window):
    """The rows of some users (one bucket): their errors, the pairs (p, c) of each user's
    accepted sequence, and each item's first accepted position; one table, told apart by
    `part`. Each user's rows count in log order, as in the single-process count."""
    rows = rows.sort_values(["user", "order", "item"], kind="stable", na_position="first")
    user, item, known = rows["user"].to_numpy(), rows["item"].to_numpy(), rows["_known"].to_numpy(dtype=bool)
    at = rows["at"]
    times = at.to_numpy(dtype="int64", na_value=-1)
    # The core's checks, in its order: each applies where the ones before it passed.
    no_user_or_item = (user == "") | (item == "")
    no_time = ~no_user_or_item & at.isna().to_numpy()
    before_1970 = ~no_user_or_item & ~no_time & (times < 0)
    unknown = ~no_user_or_item & ~no_time & ~before_1970 & ~known
    valid = np.flatnonzero(~(no_user_or_item | no_time | before_1970 | unknown))
    # A valid row whose time goes back from the latest accepted one of its user is an error;
    # the latest accepted time is the running maximum of the valid rows before it.
    latest = pd.Series(times[valid]).groupby(user[valid], sort=False).cummax()
    latest = latest.groupby(user[valid], sort=False).shift(1).to_numpy()
    out_of_order = ~np.isnan(latest) & (times[valid] < latest)
    accepted = valid[~out_of_order]
    kind = np.full(len(rows), None, dtype=object)
    message = np.full(len(rows), None, dtype=object)
    kind[no_user_or_item], message[no_user_or_item] = _rows.NO_USER_OR_ITEM
    kind[no_time], message[no_time] = _rows.NO_TIME
    for i in np.flatnonzero(before_1970):
        kind[i], message[i] = _rows.BEFORE_1970[0], _rows.BEFORE_1970[1] % times[i]
    for i in np.flatnonzero(unknown):
        kind[i], message[i] = _rows.NOT_IN_CATALOGUE[0], _rows.NOT_IN_CATALOGUE[1] % item[i]
    for i, previous in zip(valid[out_of_order], latest[out_of_order]):
        kind[i], message[i] = _rows.OUT_OF_ORDER[0], _rows.OUT_OF_ORDER[1] % (user[i], times[i], int(previous))
    bad = np.flatnonzero(kind != None)  # noqa: E711 (an object array's elementwise test)
    row, order = rows["row"].to_numpy(), rows["order"].to_numpy()
    seq, owner = item[accepted], user[accepted]
    pairs_c, pairs_p = [], []
    for d in range(1, window + 1):
        same = owner[d:] == owner[:-d] if len(seq) > d else np.zeros(0, dtype=bool)
        pairs_c.append(seq[d:][same])
        pairs_p.append(seq[:-d][same])
    pairs_c, pairs_p = np.concatenate(pairs_c), np.concatenate(pairs_p)
    first = pd.DataFrame({"c": seq, "row": order[accepted]}).groupby("c", sort=False)["row"].min()
    parts = [
        pd.DataFrame({"part": "error", "row": row[bad], "kind": kind[bad], "message": message[bad], "c": None, "p": None}),
        pd.DataFrame({"part": "pair", "row": pd.NA, "kind": None, "message": None, "c": pairs_c, "p": pairs_p}),
        pd.DataFrame({"part": "first", "row": first.to_numpy(), "kind": None, "message": None, "c": first.index.to_numpy(), "p": None}),
    ]
    out = pd.concat([p for p in parts if len(p)], ignore_index=True)
    if out.empty:
        out = pd.DataFrame({"part": [], "row": [], "kind": [], "message": [], "c": [], "p": []})
    return out.astype({"part": object, "row": "Int64", "kind": object, "message": object, "c": object, "p": object})


def _tops(group, keep):
    """The `related` lists of the items of one bucket."""
    items, lists = [], []
    for c, g in group.groupby("c", sort=False):
        items.append(c)
        lists.append(_rows.top_predecessors(
            g["p"].to_numpy(), g["n"].to_numpy(), g["total"].to_numpy(), g["first"].to_numpy(), keep
        ))
    return pd.DataFrame({"item": items, "related": lists})


def related(log, *, user="user", item="item", at="at", row="row", keep=128, window=3, catalogue=None, partitions=4):
    """The `related` lists of an interaction log: for each item, its `keep` most frequent
    predecessors within `window` events of one user, weight P(item follows that one).

    `log` has a user, an item, a time (ms since the epoch) and the row's position in the log
    (`row`: a user's rows count in that order, and a row whose time goes back is an error, as in
    the single-process count). With `row=None` there is no log order: each user's rows count in
    time order (ties by item id), and the errors' `row` is null. `catalogue`, if given, is a Dataset with an `id` column; rows
    naming other items are errors. `partitions`: of each shuffle. Returns `(lists, errors)`
    Datasets: `lists(item, related: [{"id", "weight"}])` and `errors(row, kind, message)`."""
    rows = log.map_batches(
        _columns, fn_kwargs={"user": user, "item": item, "at": at, "row": row}, batch_format="pandas"
    )
    if catalogue is not None:
        # One row per catalogue id, whatever the catalogue repeats.
        known = catalogue.groupby("id", num_partitions=partitions).count().map_batches(
            lambda b: pd.DataFrame({"item": b["id"].astype(str), "_known": True}), batch_format="pandas"
        )
        rows = rows.join(known, "left_outer", partitions, on=("item",)).map_batches(
            lambda b: b.assign(_known=b["_known"].fillna(False).astype(bool)), batch_format="pandas"
        )
    else:
        rows = rows.map_batches(lambda b: b.assign(_known=True), batch_format="pandas")
    parts = rows.map_batches(
        lambda b: b.assign(_bucket=_bucket(b["user"], partitions)), batch_format="pandas"
    ).groupby("_bucket", num_partitions=partitions).map_groups(
        _user_sequences, fn_kwargs={"window": window}, batch_format="pandas"
    ).materialize()

    errors = parts.filter(expr=col("part") == "error").select_columns(["row", "kind", "message"])
    pairs = parts.filter(expr=col("part") == "pair").select_columns(["c", "p"])
    counts = pairs.groupby(["c", "p"], num_partitions=partitions).count().rename_columns({"count()": "n"})
    totals = pairs.groupby("p", num_partitions=partitions).count().rename_columns({"count()": "total"})
    firsts = (
        parts.filter(expr=col("part") == "first")
        .groupby("c", num_partitions=partitions)
        .min("row")
        .rename_columns({"c": "p", "min(row)": "first"})
    )
    joined = counts.join(totals, "inner", partitions, on=("p",)).join(firsts, "inner", partitions, on=("p",))
    lists = joined.map_batches(
        lambda b: b.assign(_bucket=_bucket(b["c"], partitions)), batch_format="pandas"
    ).groupby("_bucket", num_partitions=partitions).map_groups(_tops, fn_kwargs={"keep": keep}, batch_format="pandas")
    return lists, errors


__all__ = ["decode", "embed", "related"]
