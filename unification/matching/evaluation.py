"""``unify evaluate --truth PATH``: clusters against a ground-truth mapping.

The truth maps ``(source, source_id)`` (optionally ``entity``) to a ``person_id``. Records of
``silver.person_records`` present in the truth are labelled with their ``cluster_id`` from
``silver.record_clusters`` and their ``person_id``; then:

* **pairwise** precision / recall / F1 over all record pairs: a pair is predicted when both
  records share a cluster, true when they share a person;
* **B-cubed** precision / recall / F1: for each record, the share of its cluster that is the same
  person (precision) and the share of its person found in its cluster (recall), averaged;
* **false merges** (clusters holding several persons) and **splits** (persons over several
  clusters); when a ``persons`` table sits next to the truth file (``persons.parquet``) with
  ``household_id`` / homonym columns, the merges inside households and between homonyms.

All sums are computed from per-(cluster, person) counts, in one Spark job.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.errors import DataFrameMissingColumnError, UnificationError

if TYPE_CHECKING:
    from unification.config import AppConfig

logger = logging.getLogger(__name__)


def read_table_file(spark: SparkSession, path: str) -> DataFrame:
    """Read a parquet / csv / json(l) file or a parquet folder."""
    p = path.lower()
    if p.endswith(".csv"):
        return spark.read.option("header", True).csv(path)
    if p.endswith((".json", ".jsonl", ".ndjson")):
        return spark.read.json(path)
    return spark.read.parquet(path)


def _pairs(col: str) -> F.Column:
    return F.col(col) * (F.col(col) - 1) / 2


def cluster_metrics(labelled: DataFrame) -> dict[str, Any]:
    """Pairwise and B-cubed metrics of ``labelled`` (``record_key``, ``cluster_id``,
    ``person_id``; one row per record).

    Examples:
        ```py
        # clusters {a,b,c} {d}; persons {a,b} {c,d}: 3 predicted pairs, 1 true positive
        cluster_metrics(df)["pairwise_precision"]  # 1/3
        ```
    """
    missing = [c for c in ("record_key", "cluster_id", "person_id") if c not in labelled.columns]
    if missing:
        raise DataFrameMissingColumnError(f"cluster_metrics needs columns {missing}")
    cells = labelled.groupBy("cluster_id", "person_id").agg(F.count(F.lit(1)).alias("n"))
    c_size = labelled.groupBy("cluster_id").agg(F.count(F.lit(1)).alias("c"))
    p_size = labelled.groupBy("person_id").agg(F.count(F.lit(1)).alias("p"))
    cells = cells.join(c_size, "cluster_id").join(p_size, "person_id")
    per_cluster = cells.groupBy("cluster_id").agg(
        F.count(F.lit(1)).alias("persons_in_cluster"), F.first("c").alias("c")
    )
    per_person = cells.groupBy("person_id").agg(F.count(F.lit(1)).alias("clusters_of_person"))
    row = cells.agg(
        F.sum("n").alias("records"),
        F.sum(_pairs("n")).alias("tp"),
        F.sum(F.col("n") * F.col("n") / F.col("c")).alias("b3p"),
        F.sum(F.col("n") * F.col("n") / F.col("p")).alias("b3r"),
    ).first()
    crow = per_cluster.agg(
        F.count(F.lit(1)).alias("clusters"),
        F.sum(_pairs("c")).alias("pred_pairs"),
        F.sum(F.when(F.col("persons_in_cluster") > 1, 1).otherwise(0)).alias("merged"),
    ).first()
    prow = (
        p_size.join(per_person, "person_id")
        .agg(
            F.count(F.lit(1)).alias("persons"),
            F.sum(_pairs("p")).alias("true_pairs"),
            F.sum(F.when(F.col("clusters_of_person") > 1, 1).otherwise(0)).alias("split"),
        )
        .first()
    )
    assert row is not None and crow is not None and prow is not None
    n = int(row["records"] or 0)
    tp = float(row["tp"] or 0)
    pred = float(crow["pred_pairs"] or 0)
    true = float(prow["true_pairs"] or 0)
    precision = tp / pred if pred else 1.0
    recall = tp / true if true else 1.0
    b3p = float(row["b3p"] or 0) / n if n else 1.0
    b3r = float(row["b3r"] or 0) / n if n else 1.0
    return {
        "records": n,
        "clusters": int(crow["clusters"] or 0),
        "persons": int(prow["persons"] or 0),
        "true_pairs": int(true),
        "predicted_pairs": int(pred),
        "true_positive_pairs": int(tp),
        "false_positive_pairs": int(pred - tp),
        "false_negative_pairs": int(true - tp),
        "pairwise_precision": precision,
        "pairwise_recall": recall,
        "pairwise_f1": _f1(precision, recall),
        "b3_precision": b3p,
        "b3_recall": b3r,
        "b3_f1": _f1(b3p, b3r),
        "clusters_with_several_persons": int(crow["merged"] or 0),
        "persons_split_over_clusters": int(prow["split"] or 0),
    }


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if (p + r) else 0.0


def group_false_merges(labelled: DataFrame, persons: DataFrame, group_col: str) -> dict[str, int]:
    """How many persons sharing ``group_col`` (a household, a homonym group) were merged.

    Returns:
        ``groups``: groups with at least two persons present; ``merged_groups``: groups with two
        of their persons in one cluster; ``merged_person_pairs``: such person pairs.
    """
    people = persons.select("person_id", F.col(group_col).alias("_grp")).where(
        F.col("_grp").isNotNull()
    )
    lab = labelled.join(people, "person_id").select("cluster_id", "person_id", "_grp").distinct()
    groups = (
        lab.select("_grp", "person_id")
        .distinct()
        .groupBy("_grp")
        .agg(F.count(F.lit(1)).alias("k"))
        .where("k > 1")
    )
    merged = (
        lab.groupBy("cluster_id", "_grp")
        .agg(F.count(F.lit(1)).alias("k"))
        .where("k > 1")
        .agg(
            F.countDistinct("_grp").alias("merged_groups"),
            F.sum(F.col("k") * (F.col("k") - 1) / 2).alias("pairs"),
        )
        .first()
    )
    return {
        "groups": groups.count(),
        "merged_groups": int(merged["merged_groups"] or 0) if merged else 0,
        "merged_person_pairs": int(merged["pairs"] or 0) if merged else 0,
    }


#: Columns of a persons table that define groups whose members must stay apart.
GROUP_COLUMNS = {
    "household": ("household_id",),
    "homonym": ("homonym_group", "homonym_group_id", "homonym_id", "homonym_of"),
}


def _persons_groups(persons: DataFrame) -> dict[str, DataFrame]:
    """Household / homonym group columns of a persons table, normalised to ``group``."""
    out: dict[str, DataFrame] = {}
    for kind, candidates in GROUP_COLUMNS.items():
        col = next((c for c in candidates if c in persons.columns), None)
        if col is None:
            continue
        if col == "homonym_of":
            # a person points at the person they are a homonym of: group = the smaller id
            grp = F.when(
                F.col(col).isNotNull(),
                F.least(F.col("person_id").cast("string"), F.col(col).cast("string")),
            )
            base = persons.select(F.col("person_id").cast("string"), grp.alias("group"))
            # the pointed-at person belongs to the group too
            back = persons.where(F.col(col).isNotNull()).select(
                F.col(col).cast("string").alias("person_id"),
                F.least(F.col("person_id").cast("string"), F.col(col).cast("string")).alias(
                    "group"
                ),
            )
            out[kind] = base.where("group is not null").unionByName(back).distinct()
        else:
            out[kind] = persons.select(
                F.col("person_id").cast("string"), F.col(col).cast("string").alias("group")
            )
    return out


def label_records(records: DataFrame, clusters: DataFrame, truth: DataFrame) -> DataFrame:
    """``record_key``, ``cluster_id``, ``person_id`` for records present in the truth."""
    missing = [c for c in ("source", "source_id", "person_id") if c not in truth.columns]
    if missing:
        raise DataFrameMissingColumnError(
            f"the truth mapping needs columns source, source_id, person_id; missing {missing}"
        )
    keys = ["source", "source_id"] + (["entity"] if "entity" in truth.columns else [])
    t = truth.select(*[F.col(k).cast("string") for k in keys], F.col("person_id").cast("string"))
    t = t.dropDuplicates(keys)
    recs = records.select("record_key", *keys)
    return (
        recs.join(t, keys)
        .join(clusters.select("record_key", "cluster_id"), "record_key")
        .select("record_key", "cluster_id", "person_id")
    )


def evaluate(spark: SparkSession, cfg: AppConfig, truth_path: str, run_id: str) -> dict[str, Any]:
    """Evaluate ``silver.record_clusters`` against a ground truth.

    Args:
        spark: the session.
        cfg: run config (lakehouse).
        truth_path: parquet / csv file of ``(source, source_id, person_id)`` (+ ``entity``);
            a ``persons.parquet`` next to it adds household and homonym false-merge counts.
        run_id: recorded in the result.

    Returns:
        Metrics (pairwise and B-cubed precision / recall / F1, merges, splits, coverage).
    """
    from unification.lakehouse import Lakehouse

    lh = Lakehouse(cfg.lakehouse)
    records = lh.read_or_none(spark, "silver", "person_records")
    clusters = lh.read_or_none(spark, "silver", "record_clusters")
    if records is None or clusters is None:
        raise UnificationError(
            "silver.person_records and silver.record_clusters are needed: run `unify match` first"
        )
    truth = read_table_file(spark, truth_path)
    labelled = label_records(records, clusters, truth).persist()
    try:
        metrics = cluster_metrics(labelled)
        metrics["run_id"] = run_id
        metrics["truth_path"] = truth_path
        metrics["records_without_truth"] = records.count() - metrics["records"]
        persons_file = Path(truth_path).parent / "persons.parquet"
        if persons_file.exists():
            persons = spark.read.parquet(str(persons_file))
            for kind, groups in _persons_groups(persons).items():
                res = group_false_merges(labelled, groups, "group")
                metrics[f"{kind}_groups"] = res["groups"]
                metrics[f"{kind}_false_merges"] = res["merged_groups"]
                metrics[f"{kind}_false_merge_person_pairs"] = res["merged_person_pairs"]
    finally:
        labelled.unpersist()
    logger.info(
        "evaluate: pairwise P=%.4f R=%.4f F1=%.4f | B3 P=%.4f R=%.4f F1=%.4f",
        metrics["pairwise_precision"],
        metrics["pairwise_recall"],
        metrics["pairwise_f1"],
        metrics["b3_precision"],
        metrics["b3_recall"],
        metrics["b3_f1"],
    )
    return metrics
