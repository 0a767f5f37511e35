"""``gold.identity_graph``: the crosswalk source record -> customer id.

Grain: one row per source person record; key ``record_key`` (= ``source:entity:source_id``),
so (``source``, ``entity``, ``source_id``) is unique too. Columns:
:data:`unification.schemas.IDENTITY_GRAPH`.

* ``link_confidence``: how sure we are the record belongs to its customer: the highest
  ``match_probability`` of its match pairs inside its final cluster (a must-link counts 1.0,
  a deterministic pair without a probability 1.0); 1.0 for a record alone in its customer;
  null if a multi-record customer holds the record through no stored pair.
* ``first_seen`` / ``last_seen``: earliest and latest source ``updated_at`` observed for the
  record across runs (the run time when the source gives none). They only move when the data
  does, so a re-run on unchanged input rewrites nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from unification.identity.errors import require_columns
from unification.schemas import IDENTITY_GRAPH

GRAPH_KEY = ("record_key",)


def link_confidence(pairs: DataFrame, must_links: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Transform ``(record_key, cluster_id, ...) -> (record_key, link_confidence)``.

    Only records with at least one pair inside their cluster get a row.
    """

    def _(assigned: DataFrame) -> DataFrame:
        edges = pairs.select(
            "record_key_l",
            "record_key_r",
            F.coalesce(F.col("match_probability"), F.lit(1.0)).cast("double").alias("p"),
        ).unionByName(must_links.select("record_key_l", "record_key_r", F.lit(1.0).alias("p")))
        left = assigned.select(
            F.col("record_key").alias("record_key_l"), F.col("cluster_id").alias("cl")
        )
        right = assigned.select(
            F.col("record_key").alias("record_key_r"), F.col("cluster_id").alias("cr")
        )
        inside = (
            edges.join(left, "record_key_l")
            .join(right, "record_key_r")
            .filter(F.col("cl") == F.col("cr"))
        )
        ends = inside.select(F.col("record_key_l").alias("record_key"), "p").unionByName(
            inside.select(F.col("record_key_r").alias("record_key"), "p")
        )
        return ends.groupBy("record_key").agg(F.max("p").alias("link_confidence"))

    return _


def build_identity_graph(
    records: DataFrame,
    pairs: DataFrame,
    must_links: DataFrame,
    previous: DataFrame,
    *,
    run_id: str,
    run_ts: datetime,
) -> Callable[[DataFrame], DataFrame]:
    """Transform ``(record_key, cluster_id, customer_id, cluster_size)`` -> identity graph rows.

    Args:
        records: ``silver.person_records`` (``record_key``, ``source``, ``entity``,
            ``source_id``, ``updated_at``).
        pairs: ``silver.match_pairs``.
        must_links: active must-link decisions (``record_key_l``, ``record_key_r``).
        previous: the earlier identity graph (for ``first_seen`` / ``last_seen``).
        run_id: written in ``_run_id``.
        run_ts: the observation time of records whose source gives no ``updated_at``.

    Returns:
        A transform producing exactly :data:`unification.schemas.IDENTITY_GRAPH`'s columns.
    """
    require_columns(
        records, ("record_key", "source", "entity", "source_id", "updated_at"), "person records"
    )
    require_columns(previous, ("record_key", "first_seen", "last_seen"), "previous graph")

    def _(assigned: DataFrame) -> DataFrame:
        require_columns(
            assigned, ("record_key", "cluster_id", "customer_id", "cluster_size"), "assigned ids"
        )
        conf = assigned.transform(link_confidence(pairs, must_links))
        prev = previous.select(
            "record_key",
            F.col("first_seen").alias("prev_first"),
            F.col("last_seen").alias("prev_last"),
        )
        seen = F.coalesce(
            F.col("updated_at").cast("timestamp"),
            F.col("prev_first"),
            F.lit(run_ts).cast("timestamp"),
        )
        out = (
            assigned.join(
                records.select("record_key", "source", "entity", "source_id", "updated_at"),
                "record_key",
            )
            .join(conf, "record_key", "left")
            .join(prev, "record_key", "left")
            .select(
                "record_key",
                "source",
                "entity",
                "source_id",
                "customer_id",
                F.when(F.col("cluster_size") == 1, F.lit(1.0))
                .otherwise(F.col("link_confidence"))
                .alias("link_confidence"),
                F.least(F.col("prev_first"), seen).alias("first_seen"),
                F.greatest(F.col("prev_last"), seen).alias("last_seen"),
                F.lit(run_id).alias("_run_id"),
            )
        )
        return out.select(
            *[F.col(f.name).cast(f.dataType).alias(f.name) for f in IDENTITY_GRAPH.fields]
        )

    return _
