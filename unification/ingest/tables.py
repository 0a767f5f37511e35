"""The bookkeeping tables of the bronze layer and the idempotent writes of ingestion.

Tables (layer ``bronze``):

* ``<source>_<entity>``: grain one row per accepted delivered row; key
  (``_batch_id``, ``_row_number``). Contract columns typed as declared, extra delivered columns
  as strings, then :data:`unification.schemas.BRONZE_META_COLUMNS`. Append-only.
* ``_quarantine``: grain one row per rejected row; key (``source``, ``entity``, ``batch_id``,
  ``row_number``). Columns: :data:`QUARANTINE_SCHEMA`.
* ``_batches``: grain one row per delivered file content of an entity; key (``source``,
  ``entity``, ``batch_id``). Columns: :data:`BATCHES_SCHEMA`.

Each write appends all rows of its batches in one Delta commit, after checking which of those
batches the table already holds (:func:`append_new_batches`): writing the same batch again
inserts nothing, so a crash between the bronze / quarantine writes and the ``_batches`` record
(written last) is repaired by re-running. Runs must not overlap on one lakehouse (the pipeline's
run lock serialises them).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification.lakehouse import Lakehouse, Layer

logger = logging.getLogger(__name__)

LAYER: Layer = "bronze"
QUARANTINE_TABLE = "_quarantine"
BATCHES_TABLE = "_batches"

BRONZE_KEY: tuple[str, ...] = ("_batch_id", "_row_number")
QUARANTINE_KEY: tuple[str, ...] = ("source", "entity", "batch_id", "row_number")
BATCHES_KEY: tuple[str, ...] = ("source", "entity", "batch_id")

#: ``bronze._quarantine``: one row per rejected row.
QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("source", T.StringType(), False),
        T.StructField("entity", T.StringType(), False),
        T.StructField("batch_id", T.StringType(), False),  # sha256 of the file
        T.StructField("source_file", T.StringType(), False),
        T.StructField("row_number", T.LongType(), False),  # 1-based data record of the file
        T.StructField("raw", T.StringType(), True),  # raw line / record, or the row as JSON
        T.StructField("reason", T.StringType(), False),  # human-readable, specific
        T.StructField("reason_kind", T.StringType(), False),  # malformed | missing_value | ...
        T.StructField("run_id", T.StringType(), False),
        T.StructField("quarantined_at", T.TimestampType(), False),
    ]
)

#: ``bronze._batches``: one row per (source, entity, file content).
BATCHES_SCHEMA = T.StructType(
    [
        T.StructField("source", T.StringType(), False),
        T.StructField("entity", T.StringType(), False),
        T.StructField("batch_id", T.StringType(), False),  # sha256 of the file content
        T.StructField("source_file", T.StringType(), False),  # first path it was seen under
        T.StructField("checksum", T.StringType(), False),  # "sha256:<hex>"
        T.StructField("bytes", T.LongType(), False),
        T.StructField("rows_read", T.LongType(), True),  # null when the file was never parsed
        T.StructField("rows_accepted", T.LongType(), False),
        T.StructField("rows_quarantined", T.LongType(), False),
        T.StructField("status", T.StringType(), False),  # succeeded | rejected
        T.StructField("reason", T.StringType(), True),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("ingested_at", T.TimestampType(), False),
    ]
)


def bronze_table(source: str, entity: str) -> str:
    """Name of the bronze table of an entity inside the ``bronze`` layer."""
    return f"{source}_{entity}"


def load_known_batches(
    spark: SparkSession, lakehouse: Lakehouse
) -> dict[tuple[str, str, str], str]:
    """Status of every batch recorded in ``bronze._batches``, keyed by (source, entity, batch)."""
    df = lakehouse.read_or_none(spark, LAYER, BATCHES_TABLE)
    if df is None:
        return {}
    rows = df.select("source", "entity", "batch_id", "status").collect()
    return {(r.source, r.entity, r.batch_id): r.status for r in rows}


def _align(df: DataFrame, target: T.StructType) -> DataFrame:
    """Order ``df`` like the target; target columns it lacks become typed nulls, new ones last."""
    have = {f.name.lower(): f.name for f in df.schema.fields}
    names = {f.name.lower() for f in target}
    ordered = [
        F.col(f"`{have[f.name.lower()]}`").alias(f.name)
        if f.name.lower() in have
        else F.lit(None).cast(f.dataType).alias(f.name)
        for f in target
    ]
    extra = [F.col(f"`{f.name}`") for f in df.schema.fields if f.name.lower() not in names]
    return df.select(*ordered, *extra)


def append_new_batches(
    lakehouse: Lakehouse,
    df: DataFrame,
    table: str,
    *,
    batch_column: str,
    batch_ids: Sequence[str],
    run_id: str,
    scope: dict[str, str] | None = None,
    evolve_schema: bool = False,
) -> list[str]:
    """Append the rows of the batches of ``df`` that the table does not hold yet (one commit).

    Every write of this module commits all rows of its batches at once, so a batch id found in
    the table means the whole batch is there (written by an earlier run that stopped before
    recording it in ``_batches``): its rows are skipped. The look-up reads only the batch
    column, pruned by Delta / Parquet statistics.

    Args:
        lakehouse: where the table lives (layer ``bronze``).
        df: the rows.
        table: table name.
        batch_column: the column holding the batch id.
        batch_ids: the batches in ``df``.
        run_id: recorded as the commit's ``userMetadata``.
        scope: equality filters that, with the batch id, identify a batch in a shared table
            (``{"source": ..., "entity": ...}`` for the quarantine).
        evolve_schema: add new columns of ``df`` to the table (Delta ``mergeSchema``).

    Returns:
        The batch ids that were already in the table (not written again).
    """
    spark = df.sparkSession
    present: list[str] = []
    if lakehouse.exists(spark, LAYER, table):
        current = lakehouse.read(spark, LAYER, table)
        cond = F.col(batch_column).isin(list(batch_ids))
        for column, value in (scope or {}).items():
            cond = cond & (F.col(column) == F.lit(value))
        found = current.filter(cond).select(batch_column).distinct().collect()
        present = sorted(r[0] for r in found)
        if present:
            logger.warning(
                "%s: batch(es) %s already written by an interrupted run; not written again",
                table,
                present,
            )
            if len(present) == len(set(batch_ids)):
                return present
            df = df.filter(~F.col(batch_column).isin(present))
        df = _align(df, current.schema)
    lakehouse.write(df, LAYER, table, mode="append", run_id=run_id, merge_schema=evolve_schema)
    return present


def ensure_empty_table(lakehouse: Lakehouse, df: DataFrame, table: str, run_id: str) -> None:
    """Create ``table`` with ``df``'s schema and no rows if it does not exist."""
    if not lakehouse.exists(df.sparkSession, LAYER, table):
        lakehouse.write(df.limit(0), LAYER, table, mode="append", run_id=run_id)


def batch_record(
    source: str,
    entity: str,
    batch_id: str,
    path: str,
    size: int,
    rows_read: int | None,
    rows_accepted: int,
    rows_quarantined: int,
    succeeded: bool,
    reason: str | None,
    run_id: str,
    ingested_at: datetime,
) -> tuple[object, ...]:
    """One ``_batches`` record in :data:`BATCHES_SCHEMA` order."""
    return (
        source,
        entity,
        batch_id,
        path,
        f"sha256:{batch_id}",
        size,
        rows_read,
        rows_accepted if succeeded else 0,
        rows_quarantined if succeeded else 0,
        "succeeded" if succeeded else "rejected",
        reason,
        run_id,
        ingested_at,
    )


def record_batches(
    spark: SparkSession,
    lakehouse: Lakehouse,
    rows: Sequence[tuple[object, ...]],
    known: dict[tuple[str, str, str], str],
    run_id: str,
) -> None:
    """Record batches in ``_batches`` (one commit, or two when retried batches now succeed).

    Batches not in ``known`` are appended. A batch that ``known`` lists as rejected and that now
    succeeded is updated with a MERGE keyed on (source, entity, batch_id); a batch rejected again
    keeps its first record.

    Args:
        spark: the session.
        lakehouse: the lakehouse.
        rows: records in :data:`BATCHES_SCHEMA` order.
        known: status of the batches already recorded, keyed by (source, entity, batch_id).
        run_id: recorded as the commits' ``userMetadata``.
    """

    def key(r: tuple[object, ...]) -> tuple[str, str, str]:
        return (str(r[0]), str(r[1]), str(r[2]))

    new = [r for r in rows if key(r) not in known]
    retried = [r for r in rows if known.get(key(r)) == "rejected" and r[9] == "succeeded"]
    if new:
        df = spark.createDataFrame(list(new), BATCHES_SCHEMA)
        lakehouse.write(df, LAYER, BATCHES_TABLE, mode="append", run_id=run_id)
    if retried:
        lakehouse.merge(
            spark.createDataFrame(list(retried), BATCHES_SCHEMA),
            LAYER,
            BATCHES_TABLE,
            on=list(BATCHES_KEY),
            update_condition="t.status = 'rejected'",
            run_id=run_id,
        )
