"""Clusters from links: connected components, then vetoes.

1. Links are scored pairs at or above ``matching.match_threshold`` plus deterministic pairs,
   minus pairs that a veto rule forbids (two different first names, two distant birth dates).
2. Connected components are computed with Splink's ``cluster_pairwise_predictions_at_threshold``
   on Spark.
3. Transitivity can still join two records that a veto forbids (``Jean Dupont`` - a nameless
   record with the family e-mail - ``Marie Dupont``). Every cluster holding such a conflict is
   re-clustered on the driver: links are added strongest first and a link is skipped when it
   would put two conflicting records together. Only conflicting clusters (small, few) are
   collected.

Output: ``record_key``, ``cluster_id`` (smallest ``record_key`` of the cluster),
``cluster_size`` for every record.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from unification.matching.settings import VetoRule

logger = logging.getLogger(__name__)


def veto_expression(rules: Sequence[VetoRule]) -> Column | None:
    """``array`` of the names of the veto rules a joined ``l``/``r`` row breaks (or None)."""
    if not rules:
        return None
    names = [F.when(F.expr(r.condition), F.lit(r.name)) for r in rules]
    return F.filter(F.array(*names), lambda x: x.isNotNull())


def apply_vetoes(pairs: DataFrame, records: DataFrame, rules: Sequence[VetoRule]) -> DataFrame:
    """Add ``veto`` (rule names joined by ``+``, null when none) to ``pairs``."""
    expr = veto_expression(rules)
    if expr is None:
        return pairs.withColumn("veto", F.lit(None).cast("string"))
    left, right = records.alias("l"), records.alias("r")
    flagged = (
        pairs.select("record_key_l", "record_key_r")
        .join(left, F.col("record_key_l") == F.col("l.record_key"))
        .join(right, F.col("record_key_r") == F.col("r.record_key"))
        .select(
            "record_key_l",
            "record_key_r",
            F.nullif(F.array_join(expr, "+"), F.lit("")).alias("veto"),
        )
    )
    return pairs.join(flagged, ["record_key_l", "record_key_r"], "left")


def _components(nodes: DataFrame, edges: DataFrame, db_api: Any) -> DataFrame:
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    cc = cluster_pairwise_predictions_at_threshold(
        nodes.select("record_key"),
        edges.select("record_key_l", "record_key_r", F.lit(1.0).alias("match_probability")),
        db_api=db_api,
        node_id_column_name="record_key",
        edge_id_column_name_left="record_key_l",
        edge_id_column_name_right="record_key_r",
        threshold_match_probability=0.5,
    )
    return cc.as_spark_dataframe().select(
        F.col("record_key").cast("string"), F.col("cluster_id").cast("string")
    )


def constrained_components(
    keys: list[str], edges: list[tuple[str, str, float]], conflicts: set[tuple[str, str]]
) -> dict[str, str]:
    """Greedy clustering of one component under cannot-link constraints.

    Edges are added by decreasing strength; an edge is skipped when the two groups it would
    join hold a conflicting pair.

    Returns:
        ``record_key -> cluster_id`` (the smallest key of its group).
    """
    parent = {k: k for k in keys}
    members: dict[str, set[str]] = {k: {k} for k in keys}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b, _w in sorted(edges, key=lambda e: (-e[2], e[0], e[1])):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        if any(
            (x, y) in conflicts or (y, x) in conflicts for x in members[ra] for y in members[rb]
        ):
            continue
        if len(members[ra]) < len(members[rb]):
            ra, rb = rb, ra
        parent[rb] = ra
        members[ra] |= members.pop(rb)
    out: dict[str, str] = {}
    for group in members.values():
        cid = min(group)
        for k in group:
            out[k] = cid
    return out


def cluster_records(
    records: DataFrame,
    pairs: DataFrame,
    db_api: Any,
    threshold: float,
    veto_rules: Sequence[VetoRule] = (),
) -> tuple[DataFrame, dict[str, int]]:
    """Cluster ``records`` (matching input) from ``pairs`` (with ``match_rule``,
    ``match_probability`` and ``veto``).

    Returns:
        (``record_key``, ``cluster_id``, ``cluster_size``) for every record, and counts:
        ``conflicting_clusters`` re-clustered, ``links_dropped_by_constraints``.
    """
    spark = records.sparkSession
    strength = (
        F.when(F.col("match_rule") != "splink", F.lit(1.0))
        .otherwise(F.col("match_probability"))
        .alias("strength")
    )
    edges = pairs.select("record_key_l", "record_key_r", strength, "veto").where(
        (F.col("strength") >= threshold) & F.col("veto").isNull()
    )
    edges = edges.persist()
    comps = _components(records, edges, db_api).persist()
    stats = {"conflicting_clusters": 0, "links_dropped_by_constraints": 0}
    try:
        expr = veto_expression(veto_rules)
        fixes: list[tuple[str, str]] = []
        if expr is not None:
            sized = comps.withColumn("n", F.count(F.lit(1)).over(Window.partitionBy("cluster_id")))
            big = sized.where("n >= 3").join(records, "record_key")
            left, right = big.alias("l"), big.alias("r")
            conflicts = (
                left.join(
                    right,
                    (F.col("l.cluster_id") == F.col("r.cluster_id"))
                    & (F.col("l.record_key") < F.col("r.record_key")),
                )
                .where(F.size(expr) > 0)
                .select(
                    F.col("l.cluster_id").alias("cluster_id"),
                    F.col("l.record_key").alias("a"),
                    F.col("r.record_key").alias("b"),
                )
                .collect()
            )
            if conflicts:
                bad = sorted({r["cluster_id"] for r in conflicts})
                bad_df = spark.createDataFrame([(c,) for c in bad], "cluster_id string")
                members = comps.join(F.broadcast(bad_df), "cluster_id").collect()
                members_by_cluster: dict[str, list[str]] = {}
                for m in members:
                    members_by_cluster.setdefault(m["cluster_id"], []).append(m["record_key"])
                in_bad = comps.join(F.broadcast(bad_df), "cluster_id").select("record_key")
                cedges = (
                    edges.join(
                        in_bad.withColumnRenamed("record_key", "record_key_l"), "record_key_l"
                    )
                    .select("record_key_l", "record_key_r", "strength")
                    .collect()
                )
                owner = {k: c for c, ks in members_by_cluster.items() for k in ks}
                by_cluster_edges: dict[str, list[tuple[str, str, float]]] = {}
                for e in cedges:
                    by_cluster_edges.setdefault(owner[e["record_key_l"]], []).append(
                        (e["record_key_l"], e["record_key_r"], float(e["strength"]))
                    )
                by_cluster_conf: dict[str, set[tuple[str, str]]] = {}
                for r in conflicts:
                    by_cluster_conf.setdefault(r["cluster_id"], set()).add((r["a"], r["b"]))
                for cid in bad:
                    assignment = constrained_components(
                        members_by_cluster[cid], by_cluster_edges.get(cid, []), by_cluster_conf[cid]
                    )
                    fixes.extend(assignment.items())
                    kept = sum(
                        1
                        for a, b, _ in by_cluster_edges.get(cid, [])
                        if assignment[a] == assignment[b]
                    )
                    stats["links_dropped_by_constraints"] += (
                        len(by_cluster_edges.get(cid, [])) - kept
                    )
                stats["conflicting_clusters"] = len(bad)
                logger.info("match: %s clusters held vetoed record pairs and were split", len(bad))
        if fixes:
            fix_df = spark.createDataFrame(fixes, "record_key string, fixed_cluster_id string")
            comps = comps.join(F.broadcast(fix_df), "record_key", "left").select(
                "record_key",
                F.coalesce("fixed_cluster_id", "cluster_id").alias("cluster_id"),
            )
        w = Window.partitionBy("cluster_id")
        out = comps.select(
            "record_key",
            F.min("record_key").over(w).alias("cluster_id"),
            F.count(F.lit(1)).over(w).cast("long").alias("cluster_size"),
        )
        return out, stats
    finally:
        edges.unpersist()
