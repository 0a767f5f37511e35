"""Train, match and evaluate end to end on a small inline population (Splink on Spark)."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from unification.config import AppConfig
from unification.errors import GuardrailError
from unification.lakehouse import Lakehouse
from unification.matching import evaluate, run_match, train_model
from unification.matching.predict import ModelNotTrainedError
from unification.schemas import MATCH_PAIRS_CORE, RECORD_CLUSTERS

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

pytestmark = pytest.mark.slow

FIRST = ["jean", "marie", "pierre", "sophie", "luc", "claire", "paul", "julie", "marc", "anne",
         "louis", "emma", "hugo", "lea", "noah", "chloe", "jules", "ines", "tom", "lina"]  # fmt: skip
LAST = ["martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand",
        "leroy", "moreau", "simon", "laurent", "lefebvre", "michel", "garcia", "david"]  # fmt: skip
CITIES = [("PARIS", "75011"), ("LYON", "69003"), ("NANTES", "44000"), ("LILLE", "59000")]


def _typo(s: str, rng: random.Random) -> str:
    i = rng.randrange(len(s) - 1)
    return s[:i] + s[i + 1] + s[i] + s[i + 2 :]


def _population(n: int = 70, seed: int = 7) -> tuple[list[dict], list[tuple[str, str, str]]]:
    rng = random.Random(seed)
    people = []
    for i in range(n):
        city, pc = CITIES[rng.randrange(len(CITIES))]
        fn, ln = FIRST[rng.randrange(len(FIRST))], LAST[rng.randrange(len(LAST))]
        people.append(
            {
                "pid": f"P{i}",
                "first_name": fn,
                "last_name": ln,
                "birth_date": dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(18000)),
                "email": f"{fn}.{ln}{i}@mail.fr",
                "address_line1": f"{rng.randrange(1, 99)} RUE {LAST[rng.randrange(len(LAST))].upper()}",
                "city": city,
                "postal_code": pc,
            }
        )
    # a household: same family name and address, two different people
    people[1].update(last_name=people[0]["last_name"], address_line1=people[0]["address_line1"],
                     city=people[0]["city"], postal_code=people[0]["postal_code"])  # fmt: skip
    if people[1]["first_name"] == people[0]["first_name"]:
        people[1]["first_name"] = "zoe"
    # homonyms: same first and last name in the same city
    people[3].update(first_name=people[2]["first_name"], last_name=people[2]["last_name"],
                     city=people[2]["city"], postal_code=people[2]["postal_code"])  # fmt: skip

    records, truth = [], []
    for p in people:
        copies = [("shop", True)]
        if rng.random() < 0.8:
            copies.append(("crm", False))
        if rng.random() < 0.3:
            copies.append(("shop", False))
        for k, (source, clean) in enumerate(copies):
            r = {key: p[key] for key in ("first_name", "last_name", "birth_date", "email",
                                         "address_line1", "city", "postal_code")}  # fmt: skip
            if not clean:
                if rng.random() < 0.5:
                    r["last_name"] = _typo(r["last_name"], rng)
                if rng.random() < 0.3:
                    r["birth_date"] = None
                if rng.random() < 0.3:
                    r["email"] = None
            sid = f"{p['pid']}-{k}"
            records.append({"source": source, "entity": "people", "source_id": sid, **r})
            truth.append((source, sid, p["pid"]))
    return records, truth


def _config(app_config: AppConfig) -> AppConfig:
    cfg = app_config.model_copy(deep=True)
    cfg.matching.training.u_max_pairs = 2e4
    cfg.matching.engine = "spark"  # the distributed path (the DuckDB engine: test_match_engines)
    return cfg


def _rows(spark: SparkSession, lh: Lakehouse, table: str) -> list[tuple]:
    return sorted(map(tuple, lh.read(spark, "silver", table).drop("_run_id").collect()), key=str)


def test_train_match_evaluate(
    spark: SparkSession,
    app_config: AppConfig,
    tmp_path: Path,
    write_person_records: Callable[[SparkSession, Lakehouse, list[dict]], None],
) -> None:
    cfg = _config(app_config)
    lh = Lakehouse(cfg.lakehouse)
    records, truth = _population()
    write_person_records(spark, lh, records)

    with pytest.raises(ModelNotTrainedError, match="unify train"):
        run_match(spark, cfg, "m0")

    summary = train_model(spark, cfg, "t1")
    model_file = Path(cfg.models_dir) / "splink_model.json"
    summary_file = Path(cfg.models_dir) / "training_summary.json"
    assert model_file.is_file() and summary_file.is_file()
    assert json.loads(model_file.read_text())["unique_id_column_name"] == "record_key"
    detail = json.loads(summary_file.read_text())
    # no phone in this data: the mobile comparison is skipped, the rest is trained
    assert any("mobile" in s for s in detail["skipped_comparisons"])
    assert detail["untrained_comparisons"] == []
    assert summary["records"] == len(records)

    metrics = run_match(spark, cfg, "m1")
    assert metrics["records"] == len(records)

    pairs = lh.read(spark, "silver", "match_pairs")
    assert set(f.name for f in MATCH_PAIRS_CORE.fields) <= set(pairs.columns)
    assert any(c.startswith("gamma_") for c in pairs.columns)
    assert any(c.startswith("bf_") for c in pairs.columns)
    keys = pairs.agg(
        F.count("*").alias("n"),
        F.countDistinct("record_key_l", "record_key_r").alias("d"),
        F.sum((F.col("record_key_l") >= F.col("record_key_r")).cast("int")).alias("unordered"),
        F.sum((F.col("record_key_l").isNull() | F.col("record_key_r").isNull()).cast("int")).alias(
            "nulls"
        ),
    ).first()
    assert keys.n == keys.d and keys.n > 0 and not keys.unordered and not keys.nulls

    clusters = lh.read(spark, "silver", "record_clusters")
    assert [f.name for f in clusters.schema.fields] == [f.name for f in RECORD_CLUSTERS.fields]
    ck = clusters.agg(F.count("*").alias("n"), F.countDistinct("record_key").alias("d")).first()
    assert ck.n == ck.d == len(records)  # every record, singletons included

    truth_file = tmp_path / "truth.parquet"
    spark.createDataFrame(
        truth, "source string, source_id string, person_id string"
    ).toPandas().to_parquet(truth_file)
    result = evaluate(spark, cfg, str(truth_file), "e1")
    assert result["pairwise_precision"] >= 0.95
    assert result["pairwise_f1"] >= 0.85
    assert result["b3_f1"] >= 0.9

    by_key = {r.record_key: r.cluster_id for r in clusters.collect()}
    household = {by_key["shop:people:P0-0"], by_key["shop:people:P1-0"]}
    homonyms = {by_key["shop:people:P2-0"], by_key["shop:people:P3-0"]}
    assert len(household) == 2 and len(homonyms) == 2

    # re-running on the same input changes nothing
    before = (_rows(spark, lh, "match_pairs"), _rows(spark, lh, "record_clusters"))
    run_match(spark, cfg, "m2")
    after = (_rows(spark, lh, "match_pairs"), _rows(spark, lh, "record_clusters"))
    assert before == after
    assert {r._run_id for r in lh.read(spark, "silver", "record_clusters").collect()} == {"m1"}

    # the guardrail stops predict before it runs
    cfg.matching.max_comparisons_per_rule = 10
    with pytest.raises(GuardrailError, match="max_comparisons_per_rule"):
        run_match(spark, cfg, "m3")
