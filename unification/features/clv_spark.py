"""Fit BG/NBD and Gamma-Gamma on aggregated statistics and score every customer in Spark.

Fitting collects only *groups*: customers are grouped by their sufficient statistics
(``bg_frequency``, ``bg_recency``, ``bg_T`` for BG/NBD; ``bg_frequency`` and ``gg_monetary``
rounded to cents for Gamma-Gamma) and each group becomes one weighted row. When the number of
groups exceeds ``features.clv.max_fit_groups`` / ``max_gamma_gamma_rows``, a Bernoulli sample of
customers is grouped instead. Scoring applies the fitted parameters to all customers with a
vectorised pandas UDF (``scipy.special.hyp2f1`` has no Spark SQL equivalent).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from unification.features.clv import (
    BgNbdParams,
    GammaGammaParams,
    bgnbd_expected_purchases,
    bgnbd_p_alive,
    bgnbd_p_purchase,
    customer_lifetime_value,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
)
from unification.features.settings import ClvSettings

logger = logging.getLogger(__name__)

CLV_COLUMNS: tuple[str, ...] = (
    "p_alive",
    "expected_purchases",
    "p_purchase",
    "expected_avg_spend",
    "clv",
)


@dataclass
class ClvModels:
    """The fitted models (None when the data could not support a fit) and fit diagnostics."""

    bgnbd: BgNbdParams | None = None
    gamma_gamma: GammaGammaParams | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _grouped(
    df: DataFrame, keys: list[str], max_groups: int, seed: int
) -> tuple[pd.DataFrame, float]:
    """Group ``df`` by ``keys`` with a ``n`` weight; sample rows when there are too many groups.

    Returns:
        The groups as pandas and the sampling fraction used (1.0 = all customers).
    """
    groups = df.groupBy(*keys).agg(F.count(F.lit(1)).alias("n"))
    pdf = pd.DataFrame(groups.limit(max_groups + 1).toPandas())
    fraction = 1.0
    if len(pdf) > max_groups:
        fraction = max_groups / max(df.count(), 1)
        sampled = df.sample(fraction=fraction, seed=seed)
        pdf = pd.DataFrame(sampled.groupBy(*keys).agg(F.count(F.lit(1)).alias("n")).toPandas())
    # a fixed row order makes the fit (sums of floats) reproducible run after run
    pdf = pdf.sort_values(keys).reset_index(drop=True)
    return pdf, fraction


def fit_clv_models(features: DataFrame, settings: ClvSettings) -> ClvModels:
    """Fit BG/NBD (customers) and Gamma-Gamma (returning customers) on ``features``.

    Args:
        features: base features with ``is_customer``, ``bg_frequency``, ``bg_recency``,
            ``bg_T`` and ``gg_monetary``.
        settings: ``features.clv``.

    Returns:
        The models; a model is None when there are fewer customers than
        ``min_customers`` / ``min_repeat_customers`` (the reason is in ``info``).
    """
    models = ClvModels()
    buyers = features.filter(F.col("is_customer") & F.col("bg_T").isNotNull())
    pdf, fraction = _grouped(
        buyers, ["bg_frequency", "bg_recency", "bg_T"], settings.max_fit_groups, settings.seed
    )
    n = float(pdf["n"].sum()) if len(pdf) else 0.0
    repeaters = float(pdf.loc[pdf["bg_frequency"] > 0, "n"].sum()) if len(pdf) else 0.0
    models.info.update(bgnbd_groups=len(pdf), bgnbd_customers=n, bgnbd_sample_fraction=fraction)
    if n < settings.min_customers or repeaters < settings.min_repeat_customers:
        models.info["bgnbd_skipped"] = (
            f"{int(n)} customers / {int(repeaters)} repeat customers: below min_customers "
            f"{settings.min_customers} or min_repeat_customers {settings.min_repeat_customers}"
        )
        logger.warning("BG/NBD not fitted: %s", models.info["bgnbd_skipped"])
        return models
    models.bgnbd = fit_bgnbd(pdf["bg_frequency"], pdf["bg_recency"], pdf["bg_T"], pdf["n"])
    models.info["bgnbd"] = models.bgnbd.as_dict()

    returning = buyers.filter((F.col("bg_frequency") > 0) & (F.col("gg_monetary") > 0)).select(
        "bg_frequency", F.round("gg_monetary", 2).alias("gg_monetary")
    )
    gdf, gfrac = _grouped(
        returning.filter(F.col("gg_monetary") > 0),
        ["bg_frequency", "gg_monetary"],
        settings.max_gamma_gamma_rows,
        settings.seed,
    )
    models.info.update(gamma_gamma_groups=len(gdf), gamma_gamma_sample_fraction=gfrac)
    if len(gdf) == 0 or float(gdf["n"].sum()) < settings.min_repeat_customers:
        models.info["gamma_gamma_skipped"] = "too few returning customers with a positive spend"
        logger.warning("Gamma-Gamma not fitted: %s", models.info["gamma_gamma_skipped"])
        return models
    weights = gdf["n"].to_numpy(dtype=float)
    x = gdf["bg_frequency"].to_numpy(dtype=float)
    m = gdf["gg_monetary"].to_numpy(dtype=float)
    models.gamma_gamma = fit_gamma_gamma(x, m, weights)
    models.info["gamma_gamma"] = models.gamma_gamma.as_dict()
    # the model assumes spend independent of frequency: report their (weighted) correlation
    mean_x, mean_m = np.average(x, weights=weights), np.average(m, weights=weights)
    cov = np.average((x - mean_x) * (m - mean_m), weights=weights)
    sd = math.sqrt(np.average((x - mean_x) ** 2, weights=weights)) * math.sqrt(
        np.average((m - mean_m) ** 2, weights=weights)
    )
    models.info["gamma_gamma_corr_frequency_monetary"] = float(cov / sd) if sd > 0 else None
    if models.gamma_gamma.q <= 1:
        logger.warning("Gamma-Gamma q <= 1: the population mean spend is infinite")
    return models


def score_frame(
    models: ClvModels, settings: ClvSettings, horizon_days: int
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The vectorised scorer: (bg_frequency, bg_recency, bg_T, gg_monetary) -> CLV columns.

    Pure pandas, so it is testable without Spark. Rows with a null ``bg_T`` (non-customers)
    score null.
    """
    unit = float(settings.time_unit_days)
    horizon = horizon_days / unit
    periods = max(1, math.ceil(settings.horizon_days / settings.period_days))
    period_rate = (1.0 + settings.annual_discount_rate) ** (settings.period_days / 365.0) - 1.0
    period_length = settings.period_days / unit
    bg, gg = models.bgnbd, models.gamma_gamma

    def score(pdf: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(np.nan, index=pdf.index, columns=list(CLV_COLUMNS))
        ok = pdf["bg_T"].notna() & pdf["bg_frequency"].notna()
        if bg is None or not ok.any():
            return out
        x = pdf.loc[ok, "bg_frequency"].to_numpy(dtype=float)
        t_x = pdf.loc[ok, "bg_recency"].to_numpy(dtype=float)
        big_t = pdf.loc[ok, "bg_T"].to_numpy(dtype=float)
        m = pdf.loc[ok, "gg_monetary"].to_numpy(dtype=float)
        out.loc[ok, "p_alive"] = bgnbd_p_alive(bg, x, t_x, big_t)
        out.loc[ok, "expected_purchases"] = bgnbd_expected_purchases(bg, horizon, x, t_x, big_t)
        out.loc[ok, "p_purchase"] = bgnbd_p_purchase(bg, horizon, x, t_x, big_t)
        if gg is not None and gg.q > 1:
            out.loc[ok, "expected_avg_spend"] = gamma_gamma_expected_spend(gg, x, m)
            out.loc[ok, "clv"] = customer_lifetime_value(
                bg,
                gg,
                x,
                t_x,
                big_t,
                m,
                periods=periods,
                period_length=period_length,
                discount_rate=period_rate,
            )
        return out.round(6)

    return score


def with_clv(
    models: ClvModels, settings: ClvSettings, horizon_days: int
) -> Callable[[DataFrame], DataFrame]:
    """Add :data:`CLV_COLUMNS` (and ``churn_score`` = 1 - ``p_purchase``) to every row.

    ``expected_purchases`` and ``p_purchase`` are over the next ``horizon_days``; ``clv`` over
    ``settings.horizon_days``, discounted per ``settings.period_days`` period.
    """
    score = score_frame(models, settings, horizon_days)
    schema = ", ".join(f"{c} double" for c in CLV_COLUMNS)

    @F.pandas_udf(schema)  # type: ignore[call-overload]
    def _clv(x: pd.Series, t_x: pd.Series, big_t: pd.Series, m: pd.Series) -> pd.DataFrame:
        pdf = pd.DataFrame({"bg_frequency": x, "bg_recency": t_x, "bg_T": big_t, "gg_monetary": m})
        return score(pdf)

    def _(df: DataFrame) -> DataFrame:
        if models.bgnbd is None:
            out = df
            for c in CLV_COLUMNS:
                out = out.withColumn(c, F.lit(None).cast("double"))
            return out.withColumn("churn_score", F.lit(None).cast("double"))
        scored = df.withColumn(
            "_clv",
            _clv(
                F.col("bg_frequency").cast("double"),
                F.col("bg_recency").cast("double"),
                F.col("bg_T").cast("double"),
                F.col("gg_monetary").cast("double"),
            ),
        )
        for c in CLV_COLUMNS:
            scored = scored.withColumn(c, F.col(f"_clv.{c}"))
        return scored.drop("_clv").withColumn(
            "churn_score", F.round(F.lit(1.0) - F.col("p_purchase"), 6)
        )

    return _
