"""RFM quintile scores and named segments.

Scores are quintiles over the customers (``is_customer``) of one snapshot: ``rfm_r`` from
``recency_days`` (recent = 5), ``rfm_f`` from ``order_count`` and ``rfm_m`` from
``monetary_total`` (high = 5). The four quintile boundaries of each measure are computed with
Spark's ``approxQuantile`` (only 12 numbers reach the driver), then a value scores
``1 + (number of boundaries strictly below it)`` (reversed for recency). Tied values therefore
always share a score: with many one-order customers, ``order_count = 1`` is ``rfm_f = 1`` for
all of them, however many they are.

The named segment comes from the (R, F) grid of ``features.rfm.segments`` (first match wins);
the default grid is documented in docs/FEATURES.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from unification.features.settings import RfmSegment, RfmSettings

QUINTILES: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)
_MEASURES = ("recency_days", "order_count", "monetary_total")


def quintile_boundaries(df: DataFrame, relative_error: float = 0.001) -> dict[str, list[float]]:
    """The 20/40/60/80 % boundaries of recency, frequency and monetary over ``is_customer``
    rows (one Spark action, three short lists to the driver)."""
    customers = df.filter(F.col("is_customer")).select(
        *[F.col(c).cast("double").alias(c) for c in _MEASURES]
    )
    values = customers.approxQuantile(list(_MEASURES), list(QUINTILES), relative_error)
    return {name: list(v) for name, v in zip(_MEASURES, values, strict=True)}


def _score(value: Column, bounds: Sequence[float], reverse: bool = False) -> Column:
    below = sum((F.when(value > F.lit(b), 1).otherwise(0) for b in bounds), F.lit(0))
    return (F.lit(5) - below) if reverse else (F.lit(1) + below)


def segment_of(segments: Sequence[RfmSegment]) -> Column:
    """The ``CASE`` expression naming the segment of ``rfm_r`` / ``rfm_f``."""
    expr: Column | None = None
    for seg in segments:
        cond = F.col("rfm_r").between(*seg.r) & F.col("rfm_f").between(*seg.f)
        expr = F.when(cond, F.lit(seg.name)) if expr is None else expr.when(cond, F.lit(seg.name))
    return expr if expr is not None else F.lit(None).cast("string")


def with_rfm(
    boundaries: dict[str, list[float]], settings: RfmSettings
) -> Callable[[DataFrame], DataFrame]:
    """Add ``rfm_r``, ``rfm_f``, ``rfm_m``, ``rfm_score`` ("545") and ``rfm_segment``.

    Non-customers get nulls. With no customer at all (no boundaries) every score is null.

    Examples:
        ```py
        bounds = quintile_boundaries(features)
        features.transform(with_rfm(bounds, cfg.features.rfm))
        ```
    """

    def _(df: DataFrame) -> DataFrame:
        if not all(boundaries.get(m) for m in _MEASURES):
            null_int = F.lit(None).cast("int")
            return (
                df.withColumn("rfm_r", null_int)
                .withColumn("rfm_f", null_int)
                .withColumn("rfm_m", null_int)
                .withColumn("rfm_score", F.lit(None).cast("string"))
                .withColumn("rfm_segment", F.lit(None).cast("string"))
            )
        is_customer = F.col("is_customer")
        out = (
            df.withColumn(
                "rfm_r",
                F.when(
                    is_customer, _score(F.col("recency_days"), boundaries["recency_days"], True)
                ),
            )
            .withColumn(
                "rfm_f",
                F.when(is_customer, _score(F.col("order_count"), boundaries["order_count"])),
            )
            .withColumn(
                "rfm_m",
                F.when(is_customer, _score(F.col("monetary_total"), boundaries["monetary_total"])),
            )
        )
        return out.withColumn(
            "rfm_score", F.concat(F.col("rfm_r"), F.col("rfm_f"), F.col("rfm_m"))
        ).withColumn("rfm_segment", F.when(is_customer, segment_of(settings.segments)))

    return _
