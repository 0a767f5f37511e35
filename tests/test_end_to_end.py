"""End to end: generate a small data set, run the whole pipeline twice, run the notebooks.

Deliberately few and slow: one pipeline run shared by every test of this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from unification.config import AppConfig, load_config
from unification.lakehouse import Lakehouse
from unification.pipeline import STAGE_NAMES, run_pipeline

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

N_PERSONS = 300


@pytest.fixture(scope="module")
def e2e(
    _spark_session: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    from unification.synthetic import generate

    root = tmp_path_factory.mktemp("e2e")
    summary = generate(root / "data", n_persons=N_PERSONS, seed=11)
    conf = root / "e2e.yml"
    conf.write_text(
        f"extends: {REPO / 'conf' / 'demo.yml'}\n"
        f"sources_dir: {REPO / 'conf' / 'sources'}\n"
        f"models_dir: {REPO / 'conf' / 'models'}\n"
        f"data_root: {root / 'data'}\n"
        f"lakehouse:\n  root: {root / 'lakehouse'}\n"
        f"run:\n  report_dir: {root / 'reports'}\n"
        f"  truth_path: {root / 'data' / '_truth' / 'person_map.parquet'}\n",
        encoding="utf-8",
    )
    cfg = load_config(conf)
    first = run_pipeline(_spark_session, cfg)
    yield {"cfg": cfg, "summary": summary, "first": first, "conf": conf, "root": root}


def _lh(e2e: dict[str, Any]) -> Lakehouse:
    return Lakehouse(e2e["cfg"].lakehouse)


def test_every_stage_succeeded(e2e: dict[str, Any], spark: SparkSession) -> None:
    assert [r.stage for r in e2e["first"]] == list(STAGE_NAMES)
    log = _lh(e2e).read(spark, "ops", "run_log")
    assert log.where(F.col("status") != "succeeded").count() == 0


def test_bronze_counts_reconcile_with_generated_files(
    e2e: dict[str, Any], spark: SparkSession
) -> None:
    batches = _lh(e2e).read(spark, "bronze", "_batches").where(F.col("status") == "succeeded")
    row = batches.agg(
        F.sum("rows_read").alias("read"),
        F.sum("rows_accepted").alias("acc"),
        F.sum("rows_quarantined").alias("quar"),
    ).first()
    assert row is not None
    assert row["read"] == row["acc"] + row["quar"]
    generated = e2e["summary"].n_source_records
    assert row["read"] == generated


def test_gold_keys_are_unique_and_not_null(e2e: dict[str, Any], spark: SparkSession) -> None:
    keys = {
        "identity_graph": ["record_key"],
        "golden_profiles": ["customer_id"],
        "orders": ["order_key"],
        "interactions": ["event_key"],
        "customer_features": ["customer_id", "as_of"],
    }
    lh = _lh(e2e)
    for table, cols in keys.items():
        df = lh.read(spark, "gold", table)
        nulls = df.where(" OR ".join(f"`{c}` IS NULL" for c in cols)).count()
        dupes = df.groupBy(*cols).count().where("count > 1").count()
        assert (nulls, dupes) == (0, 0), table


def test_second_run_changes_nothing(e2e: dict[str, Any], spark: SparkSession) -> None:
    lh = _lh(e2e)
    cfg: AppConfig = e2e["cfg"]
    ids_before = lh.read(spark, "gold", "identity_graph").select("record_key", "customer_id")
    ids_before = {r[0]: r[1] for r in ids_before.collect()}
    versions = {
        (layer, t): lh.version(spark, layer, t)
        for layer, t in [
            ("bronze", "_quarantine"),
            ("gold", "golden_profiles"),
            ("gold", "identity_graph"),
            ("gold", "customer_id_history"),
        ]
    }
    bronze_rows = lh.read(spark, "bronze", "_batches").count()
    profiles_before = lh.read(spark, "gold", "golden_profiles").drop("_run_id").collect()

    run_pipeline(spark, cfg)

    ids_after = {
        r[0]: r[1]
        for r in lh.read(spark, "gold", "identity_graph")
        .select("record_key", "customer_id")
        .collect()
    }
    assert ids_after == ids_before
    assert lh.read(spark, "bronze", "_batches").count() == bronze_rows
    profiles_after = lh.read(spark, "gold", "golden_profiles").drop("_run_id").collect()
    assert sorted(map(tuple, profiles_after), key=str) == sorted(
        map(tuple, profiles_before), key=str
    )
    # the golden profile table's change feed shows no change
    gp = lh.delta_table(spark, "gold", "golden_profiles").history()
    new_commits = gp.where(F.col("version") > versions[("gold", "golden_profiles")])
    changed = new_commits.select(
        F.coalesce(F.col("operationMetrics.numTargetRowsUpdated").cast("long"), F.lit(0))
        + F.coalesce(F.col("operationMetrics.numTargetRowsInserted").cast("long"), F.lit(0))
        + F.coalesce(F.col("operationMetrics.numTargetRowsDeleted").cast("long"), F.lit(0))
    ).collect()
    assert sum(r[0] for r in changed) == 0


def test_matching_quality_on_small_data(e2e: dict[str, Any], spark: SparkSession) -> None:
    from unification.matching import evaluate

    cfg: AppConfig = e2e["cfg"]
    assert cfg.run.truth_path
    metrics = evaluate(spark, cfg, cfg.run.truth_path, "e2e-eval")
    assert metrics["pairwise_precision"] >= 0.95


def test_report_written(e2e: dict[str, Any]) -> None:
    report = Path(e2e["cfg"].run.report_dir) / "latest.html"
    text = report.read_text(encoding="utf-8")
    assert "Match diagnostics" in text and "<img" in text


# --------------------------------------------------------------------------- notebooks
class _Widgets:
    def __init__(self, values: dict[str, str]) -> None:
        from unification.notebook import LocalWidgets

        self.widgets = LocalWidgets(values)


def _run_notebook(path: Path, spark: SparkSession, widgets: dict[str, str]) -> dict[str, Any]:
    """Execute a Databricks source-format notebook locally, cell by cell."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Databricks notebook source")
    cells = re.split(r"^# COMMAND -+\s*$", text, flags=re.MULTILINE)
    shown: list[Any] = []
    namespace: dict[str, Any] = {
        "spark": spark,
        "dbutils": _Widgets(widgets),
        "display": lambda obj, *a, **k: shown.append(
            obj.limit(5).collect() if hasattr(obj, "limit") else obj
        ),
        "displayHTML": lambda html: shown.append(html),
    }
    for cell in cells:
        code = "\n".join(line for line in cell.splitlines() if not line.startswith("# MAGIC"))
        exec(compile(code, str(path), "exec"), namespace)  # noqa: S102
    namespace["_shown"] = shown
    return namespace


@pytest.mark.parametrize(
    "notebook",
    sorted(p.name for p in (REPO / "notebooks").glob("*.py") if not p.name.startswith("01_")),
)
def test_notebook_runs(notebook: str, e2e: dict[str, Any], spark: SparkSession) -> None:
    lh = _lh(e2e)
    any_customer = lh.read(spark, "gold", "golden_profiles").select("customer_id").first()
    assert any_customer is not None
    widgets = {
        "conf": str(e2e["conf"]),
        "lakehouse": "",
        "catalog": "",
        "schema_suffix": "",
        "customer_id": any_customer[0],
    }
    ns = _run_notebook(REPO / "notebooks" / notebook, spark, widgets)
    assert ns["_shown"], f"{notebook} displayed nothing"


def test_setup_notebook_runs_one_stage(e2e: dict[str, Any], spark: SparkSession) -> None:
    widgets = {
        "conf": str(e2e["conf"]),
        "lakehouse": "",
        "catalog": "",
        "schema_suffix": "",
        "stages": "report",
    }
    ns = _run_notebook(REPO / "notebooks" / "01_setup_and_run.py", spark, widgets)
    assert ns["results"][0].stage == "report"
