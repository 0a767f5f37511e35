from __future__ import annotations

import subprocess
import sys

from pyspark.sql import SparkSession

from unification.lakehouse import Lakehouse


def test_import_creates_no_session() -> None:
    code = (
        "import unification, unification.config, unification.lakehouse, unification.spark\n"
        "from pyspark.sql import SparkSession\n"
        "assert SparkSession.getActiveSession() is None\n"
        "from pyspark import SparkContext\n"
        "assert SparkContext._active_spark_context is None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_delta_roundtrip_and_idempotent_txn(spark: SparkSession, lakehouse: Lakehouse) -> None:
    df = spark.createDataFrame([(1, "a"), (2, "b")], "id int, v string")
    lakehouse.write(df, "bronze", "t", txn=("app", 1), run_id="r1")
    lakehouse.write(df, "bronze", "t", txn=("app", 1), run_id="r1")  # same txn: skipped
    assert lakehouse.read(spark, "bronze", "t").count() == 2
    assert lakehouse.history_of_run(spark, "bronze", "t", "r1")


def test_merge_upserts(spark: SparkSession, lakehouse: Lakehouse) -> None:
    lakehouse.merge(spark.createDataFrame([(1, "a")], "id int, v string"), "gold", "m", on=["id"])
    lakehouse.merge(
        spark.createDataFrame([(1, "z"), (2, "b")], "id int, v string"), "gold", "m", on=["id"]
    )
    rows = sorted(tuple(r) for r in lakehouse.read(spark, "gold", "m").collect())
    assert rows == [(1, "z"), (2, "b")]
