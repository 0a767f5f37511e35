from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql import SparkSession

from unification.config import AppConfig
from unification.lakehouse import Lakehouse
from unification.publish.report import run_report
from unification.runlog import append_run_log


def test_report_is_self_contained_and_pii_free(
    spark: SparkSession, app_config: AppConfig, lakehouse: Lakehouse, tmp_path: Path
) -> None:
    app_config.run.report_dir = str(tmp_path / "reports")
    now = dt.datetime(2026, 1, 1)
    append_run_log(
        spark,
        lakehouse,
        [
            ("r1", "ingest", "succeeded", now, now, 1.5, '{"rows": 3}', None),
            ("r1", "report", "running", now, now, 0.0, None, None),  # this stage, still open
        ],
    )
    people = spark.createDataFrame(
        [("ecommerce:customers:1", "ecommerce", "jean.dupont@example.com", "+33612345678")],
        "record_key string, source string, email string, phone string",
    )
    for col in ("mobile", "postal_code", "birth_date"):
        people = people.withColumn(col, people.email.cast("string").substr(0, 0))
    for col in ("email_valid", "phone_valid", "birth_date_valid", "address_valid"):
        people = people.withColumn(col, people.email.isNotNull())
    lakehouse.write(people, "silver", "person_records")
    pairs = spark.createDataFrame(
        [("ecommerce:customers:1", "stores:loyalty_members:9", 12.5, 0.999, "splink")],
        "record_key_l string, record_key_r string, match_weight double, match_probability double, match_rule string",
    )
    lakehouse.write(pairs, "silver", "match_pairs")

    result = run_report(spark, app_config, "r1")

    text = Path(result["report"]).read_text()
    assert (tmp_path / "reports" / "latest.html").exists()
    assert "<img" in text and "data:image/png;base64," in text  # charts embedded
    assert "http://" not in text and "https://" not in text  # nothing fetched
    assert "jean.dupont" not in text and "+33612345678" not in text  # no PII
    assert "no customer features yet" in text  # missing stages are said, not fatal
    assert "ingest" in text
    assert "writing this report" in text and ">running<" not in text
