"""Final clusters of a run: Splink's clusters with the human decisions applied.

* **must-link** joins the clusters of its two records (transitively);
* **cannot-link**: when its two records end in the same component, the component is cut at
  its weakest links. The component is rebuilt Kruskal-style: its edges are added strongest
  first (must-link edges, then match pairs by decreasing ``match_weight``) and an edge that
  would join two groups holding the two sides of a cannot-link is dropped. The result is a
  maximum spanning forest that separates every cannot-linked pair, so two cannot-linked
  records never share a customer, even through other records. A must-link that contradicts
  a cannot-link through other records is dropped: cannot-link wins.

Only components touched by a decision are handled record by record (a grouped pandas UDF per
affected component); the others keep Splink's cluster. Decisions are few: they are collected
to the driver (with their two cluster ids), nothing else is.

Final cluster ids are internal labels (``c:<cluster>``, ``p:<smallest record_key>`` for the
parts of a cut component): they only group records for :mod:`unification.identity.ids`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pandas as pd
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification.identity.errors import require_columns

logger = logging.getLogger(__name__)

MUST_LINK = "must_link"
CANNOT_LINK = "cannot_link"

#: Edge weight used for deterministic pairs without a Splink weight (probability 1).
DETERMINISTIC_WEIGHT = 1.0e6

_WORK_SCHEMA = T.StructType(
    [
        T.StructField("component", T.StringType(), False),
        T.StructField("kind", T.StringType(), False),  # node | edge | must | cannot
        T.StructField("a", T.StringType(), False),
        T.StructField("b", T.StringType(), True),
        T.StructField("weight", T.DoubleType(), True),
    ]
)
_PART_SCHEMA = "record_key string, part string"


# --------------------------------------------------------------------------- pure Python
class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.members: dict[str, list[str]] = {}

    def add(self, x: str) -> None:
        if x not in self.parent:
            self.parent[x] = x
            self.members[x] = [x]

    def find(self, x: str) -> str:
        self.add(x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, ra: str, rb: str) -> str:
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra].extend(self.members.pop(rb))
        return ra


def cut_component(
    nodes: Iterable[str],
    edges: Iterable[tuple[str, str, float]],
    cannot_links: Iterable[tuple[str, str]],
) -> dict[str, str]:
    """Split one component so that no cannot-linked pair stays connected.

    Edges are added strongest first (ties by record keys, so the result is deterministic); an
    edge whose two groups hold the two sides of a cannot-link is skipped.

    Args:
        nodes: record keys of the component (records without edges stay alone).
        edges: ``(a, b, weight)``; must-link edges carry ``math.inf``.
        cannot_links: pairs that must end in different parts.

    Returns:
        ``record_key -> part``, the part being its smallest record key.

    Examples:
        ```py
        cut_component("abcd", [("a", "b", 9), ("b", "c", 1), ("c", "d", 8)], [("a", "d")])
        # {"a": "a", "b": "a", "c": "c", "d": "c"}
        ```
    """
    uf = _UnionFind()
    for n in nodes:
        uf.add(n)
    forbidden: dict[str, set[str]] = {}
    for a, b in cannot_links:
        if a == b:
            continue
        uf.add(a)
        uf.add(b)
        forbidden.setdefault(a, set()).add(b)
        forbidden.setdefault(b, set()).add(a)

    def conflict(ra: str, rb: str) -> bool:
        small, other = (ra, rb) if len(uf.members[ra]) <= len(uf.members[rb]) else (rb, ra)
        return any(uf.find(y) == other for x in uf.members[small] for y in forbidden.get(x, ()))

    def order(edge: tuple[str, str, float]) -> tuple[float, str, str]:
        a, b, w = edge
        w = 0.0 if w is None or math.isnan(w) else float(w)
        return (-w, min(a, b), max(a, b))

    for a, b, _ in sorted(edges, key=order):
        ra, rb = uf.find(a), uf.find(b)
        if ra == rb or conflict(ra, rb):
            continue
        uf.union(ra, rb)
    part_of_root = {root: min(members) for root, members in uf.members.items()}
    return {x: part_of_root[uf.find(x)] for x in uf.parent}


@dataclass
class DecisionPlan:
    """What the decisions do to the clusters (computed on the driver from the few decisions).

    Attributes:
        component_of: cluster id -> component label, for clusters joined by must-links or
            cut by cannot-links (other clusters are their own component).
        affected: components holding both sides of a cannot-link (to be cut).
        decision_edges: ``(component, kind, a, b)`` of the decisions inside affected components.
    """

    component_of: dict[str, str] = field(default_factory=dict)
    affected: set[str] = field(default_factory=set)
    decision_edges: list[tuple[str, str, str, str]] = field(default_factory=list)


def plan_decisions(rows: Iterable[tuple[str, str, str, str, str]]) -> DecisionPlan:
    """Components implied by decisions.

    Args:
        rows: ``(kind, record_key_l, record_key_r, cluster_l, cluster_r)`` of active decisions
            whose two records exist.

    Returns:
        The :class:`DecisionPlan`; a component is labelled by its smallest cluster id.
    """
    rows = list(rows)
    uf = _UnionFind()
    for kind, _, _, cl, cr in rows:
        if kind == MUST_LINK and cl != cr:
            ra, rb = uf.find(cl), uf.find(cr)
            if ra != rb:
                uf.union(ra, rb)
    label = {root: min(members) for root, members in uf.members.items()}

    def comp(cluster: str) -> str:
        return label[uf.find(cluster)] if cluster in uf.parent else cluster

    affected = {
        comp(cl) for kind, _, _, cl, cr in rows if kind == CANNOT_LINK and comp(cl) == comp(cr)
    }
    component_of = {c: comp(c) for c in uf.parent}
    for kind, _, _, cl, _ in rows:
        if kind == CANNOT_LINK and comp(cl) in affected:
            component_of.setdefault(cl, comp(cl))
    edges = [
        (comp(cl), kind, a, b)
        for kind, a, b, cl, cr in rows
        if comp(cl) in affected and comp(cl) == comp(cr)
    ]
    return DecisionPlan(component_of=component_of, affected=affected, decision_edges=edges)


def _cut_group(pdf: pd.DataFrame) -> pd.DataFrame:
    nodes = pdf.loc[pdf["kind"] == "node", "a"].tolist()
    links = pdf[pdf["kind"].isin(["edge", "must"])]
    edges = [
        (a, b, math.inf if k == "must" else w)
        for k, a, b, w in zip(links["kind"], links["a"], links["b"], links["weight"], strict=True)
    ]
    cannots = pdf[pdf["kind"] == "cannot"]
    parts = cut_component(nodes, edges, zip(cannots["a"], cannots["b"], strict=True))
    keys = list(dict.fromkeys(nodes))  # only the component's own records, once
    return pd.DataFrame({"record_key": keys, "part": [parts[n] for n in keys]})


# --------------------------------------------------------------------------- Spark transforms
def edge_weight() -> F.Column:
    """Strength of a match pair for cutting: ``match_weight``, else from the probability."""
    p = F.col("match_probability")
    return F.coalesce(
        F.col("match_weight"),
        F.when(p >= 1, F.lit(DETERMINISTIC_WEIGHT)),
        F.when(p <= 0, F.lit(-DETERMINISTIC_WEIGHT)),
        F.log2(p / (1 - p)),
        F.lit(0.0),
    ).cast("double")


def with_clusters(clusters: DataFrame | None) -> Callable[[DataFrame], DataFrame]:
    """Attach Splink's ``cluster_id`` to person records; a record without one is alone.

    Returns a transform ``records(record_key, ...) -> (record_key, cluster_id)``. Clusters of
    records that are no longer in ``records`` (erased) are dropped.
    """

    def _(records: DataFrame) -> DataFrame:
        require_columns(records, ("record_key",), "person records")
        keys = records.select("record_key")
        if clusters is None:
            return keys.withColumn("cluster_id", F.concat(F.lit("~"), "record_key"))
        require_columns(clusters, ("record_key", "cluster_id"), "record clusters")
        return keys.join(clusters.select("record_key", "cluster_id"), "record_key", "left").select(
            "record_key",
            F.coalesce("cluster_id", F.concat(F.lit("~"), "record_key")).alias("cluster_id"),
        )

    return _


def apply_decisions(pairs: DataFrame, decisions: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Apply must-link and cannot-link decisions to Splink's clusters.

    Returns a transform ``(record_key, cluster_id) -> (record_key, cluster_id,
    cut_by_decision)`` where ``cluster_id`` is the final (internal) cluster label. Runs small
    actions: the active decisions are collected to the driver (none: nothing else is done),
    then the clusters of their records.

    Args:
        pairs: ``silver.match_pairs`` (``record_key_l``, ``record_key_r``, ``match_weight``,
            ``match_probability``): only pairs inside one Splink cluster are used as edges.
        decisions: ``kind``, ``record_key_l``, ``record_key_r`` (and optional ``active``).
    """

    def _(clusters: DataFrame) -> DataFrame:
        require_columns(clusters, ("record_key", "cluster_id"), "record clusters")
        require_columns(decisions, ("kind", "record_key_l", "record_key_r"), "decisions")
        spark = clusters.sparkSession
        base = clusters.select("record_key", "cluster_id")
        dec = decisions.filter(F.col("active")) if "active" in decisions.columns else decisions
        wanted = [tuple(r) for r in dec.select("kind", "record_key_l", "record_key_r").collect()]
        unchanged = base.select(
            "record_key",
            F.concat(F.lit("c:"), "cluster_id").alias("cluster_id"),
            F.lit(False).alias("cut_by_decision"),
        )
        if not wanted:
            return unchanged
        keys = sorted({k for _, a, b in wanted for k in (a, b)})
        cluster_of = {
            r.record_key: r.cluster_id
            for r in base.filter(F.col("record_key").isin(keys)).collect()
        }
        rows = [
            (kind, a, b, cluster_of[a], cluster_of[b])
            for kind, a, b in wanted
            if a in cluster_of and b in cluster_of
        ]
        plan = plan_decisions(rows)
        if not plan.component_of:
            return unchanged
        logger.info(
            "decisions: %d applied, %d cluster(s) joined or cut, %d component(s) to cut",
            len(rows),
            len(plan.component_of),
            len(plan.affected),
        )
        cmap = spark.createDataFrame(
            [
                Row(cluster_id=c, component=k, affected=k in plan.affected)
                for c, k in plan.component_of.items()
            ],
            "cluster_id string, component string, affected boolean",
        )
        labeled = base.join(F.broadcast(cmap), "cluster_id", "left").select(
            "record_key",
            "cluster_id",
            F.coalesce("component", "cluster_id").alias("component"),
            F.coalesce("affected", F.lit(False)).alias("affected"),
        )
        kept = labeled.filter(~F.col("affected")).select(
            "record_key",
            F.concat(F.lit("c:"), "component").alias("cluster_id"),
            F.lit(False).alias("cut_by_decision"),
        )
        if not plan.affected:
            return kept
        nodes = labeled.filter("affected").select("record_key", "cluster_id", "component")
        nl = nodes.select(
            F.col("record_key").alias("record_key_l"), F.col("cluster_id").alias("cl"), "component"
        )
        nr = nodes.select(
            F.col("record_key").alias("record_key_r"),
            F.col("cluster_id").alias("cr"),
            F.col("component").alias("component_r"),
        )
        pair_edges = (
            pairs.select("record_key_l", "record_key_r", edge_weight().alias("weight"))
            .join(nl, "record_key_l")
            .join(nr, "record_key_r")
            .filter((F.col("cl") == F.col("cr")) & (F.col("component") == F.col("component_r")))
            .select(
                "component",
                F.lit("edge").alias("kind"),
                F.col("record_key_l").alias("a"),
                F.col("record_key_r").alias("b"),
                "weight",
            )
        )
        node_rows = nodes.select(
            "component",
            F.lit("node").alias("kind"),
            F.col("record_key").alias("a"),
            F.lit(None).cast("string").alias("b"),
            F.lit(None).cast("double").alias("weight"),
        )
        decision_rows = spark.createDataFrame(
            [
                (comp, "must" if kind == MUST_LINK else "cannot", a, b, None)
                for comp, kind, a, b in plan.decision_edges
            ],
            _WORK_SCHEMA,
        )
        parts = (
            node_rows.unionByName(pair_edges)
            .unionByName(decision_rows)
            .groupBy("component")
            .applyInPandas(_cut_group, _PART_SCHEMA)
            .select(
                "record_key",
                F.concat(F.lit("p:"), "part").alias("cluster_id"),
                F.lit(True).alias("cut_by_decision"),
            )
        )
        return kept.unionByName(parts)

    return _
