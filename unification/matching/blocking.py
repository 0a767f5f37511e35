"""Blocking analysis: the guardrail run before ``predict``.

For each prediction blocking rule the number of comparisons it would generate is counted from
block sizes (``sum n(n-1)/2`` over the values of its equi-join keys; a rule without equality
keys compares every pair). A rule above ``matching.max_comparisons_per_rule`` stops the run with
a :class:`GuardrailError` that names the rule, its count, the bound, and the values making the
largest blocks, which are usually placeholders to add to ``standardise.placeholder_values``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from unification.errors import GuardrailError
from unification.matching.model import equi_join_keys, rule_label
from unification.matching.settings import BlockingRuleSpec

logger = logging.getLogger(__name__)


@dataclass
class RuleCount:
    """Comparisons a blocking rule generates (before Splink removes pairs found by earlier
    rules), with its largest blocks as ``(value, records)``."""

    rule: str
    comparisons: int
    largest_blocks: list[tuple[str, int]] = field(default_factory=list)


def count_rule_comparisons(df: DataFrame, rule: BlockingRuleSpec, records: int) -> RuleCount:
    """Count the pairs ``rule`` generates on ``df`` (dedupe: each unordered pair once)."""
    keys = equi_join_keys(rule)
    label = rule_label(rule)
    if not keys:
        return RuleCount(label, records * (records - 1) // 2)
    left = [F.expr(a).alias(f"k{i}") for i, (a, _b) in enumerate(keys)]
    right = [F.expr(b).alias(f"k{i}") for i, (_a, b) in enumerate(keys)]
    names = [f"k{i}" for i in range(len(keys))]
    not_null = " AND ".join(f"{n} IS NOT NULL" for n in names)
    gl = df.select(*left).where(not_null).groupBy(*names).agg(F.count(F.lit(1)).alias("nl"))
    if all(a == b for a, b in keys):
        blocks = gl.withColumn("pairs", F.col("nl") * (F.col("nl") - 1) / 2)
    else:
        gr = df.select(*right).where(not_null).groupBy(*names).agg(F.count(F.lit(1)).alias("nr"))
        blocks = gl.join(gr, names).withColumn("pairs", F.col("nl") * F.col("nr") / 2)
    blocks = blocks.withColumn(
        "value", F.concat_ws(" | ", *[F.col(n).cast("string") for n in names])
    )
    row = blocks.agg(
        F.sum("pairs").alias("pairs"),
        F.slice(
            F.sort_array(F.collect_list(F.struct(F.col("nl"), F.col("value"))), False), 1, 3
        ).alias("top"),
    ).first()
    pairs = int(row["pairs"] or 0) if row else 0
    top = [(str(t["value"]), int(t["nl"])) for t in (row["top"] or [])] if row else []
    return RuleCount(label, pairs, top)


def check_blocking(
    df: DataFrame, rules: Sequence[BlockingRuleSpec], max_comparisons: float, records: int
) -> list[RuleCount]:
    """Count every rule and fail when one exceeds ``max_comparisons``.

    Raises:
        GuardrailError: naming each offending rule, its count, the bound and its largest blocks.
    """
    return enforce_bound([count_rule_comparisons(df, r, records) for r in rules], max_comparisons)


def enforce_bound(counts: list[RuleCount], max_comparisons: float) -> list[RuleCount]:
    """Log each rule's count and raise :class:`GuardrailError` if one exceeds the bound
    (shared by the Spark and DuckDB engines)."""
    for c in counts:
        logger.info("blocking: %s -> %s comparisons", c.rule, f"{c.comparisons:,}")
    offenders = [c for c in counts if c.comparisons > max_comparisons]
    if offenders:
        lines = [
            f"blocking rule [{c.rule}] would generate {c.comparisons:,} comparisons, more than "
            f"matching.max_comparisons_per_rule = {int(max_comparisons):,}"
            + (
                "; largest blocks: "
                + ", ".join(f"{v!r} ({n:,} records)" for v, n in c.largest_blocks)
                if c.largest_blocks
                else ""
            )
            for c in offenders
        ]
        raise GuardrailError(
            "\n".join(lines)
            + "\nTighten the rule in matching.blocking_rules_for_prediction, or add the "
            "over-frequent values to standardise.placeholder_values, or raise the bound."
        )
    return counts
