"""Shared fixtures: one session-scoped SparkSession (local[2], 2 shuffle partitions, UI off)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from unification.config import AppConfig, LakehouseConfig, SparkConfig
from unification.lakehouse import Lakehouse

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def _spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    from unification.spark import configure_builder

    os.environ["SPARK_TESTING"] = "1"
    warehouse = tmp_path_factory.mktemp("warehouse")
    cfg = SparkConfig(
        master="local[2]",
        app_name="unification-tests",
        driver_memory="3g",
        shuffle_partitions=2,
        conf={
            "spark.sql.warehouse.dir": str(warehouse),
            "spark.sql.adaptive.enabled": "false",
            "spark.default.parallelism": "2",
            "spark.databricks.delta.snapshotPartitions": "1",
        },
    )
    spark = configure_builder(SparkSession.builder, cfg).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(str(tmp_path_factory.mktemp("checkpoints")))
    yield spark
    spark.stop()


@pytest.fixture
def spark(_spark_session: SparkSession) -> SparkSession:
    """The shared session, with cache and temp views reset for each test."""
    _spark_session.catalog.clearCache()
    for table in _spark_session.catalog.listTables():
        if table.isTemporary:
            _spark_session.catalog.dropTempView(table.name)
    return _spark_session


@pytest.fixture
def lakehouse_cfg(tmp_path: Path) -> LakehouseConfig:
    """A fresh, empty local lakehouse under the test's tmp folder."""
    return LakehouseConfig(root=str(tmp_path / "lakehouse"))


@pytest.fixture
def lakehouse(lakehouse_cfg: LakehouseConfig) -> Lakehouse:
    return Lakehouse(lakehouse_cfg)


@pytest.fixture
def app_config(tmp_path: Path, lakehouse_cfg: LakehouseConfig) -> AppConfig:
    """A minimal AppConfig (no sources) pointing at tmp folders; tests add what they need."""
    return AppConfig(
        config_path=str(tmp_path / "test.yml"),
        data_root=str(tmp_path / "data"),
        sources_dir=str(tmp_path / "sources"),
        models_dir=str(tmp_path / "models"),
        lakehouse=lakehouse_cfg,
    )


def _write_person_records(spark: SparkSession, lh: Lakehouse, records: list[dict]) -> None:
    from unification.schemas import PERSON_RECORDS

    rows = []
    for r in records:
        row = {f.name: None for f in PERSON_RECORDS.fields}
        row.update(r)
        row["record_key"] = f"{r['source']}:{r['entity']}:{r['source_id']}"
        row["country"] = "FR"
        rows.append(tuple(row[f.name] for f in PERSON_RECORDS.fields))
    lh.write(
        spark.createDataFrame(rows, PERSON_RECORDS), "silver", "person_records", mode="overwrite"
    )


@pytest.fixture
def write_person_records() -> Callable[[SparkSession, Lakehouse, list[dict]], None]:
    """``(spark, lakehouse, records)``: overwrite ``silver.person_records`` with ``records``
    (dicts of canonical fields plus ``source``, ``entity``, ``source_id``; country FR)."""
    return _write_person_records
