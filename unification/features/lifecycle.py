"""Lifecycle stages and their transitions (the trigger feed of marketing scenarios).

A stage is a Spark SQL condition over ``gold.customer_features`` columns; the stages of
``features.lifecycle.stages`` are tried in order and the first that holds names the stage
(the default list: lapsed, at_risk, vip, repeat_customer, new_customer, prospect, visitor; see
docs/FEATURES.md). ``is_customer`` (``features.lifecycle.customer_definition``) is the one
shared meaning of "customer" that every stage uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from unification.errors import ConfigError
from unification.features.settings import LifecycleStage


def with_lifecycle_stage(stages: Sequence[LifecycleStage]) -> Callable[[DataFrame], DataFrame]:
    """Add ``lifecycle_stage``: the first stage whose condition holds (null -> false).

    Raises:
        ConfigError: when a condition is not valid Spark SQL over the feature columns.
    """

    def _(df: DataFrame) -> DataFrame:
        try:
            expr = None
            for stage in stages:
                cond = F.coalesce(F.expr(stage.when), F.lit(False))
                expr = F.when(cond, stage.name) if expr is None else expr.when(cond, stage.name)
            assert expr is not None
            return df.withColumn("lifecycle_stage", F.coalesce(expr, F.lit(stages[-1].name)))
        except AnalysisException as exc:
            raise ConfigError(
                f"features.lifecycle.stages: a condition does not fit the feature columns: {exc}"
            ) from exc

    return _


def transitions(
    current: DataFrame,
    previous: DataFrame | None,
    previous_as_of: date | None,
    *,
    emit_initial: bool = False,
) -> DataFrame:
    """Customers whose stage differs from the previous snapshot.

    Args:
        current: this snapshot (``customer_id``, ``as_of``, ``lifecycle_stage``).
        previous: the previous snapshot's rows (same columns), or None on the first snapshot.
        previous_as_of: the previous snapshot's date.
        emit_initial: on the first snapshot, emit every customer (``from_stage`` null).

    Returns:
        Rows of :data:`~unification.features.schemas.LIFECYCLE_TRANSITIONS` (without
        ``_run_id``). A customer absent from the previous snapshot (new since then) has a null
        ``from_stage``; customers that left the snapshot emit nothing.
    """
    cur = current.select("customer_id", "as_of", F.col("lifecycle_stage").alias("to_stage"))
    if previous is None:
        out = cur.withColumn("from_stage", F.lit(None).cast("string"))
        if not emit_initial:
            out = out.limit(0)
        return out.withColumn("previous_as_of", F.lit(None).cast("date")).select(
            "customer_id", "as_of", "previous_as_of", "from_stage", "to_stage"
        )
    prev = previous.select("customer_id", F.col("lifecycle_stage").alias("from_stage"))
    return (
        cur.join(prev, "customer_id", "left")
        .filter(~F.col("from_stage").eqNullSafe(F.col("to_stage")))
        .withColumn("previous_as_of", F.lit(previous_as_of).cast("date"))
        .select("customer_id", "as_of", "previous_as_of", "from_stage", "to_stage")
    )
