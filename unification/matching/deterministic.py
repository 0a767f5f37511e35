"""Deterministic links: records equal on a rule's fields are linked without scoring.

Each :class:`~unification.matching.settings.DeterministicRule` is a self-join of the matching
input on its fields (all non-null), restricted to ``l.record_key < r.record_key`` and to the
rule's optional ``condition``. A shared value is used only when the records holding it agree
on the rule's ``consistent_fields`` (one distinct non-null value each), and values shared by
more than ``max_group_size`` records are skipped: a family e-mail or a placeholder that slipped
through, not one person.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from unification.matching.settings import DeterministicRule

DETERMINISTIC_PAIRS_COLUMNS = ("record_key_l", "record_key_r", "match_rule")


def rule_pairs(df: DataFrame, rule: DeterministicRule) -> DataFrame:
    """Pairs linked by one rule: ``record_key_l < record_key_r``, ``match_rule`` = rule name."""
    missing = [f for f in rule.fields if f not in df.columns]
    spark = df.sparkSession
    if missing:
        return spark.createDataFrame(
            [], "record_key_l string, record_key_r string, match_rule string"
        )
    nn = F.lit(True)
    for f in rule.fields:
        nn = nn & F.col(f).isNotNull()
    w = Window.partitionBy(*rule.fields)
    keep = F.count(F.lit(1)).over(w) <= rule.max_group_size
    for f in rule.consistent_fields:
        if f in df.columns:
            keep = keep & (F.size(F.collect_set(F.col(f)).over(w)) <= 1)
    side = df.where(nn).withColumn("_keep", keep).where("_keep").drop("_keep")
    left, right = side.alias("l"), side.alias("r")
    cond = F.col("l.record_key") < F.col("r.record_key")
    for f in rule.fields:
        cond = cond & (F.col(f"l.{f}") == F.col(f"r.{f}"))
    if rule.condition:
        cond = cond & F.expr(rule.condition)
    return left.join(right, cond, "inner").select(
        F.col("l.record_key").alias("record_key_l"),
        F.col("r.record_key").alias("record_key_r"),
        F.lit(rule.name).alias("match_rule"),
    )


def oversized_groups(df: DataFrame, rule: DeterministicRule) -> DataFrame:
    """Values of a rule shared by more than ``max_group_size`` records (skipped)."""
    if any(f not in df.columns for f in rule.fields):
        return df.sparkSession.createDataFrame([], "value string, records long")
    nn = F.lit(True)
    for f in rule.fields:
        nn = nn & F.col(f).isNotNull()
    return (
        df.where(nn)
        .groupBy(*rule.fields)
        .agg(F.count(F.lit(1)).alias("records"))
        .where(F.col("records") > rule.max_group_size)
        .select(
            F.concat_ws(" | ", *[F.col(f).cast("string") for f in rule.fields]).alias("value"),
            "records",
        )
    )


def deterministic_pairs(df: DataFrame, rules: Sequence[DeterministicRule]) -> DataFrame:
    """Union of every rule's pairs, one row per pair; ``match_rule`` joins the rule names
    (``email+loyalty_card``) when several rules link the same pair."""
    frames = [rule_pairs(df, r) for r in rules]
    if not frames:
        return df.sparkSession.createDataFrame(
            [], "record_key_l string, record_key_r string, match_rule string"
        )
    union = frames[0]
    for f in frames[1:]:
        union = union.unionByName(f)
    return union.groupBy("record_key_l", "record_key_r").agg(
        F.array_join(F.sort_array(F.collect_set("match_rule")), "+").alias("match_rule")
    )
