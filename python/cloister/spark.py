"""Cloister on Spark: embeddings through `predict_batch_udf` (one model load per Python worker)
and the `related` lists as a Spark job (window functions and group-bys; nothing loops over the
interactions on the driver). Requires `pyspark` (4.x); see docs/server.md.

- ``embed_udf(model="english", compact=False, ...)``: the pandas UDF; it returns a struct of
  ``embedding`` (float32 array; NaN where the row has no text), ``model``, ``error_kind``,
  ``error_message``.
- ``embed(df, column="text", ...)``: ``df`` with those four columns, ``embedding`` null on a row
  with an error.
- ``decode(df, column="embedding", model_column="model", ...)``: stored compact embeddings back
  to float32 vectors, with the per-row errors.
- ``related(log, ...)``: ``(lists, errors)``: one row per item with its ``related`` list
  (``array<struct<id, weight>>``, most frequent predecessor first), and one row per bad log row
  ``(row, kind, message)``: the single-process ``cloister.related``, row for row.
"""

from pyspark.ml.functions import predict_batch_udf
from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, FloatType, StringType, StructField, StructType

from . import _rows

_ERROR_FIELDS = [StructField("error_kind", StringType()), StructField("error_message", StringType())]


def embed_udf(model="english", *, root=None, threads=1, batch_size=32, compact=False):
    """The encoder as a `predict_batch_udf` over a string column: Spark calls the factory once
    per Python worker, so each worker loads the model once and keeps it."""
    embedding = StringType() if compact else ArrayType(FloatType())
    schema = StructType([StructField("embedding", embedding), StructField("model", StringType()), *_ERROR_FIELDS])

    def make_predict():
        encoder = _rows.load_encoder(model, root, threads)

        def predict(texts):
            return _rows.embed_columns(encoder, list(texts), compact)

        return predict

    return predict_batch_udf(make_predict, return_type=schema, batch_size=batch_size)


def embed(df, column="text", *, model="english", root=None, threads=1, batch_size=32, compact=False):
    """`df` with `embedding` (null where the row has an error), `model`, `error_kind` and
    `error_message` added."""
    udf = embed_udf(model, root=root, threads=threads, batch_size=batch_size, compact=compact)
    # A null text reaches the model as an empty one and is reported there.
    out = df.withColumn("_cloister", udf(F.coalesce(F.col(column).cast("string"), F.lit(""))))
    fields = {name: F.col("_cloister." + name) for name in _rows.EMBED_COLUMNS}
    fields["embedding"] = F.when(F.col("_cloister.error_kind").isNull(), fields["embedding"])
    return out.select("*", *[c.alias(n) for n, c in fields.items()]).drop("_cloister")


def decode(df, column="embedding", *, model_column="model", model="english", root=None, batch_size=256):
    """`df` with `vector` (the unit float32 vector a stored compact embedding carries, pinned to
    `model`; null where it cannot be read), `error_kind` and `error_message` added."""
    schema = StructType([StructField("vector", ArrayType(FloatType())), *_ERROR_FIELDS])

    def make_predict():
        encoder = _rows.load_encoder(model, root, None)

        def predict(embeddings, models):
            return _rows.decode_columns(encoder, list(embeddings), list(models))

        return predict

    udf = predict_batch_udf(make_predict, return_type=schema, batch_size=batch_size)
    text = F.coalesce(F.col(column).cast("string"), F.lit(""))
    models = F.coalesce(F.col(model_column).cast("string"), F.lit(""))
    out = df.withColumn("_cloister", udf(text, models))
    vector = F.when(F.col("_cloister.error_kind").isNull(), F.col("_cloister.vector"))
    return out.select(
        "*",
        vector.alias("vector"),
        F.col("_cloister.error_kind").alias("error_kind"),
        F.col("_cloister.error_message").alias("error_message"),
    ).drop("_cloister")


def related(log, *, user="user", item="item", at="at", row="row", keep=128, window=3, catalogue=None):
    """The `related` lists of an interaction log: for each item, its `keep` most frequent
    predecessors within `window` events of one user, weight P(item follows that one).

    `log` has a user, an item, a time (ms since the epoch) and the row's position in the log
    (`row`: a user's rows count in that order, and a row whose time goes back is an error, as in
    the single-process count). With `row=None` there is no log order: each user's rows count in
    time order (ties by item id), and the errors' `row` is null. `catalogue`, if given, is a DataFrame with an `id` column; rows
    naming other items are errors. Returns `(lists, errors)` DataFrames:
    `lists(item, related: array<struct<id: string, weight: float>>)` and
    `errors(row, kind, message)`."""
    rows = log.select(
        (F.col(row) if row else F.lit(None)).cast("long").alias("row"),
        (F.col(row) if row else F.col(at)).cast("long").alias("_order"),
        F.coalesce(F.col(user).cast("string"), F.lit("")).alias("user"),
        F.coalesce(F.col(item).cast("string"), F.lit("")).alias("item"),
        F.col(at).cast("long").alias("at"),
    )
    if catalogue is not None:
        known = catalogue.select(F.col("id").cast("string").alias("item")).distinct().withColumn("_known", F.lit(True))
        rows = rows.join(known, "item", "left")
    else:
        rows = rows.withColumn("_known", F.lit(True))

    def error(kind_message, *args):
        kind, message = kind_message
        return F.struct(F.lit(kind).alias("kind"), (F.format_string(message, *args) if args else F.lit(message)).alias("message"))

    # The core's checks, in its order; the first that fails names the row's error.
    checked = rows.withColumn(
        "_error",
        F.when((F.col("user") == "") | (F.col("item") == ""), error(_rows.NO_USER_OR_ITEM))
        .when(F.col("at").isNull(), error(_rows.NO_TIME))
        .when(F.col("at") < 0, error(_rows.BEFORE_1970, F.col("at")))
        .when(F.col("_known").isNull(), error(_rows.NOT_IN_CATALOGUE, F.col("item"))),
    )
    valid = checked.where(F.col("_error").isNull())
    # A row that goes back in time: the latest earlier time of its user's valid rows (every row
    # the core accepted; one it refused for order is earlier than that latest time anyway).
    earlier = Window.partitionBy("user").orderBy("_order", "item").rowsBetween(Window.unboundedPreceding, -1)
    valid = valid.withColumn("_latest", F.max("at").over(earlier))
    late = valid.where(F.col("at") < F.col("_latest"))
    accepted = valid.where(F.col("_latest").isNull() | (F.col("at") >= F.col("_latest")))

    errors = (
        checked.where(F.col("_error").isNotNull())
        .select("row", F.col("_error.kind").alias("kind"), F.col("_error.message").alias("message"))
        .unionByName(
            late.select(
                "row",
                F.lit(_rows.OUT_OF_ORDER[0]).alias("kind"),
                F.format_string(_rows.OUT_OF_ORDER[1], F.col("user"), F.col("at"), F.col("_latest")).alias("message"),
            )
        )
    )

    # (p, c) when c comes at most `window` accepted rows after p in one user's sequence.
    sequence = Window.partitionBy("user").orderBy("_order", "item")
    pairs = (
        accepted.select(
            F.col("item").alias("c"),
            F.array(*[F.lag("item", d).over(sequence) for d in range(1, window + 1)]).alias("_before"),
        )
        .select("c", F.explode("_before").alias("p"))
        .where(F.col("p").isNotNull())
    )
    counts = pairs.groupBy("c", "p").agg(F.count(F.lit(1)).alias("n"))
    totals = pairs.groupBy("p").agg(F.count(F.lit(1)).alias("total"))
    firsts = accepted.groupBy(F.col("item").alias("p")).agg(F.min("_order").alias("first"))
    ranked = (
        counts.join(totals, "p").join(firsts, "p")
        .withColumn("_rank", F.row_number().over(Window.partitionBy("c").orderBy(F.desc("n"), F.asc("first"), F.asc("p"))))
        .where(F.col("_rank") <= keep)
        # float32 division, as the core's: both counts are exact in float32 below 2^24.
        .withColumn("weight", F.col("n").cast("float") / F.col("total").cast("float"))
    )
    lists = ranked.groupBy(F.col("c").alias("item")).agg(
        F.transform(
            F.sort_array(F.collect_list(F.struct("_rank", "p", "weight"))),
            lambda e: F.struct(e["p"].alias("id"), e["weight"].cast("float").alias("weight")),
        ).alias("related")
    )
    return lists, errors


__all__ = ["decode", "embed", "embed_udf", "related"]
