"""Incremental-run state: which version of an input table a stage last consumed.

``ops.watermarks``
    **Grain**: one row per (consumer, input table). **Key**: (``consumer``, ``source_table``).
    ``version`` is the Delta version of ``source_table`` the consumer last processed completely;
    ``fingerprint`` hashes the settings the consumer ran with (a changed fingerprint forces a
    full recompute, because earlier results were computed differently).

A stage advances its watermark *after* its own table writes commit. A run that dies in between
leaves the old watermark, so the next run recomputes the same delta; the writes are MERGEs keyed
on the business keys, so doing that twice gives the same tables (idempotent).

Examples:
    ```py
    mark = get_watermark(spark, lh, "match", "silver.person_records")
    if mark is None or mark.fingerprint != fp:
        ...  # full run
    set_watermarks(spark, lh, "match", {"silver.person_records": version}, fp, run_id)
    ```
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification.lakehouse import Lakehouse, Layer

WATERMARKS_TABLE = "watermarks"
WATERMARKS_SCHEMA = T.StructType(
    [
        T.StructField("consumer", T.StringType(), False),
        T.StructField("source_table", T.StringType(), False),
        T.StructField("version", T.LongType(), False),
        T.StructField("fingerprint", T.StringType(), True),
        T.StructField("run_id", T.StringType(), True),
        T.StructField("updated_at", T.TimestampType(), False),
    ]
)


@dataclass(frozen=True)
class Watermark:
    """The input version a consumer last processed, and the settings fingerprint it used."""

    version: int
    fingerprint: str | None


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable settings (pydantic models are dumped)."""
    norm = [p.model_dump(mode="json") if hasattr(p, "model_dump") else p for p in parts]
    blob = json.dumps(norm, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def get_watermark(
    spark: SparkSession, lh: Lakehouse, consumer: str, source_table: str
) -> Watermark | None:
    """The consumer's watermark on ``source_table`` (``layer.table``), None when there is none."""
    table = lh.read_or_none(spark, "ops", WATERMARKS_TABLE)
    if table is None:
        return None
    row = (
        table.where((F.col("consumer") == consumer) & (F.col("source_table") == source_table))
        .select("version", "fingerprint")
        .first()
    )
    return Watermark(int(row["version"]), row["fingerprint"]) if row else None


def set_watermarks(
    spark: SparkSession,
    lh: Lakehouse,
    consumer: str,
    versions: dict[str, int],
    fingerprint_: str | None,
    run_id: str,
) -> None:
    """Upsert the consumer's watermarks, ``{source_table: version}``, in one Delta MERGE."""
    if not versions:
        return
    now = datetime.now(timezone.utc)
    rows = spark.createDataFrame(
        [(consumer, t, int(v), fingerprint_, run_id, now) for t, v in sorted(versions.items())],
        WATERMARKS_SCHEMA,
    )
    lh.merge(rows, "ops", WATERMARKS_TABLE, on=["consumer", "source_table"], run_id=run_id)


def read_version(
    spark: SparkSession, lh: Lakehouse, layer: Layer, table: str, version: int
) -> DataFrame:
    """A table as it was at Delta ``version`` (time travel)."""
    reader = spark.read.format("delta").option("versionAsOf", int(version))
    if lh.is_local:
        return reader.load(lh.path(layer, table))
    return reader.table(lh.name(layer, table))
