"""The identify stage end to end on a tmp lakehouse: stable ids across runs, merges, splits,
erasure, decisions, idempotent re-runs and the keys of every gold table."""

from __future__ import annotations

import os
import sys
from datetime import datetime

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.config import AppConfig
from unification.identity import IdentityError, add_decision, run_identify
from unification.lakehouse import Lakehouse
from unification.schemas import IDENTITY_GRAPH

# Python workers (the cannot-link cut is a grouped pandas UDF) must run this interpreter.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

T0 = datetime(2024, 1, 1)

Cluster = list[str]  # source ids of one cluster, all of source "shop", entity "customers"


def rk(source_id: str) -> str:
    return f"shop:customers:{source_id}"


def _stage_input(
    spark: SparkSession,
    lh: Lakehouse,
    clusters: list[Cluster],
    pairs: list[tuple[str, str, float]] = (),  # type: ignore[assignment]
    run: str = "r",
) -> None:
    """Write person_records, record_clusters (labels change every run) and match_pairs."""
    ids = [sid for cluster in clusters for sid in cluster]
    records = spark.createDataFrame(
        [(rk(s), "shop", "customers", s, T0) for s in ids],
        "record_key string, source string, entity string, source_id string, updated_at timestamp",
    )
    labels = spark.createDataFrame(
        [(rk(s), f"{run}-{i}", len(c)) for i, c in enumerate(clusters) for s in c],
        "record_key string, cluster_id string, cluster_size long",
    )
    pair_rows = [(*sorted((rk(a), rk(b))), w, 1 / (1 + 2 ** (-w)), "splink") for a, b, w in pairs]
    match_pairs = spark.createDataFrame(
        pair_rows,
        "record_key_l string, record_key_r string, match_weight double, "
        "match_probability double, match_rule string",
    )
    for name, df in [
        ("person_records", records),
        ("record_clusters", labels),
        ("match_pairs", match_pairs),
    ]:
        lh.write(df, "silver", name, mode="overwrite", overwrite_schema=True)


def _ids(spark: SparkSession, lh: Lakehouse) -> dict[str, str]:
    return {
        r.source_id: r.customer_id
        for r in lh.read(spark, "gold", "identity_graph")
        .select("source_id", "customer_id")
        .collect()
    }


def _events(spark: SparkSession, lh: Lakehouse) -> list[tuple[str, str, str | None, str]]:
    return sorted(
        (r.event_type, r.customer_id, r.related_customer_id, r.run_id)
        for r in lh.read(spark, "gold", "customer_id_history").collect()
    )


def _assert_key_unique(df: DataFrame, *key: str) -> None:
    row = df.agg(
        F.count(F.lit(1)).alias("n"),
        F.countDistinct(*key).alias("distinct"),
        F.sum(F.when(F.coalesce(*[F.col(k).isNull() for k in key]), 1).otherwise(0)).alias("nulls"),
    ).first()
    assert row is not None
    assert row.n == row.distinct and not row.nulls, (key, row)


def _versions(spark: SparkSession, lh: Lakehouse) -> tuple[int | None, int | None]:
    return (
        lh.version(spark, "gold", "identity_graph"),
        lh.version(spark, "gold", "customer_id_history"),
    )


def test_requires_person_records(spark: SparkSession, app_config: AppConfig) -> None:
    with pytest.raises(IdentityError, match="person_records"):
        run_identify(spark, app_config, "r1")


def test_rerun_on_same_input_changes_nothing(
    spark: SparkSession, app_config: AppConfig, lakehouse: Lakehouse
) -> None:
    _stage_input(spark, lakehouse, [["1", "2"], ["3"], ["4", "5", "6"]], [("1", "2", 9.0)], "a")
    first = run_identify(spark, app_config, "r1")
    assert (first["ids_created"], first["customers"], first["records"]) == (3, 3, 6)
    assert first["graph_inserted"] == 6
    ids, versions = _ids(spark, lakehouse), _versions(spark, lakehouse)
    graph = lakehouse.read(spark, "gold", "identity_graph")
    assert graph.schema == IDENTITY_GRAPH  # exact contract, nullability included
    _assert_key_unique(graph, "record_key")
    _assert_key_unique(graph, "source", "entity", "source_id")
    _assert_key_unique(lakehouse.read(spark, "gold", "customer_id_history"), "event_id")
    assert {r.source_id: r.link_confidence for r in graph.collect()}["1"] == pytest.approx(
        1 / (1 + 2**-9)
    )

    _stage_input(spark, lakehouse, [["3"], ["6", "4", "5"], ["2", "1"]], [("1", "2", 9.0)], "b")
    second = run_identify(spark, app_config, "r2")
    assert _ids(spark, lakehouse) == ids
    assert _versions(spark, lakehouse) == versions  # no commit at all
    assert second["ids_unchanged"] == 3 and second["events"] == 0
    assert second["graph_inserted"] == second["graph_updated"] == second["graph_deleted"] == 0


def test_bridge_record_yields_one_merge_older_id_survives(
    spark: SparkSession, app_config: AppConfig, lakehouse: Lakehouse
) -> None:
    _stage_input(spark, lakehouse, [["b1", "b2", "b3"]], run="a")  # B: bigger, created first
    run_identify(spark, app_config, "r1")
    _stage_input(spark, lakehouse, [["b1", "b2", "b3"], ["a1", "a2"]], run="b")
    run_identify(spark, app_config, "r2")
    before = _ids(spark, lakehouse)
    older, younger = before["b1"], before["a1"]
    assert older != younger

    # x bridges the two customers into one cluster
    _stage_input(spark, lakehouse, [["a1", "x", "b2", "a2", "b1", "b3"]], run="c")
    result = run_identify(spark, app_config, "r3")
    after = _ids(spark, lakehouse)
    assert set(after.values()) == {older}
    merges = [e for e in _events(spark, lakehouse) if e[0] == "merged"]
    assert merges == [("merged", younger, older, "r3")]
    assert (result["ids_merged"], result["ids_created"], result["ids_split"]) == (1, 0, 0)
    _assert_key_unique(lakehouse.read(spark, "gold", "customer_id_history"), "event_id")

    # the run after the merge is a no-op
    versions = _versions(spark, lakehouse)
    run_identify(spark, app_config, "r4")
    assert _versions(spark, lakehouse) == versions and _ids(spark, lakehouse) == after


def test_split_then_erasure(
    spark: SparkSession, app_config: AppConfig, lakehouse: Lakehouse
) -> None:
    _stage_input(spark, lakehouse, [["1", "2", "3", "4"]], run="a")
    run_identify(spark, app_config, "r1")
    [cid] = set(_ids(spark, lakehouse).values())

    _stage_input(spark, lakehouse, [["4"], ["1", "2", "3"]], run="b")
    result = run_identify(spark, app_config, "r2")
    ids = _ids(spark, lakehouse)
    assert ids["1"] == ids["2"] == ids["3"] == cid  # the largest part keeps the id
    assert ids["4"] != cid
    assert ("split", ids["4"], cid, "r2") in _events(spark, lakehouse)
    assert (result["ids_split"], result["ids_continued"], result["graph_updated"]) == (1, 1, 1)

    # record 4 is erased: its row leaves the graph and its id is retired
    _stage_input(spark, lakehouse, [["1", "2", "3"]], run="c")
    result = run_identify(spark, app_config, "r3")
    assert set(_ids(spark, lakehouse)) == {"1", "2", "3"}
    assert ("retired", ids["4"], None, "r3") in _events(spark, lakehouse)
    assert (result["ids_retired"], result["graph_deleted"], result["ids_unchanged"]) == (1, 1, 1)


def test_decisions_cut_and_join_clusters(
    spark: SparkSession, app_config: AppConfig, lakehouse: Lakehouse
) -> None:
    # a - b strongly, b - x - d through a bridge record x, e alone
    clusters = [["a", "b", "x", "d"], ["e"]]
    pairs = [("a", "b", 12.0), ("b", "x", 6.0), ("x", "d", 2.0)]
    _stage_input(spark, lakehouse, clusters, pairs, run="a")
    run_identify(spark, app_config, "r1")
    [cid] = {v for k, v in _ids(spark, lakehouse).items() if k != "e"}

    add_decision(spark, app_config, "cannot_link", "shop:a", "shop:customers:d", reason="twins")
    add_decision(spark, app_config, "must-link", "shop:e", "shop:d", reason="same card")
    _stage_input(spark, lakehouse, clusters, pairs, run="b")
    result = run_identify(spark, app_config, "r2")
    ids = _ids(spark, lakehouse)
    assert ids["a"] == ids["b"] == ids["x"] == cid  # x - d was the weakest link
    assert ids["d"] == ids["e"] != cid
    assert result["records_cut_by_decision"] == 5  # the whole component a, b, x, d, e
    graph = {r.source_id: r for r in lakehouse.read(spark, "gold", "identity_graph").collect()}
    assert graph["d"].link_confidence == 1.0  # must-link

    # decisions survive re-runs: a new matching run with new labels keeps them applied
    _stage_input(spark, lakehouse, clusters, pairs, run="c")
    versions = _versions(spark, lakehouse)
    run_identify(spark, app_config, "r3")
    assert _ids(spark, lakehouse) == ids and _versions(spark, lakehouse) == versions
