"""Re-derive the clusters that lose records in an erasure (``silver.record_clusters``).

A cluster is a connected component of match links. When a record is erased, its links go with
it, and the rest of its cluster may fall apart: a record that bridged two people leaves two
clusters, not one. Only the clusters that held an erased record are recomputed, from the links
that remain **inside** each of them (a subset of a cluster that respected the veto rules
respects them too, so the vetoes need not be re-checked). Other clusters are not touched.

A link is a ``silver.match_pairs`` row whose ``match_rule`` is not a veto (``veto:...``) and
that is either deterministic (``match_rule`` other than ``splink``) or scored at or above
``matching.match_threshold``: the rule of the match stage (:mod:`unification.matching.clustering`).
New cluster ids follow the match stage too: the smallest ``record_key`` of the cluster.

Affected clusters are small (a person's records); they are collected to the driver and split
with a union-find.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def components(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Connected components: ``node -> smallest node of its component``.

    Examples:
        >>> components(["a", "b", "x"], [("a", "x"), ("x", "b")])["b"]
        'a'
        >>> sorted(set(components(["a", "b"], []).values()))
        ['a', 'b']
    """
    parent: dict[str, str] = {n: n for n in nodes}

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in edges:
        if a not in parent or b not in parent:
            continue
        ra, rb = find(a), find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            parent[rb] = ra  # the smaller key is the root: the root is the component's minimum
    return {n: find(n) for n in parent}


def is_link(threshold: float) -> Column:
    """Whether a ``silver.match_pairs`` row links its two records (the match stage's rule)."""
    rule = F.coalesce(F.col("match_rule"), F.lit("splink"))
    scored_ok = F.coalesce(F.col("match_probability") >= F.lit(threshold), F.lit(False))
    return ~rule.startswith("veto:") & ((rule != F.lit("splink")) | scored_ok)


def recluster(
    clusters: DataFrame, pairs: DataFrame, erased: DataFrame, threshold: float
) -> tuple[list[tuple[str, str, int]], int]:
    """New (``record_key``, ``cluster_id``, ``cluster_size``) of the records that stay in the
    clusters of ``erased`` records.

    Args:
        clusters: ``silver.record_clusters`` before the erasure.
        pairs: ``silver.match_pairs`` (pairs with an erased record are ignored).
        erased: one column ``record_key``.
        threshold: ``matching.match_threshold``.

    Returns:
        The rows to write (every remaining record of an affected cluster), and how many
        affected clusters there were.
    """
    erased_keys = erased.select("record_key").distinct()
    affected = clusters.join(erased_keys, "record_key", "left_semi").select("cluster_id").distinct()
    in_affected = clusters.join(F.broadcast(affected), "cluster_id", "left_semi")
    gone = {r["record_key"] for r in erased_keys.collect()}
    all_rows = in_affected.select("record_key", "cluster_id").collect()  # erased ones included
    n_affected = len({r["cluster_id"] for r in all_rows})
    member_rows = [r for r in all_rows if r["record_key"] not in gone]
    if not member_rows:
        return [], n_affected
    cluster_of = {r["record_key"]: r["cluster_id"] for r in member_rows}
    members_df = erased.sparkSession.createDataFrame(
        sorted(cluster_of.items()), "record_key string, cluster_id string"
    )
    keyed = F.broadcast(members_df)
    links = (
        pairs.where(is_link(threshold))
        .join(keyed.withColumnRenamed("record_key", "record_key_l"), "record_key_l", "left_semi")
        .join(keyed.withColumnRenamed("record_key", "record_key_r"), "record_key_r", "left_semi")
        .select("record_key_l", "record_key_r")
        .collect()
    )
    comp = components(
        list(cluster_of),
        [
            (r["record_key_l"], r["record_key_r"])
            for r in links
            if cluster_of[r["record_key_l"]] == cluster_of[r["record_key_r"]]
        ],
    )
    sizes: dict[str, int] = {}
    for root in comp.values():
        sizes[root] = sizes.get(root, 0) + 1
    return sorted((k, root, sizes[root]) for k, root in comp.items()), n_affected
