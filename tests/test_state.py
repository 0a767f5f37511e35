"""ops.watermarks: one row per (consumer, source_table), upserted in place."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from unification.lakehouse import Lakehouse
from unification.state import get_watermark, set_watermarks


def test_watermarks_upsert_and_key_is_unique(spark: SparkSession, lakehouse: Lakehouse) -> None:
    assert get_watermark(spark, lakehouse, "match", "silver.person_records") is None
    set_watermarks(spark, lakehouse, "standardise", {"bronze.a": 1, "bronze.b": 2}, "fp1", "r1")
    set_watermarks(spark, lakehouse, "standardise", {"bronze.a": 3}, "fp2", "r2")
    mark = get_watermark(spark, lakehouse, "standardise", "bronze.a")
    assert mark is not None and (mark.version, mark.fingerprint) == (3, "fp2")
    table = lakehouse.read(spark, "ops", "watermarks")
    keys = table.groupBy("consumer", "source_table").count()
    assert keys.count() == 2 and keys.where(F.col("count") > 1).count() == 0
    assert table.where(F.col("consumer").isNull() | F.col("source_table").isNull()).count() == 0
