"""Purchase propensity (Spark MLlib) and the evaluation of propensity and churn scores.

Time split: features as of ``t0 = as_of - N days`` (N = ``features.horizon_days``), label =
a valid order in ``[t0, as_of)``, i.e. in the N days after ``t0``. Customers of the ``t0``
snapshot are split by a hash of ``customer_id`` (``features.propensity.holdout_percent`` %
held out): the model is trained on the rest, evaluated on the held-out customers, then applied
to the ``as_of`` snapshot to score the next N days.

Evaluation (in Spark; only score histograms, bounded by the rounding of the scores to
:data:`HISTOGRAM_DECIMALS` decimals, reach the driver): AUC, Brier score and a decile
calibration table of the model, against the AUC of ranking the same customers by BG/NBD
expected purchases; and the churn score (``1 - P(purchase)`` from BG/NBD) against the actual
absence of purchase, for one-time and repeat buyers separately, next to ``1 - P(alive)``
(constant for one-time buyers, hence an AUC of 0.5 on them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from unification.features.settings import PropensitySettings

logger = logging.getLogger(__name__)

#: Decimals kept by :func:`score_histogram` (bounds its size to 10**k + 1 values per score).
HISTOGRAM_DECIMALS = 4

_NEVER = 3650.0  # "days since" for something that never happened


def _log1p(name: str, fill: float = 0.0) -> Column:
    return F.log1p(F.greatest(F.coalesce(F.col(name).cast("double"), F.lit(fill)), F.lit(0.0)))


#: Model inputs: name -> expression over ``gold.customer_features`` columns.
FEATURES: dict[str, Callable[[], Column]] = {
    "is_customer": lambda: F.col("is_customer").cast("double"),
    "log_recency_days": lambda: _log1p("recency_days", _NEVER),
    "log_order_count": lambda: _log1p("order_count"),
    "log_monetary_total": lambda: _log1p("monetary_total"),
    "log_aov": lambda: _log1p("aov"),
    "orders_90d": lambda: F.col("orders_90d").cast("double"),
    "log_orders_lookback": lambda: _log1p("orders_lookback"),
    "log_monetary_lookback": lambda: _log1p("monetary_lookback"),
    "log_tenure_days": lambda: _log1p("tenure_days"),
    "log_interactions_lookback": lambda: _log1p("interactions_lookback"),
    "log_email_opens": lambda: _log1p("email_opens"),
    "log_email_clicks": lambda: _log1p("email_clicks"),
    "email_open_rate": lambda: F.coalesce(F.col("email_open_rate"), F.lit(0.0)),
    "log_web_sessions": lambda: _log1p("web_sessions"),
    "log_days_since_web": lambda: _log1p("days_since_last_web_visit", _NEVER),
    "log_contacts_total": lambda: _log1p("contacts_total"),
}


def with_model_inputs(df: DataFrame) -> DataFrame:
    """Add the :data:`FEATURES` columns (prefixed ``_x_``)."""
    return df.select("*", *[f().alias(f"_x_{n}") for n, f in FEATURES.items()])


def holdout_flag(percent: int) -> Column:
    """True for the customers held out for evaluation (stable hash of ``customer_id``)."""
    return F.pmod(F.xxhash64("customer_id"), F.lit(100)) < F.lit(percent)


def fit_propensity(train: DataFrame, settings: PropensitySettings) -> PipelineModel:
    """Fit the propensity pipeline on rows with the model inputs and a 0/1 ``label``."""
    assembler = VectorAssembler(
        inputCols=[f"_x_{n}" for n in FEATURES], outputCol="_features_raw", handleInvalid="keep"
    )
    scaler = StandardScaler(inputCol="_features_raw", outputCol="_features", withMean=True)
    if settings.model == "gbt":
        clf: Any = GBTClassifier(
            featuresCol="_features", labelCol="label", maxIter=min(settings.max_iter, 50), seed=7
        )
    else:
        clf = LogisticRegression(
            featuresCol="_features",
            labelCol="label",
            maxIter=settings.max_iter,
            regParam=settings.reg_param,
        )
    return Pipeline(stages=[assembler, scaler, clf]).fit(train)


def predict_propensity(model: PipelineModel) -> Callable[[DataFrame], DataFrame]:
    """Add ``propensity`` (P(label = 1), rounded to 6 decimals) to rows with the model inputs."""

    def _(df: DataFrame) -> DataFrame:
        scored = model.transform(df)
        p = F.round(vector_to_array(F.col("probability"))[1], 6)
        return scored.withColumn("propensity", p).drop(
            "_features_raw", "_features", "rawPrediction", "probability", "prediction"
        )

    return _


def score_histogram(
    df: DataFrame, label: str, scores: dict[str, Column], group: Column | None = None
) -> pd.DataFrame:
    """One Spark action: positives and negatives per (group, score, rounded value).

    Scores are rounded to :data:`HISTOGRAM_DECIMALS` decimals (scores should lie in [0, 1]
    or be mapped there monotonically), so the result is bounded whatever the number of rows.

    Returns:
        pandas columns ``g`` (group, "all" when ``group`` is None), ``s`` (score name),
        ``v`` (value), ``pos``, ``neg``.
    """
    entries = F.array(
        *[
            F.struct(
                F.lit(name).alias("s"), F.round(col.cast("double"), HISTOGRAM_DECIMALS).alias("v")
            )
            for name, col in scores.items()
        ]
    )
    y = F.col(label).cast("int")
    rows = df.select(
        (group if group is not None else F.lit("all")).cast("string").alias("g"),
        y.alias("y"),
        F.explode(entries).alias("e"),
    ).filter(F.col("e.v").isNotNull() & F.col("y").isNotNull())
    hist = rows.groupBy("g", F.col("e.s").alias("s"), F.col("e.v").alias("v")).agg(
        F.sum("y").alias("pos"), F.sum(F.lit(1) - F.col("y")).alias("neg")
    )
    return hist.toPandas()


def auc_from_histogram(hist: pd.DataFrame) -> float | None:
    """ROC AUC from a (value, pos, neg) histogram; tied values count one half.

    None when a class is missing.
    """
    h = hist.groupby("v", as_index=False)[["pos", "neg"]].sum().sort_values("v")
    pos, neg = h["pos"].to_numpy(dtype=float), h["neg"].to_numpy(dtype=float)
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        return None
    neg_below = np.cumsum(neg) - neg
    return round(float((pos * (neg_below + 0.5 * neg)).sum() / (n_pos * n_neg)), 4)


def calibration_from_histogram(hist: pd.DataFrame, bins: int = 10) -> dict[str, Any]:
    """Brier score and a decile table (mean predicted vs observed rate) of a probability,
    from its (value, pos, neg) histogram."""
    h = hist.groupby("v", as_index=False)[["pos", "neg"]].sum().sort_values("v")
    v = h["v"].to_numpy(dtype=float)
    pos, neg = h["pos"].to_numpy(dtype=float), h["neg"].to_numpy(dtype=float)
    n = pos + neg
    total = n.sum()
    if total == 0:
        return {"brier": None, "buckets": []}
    brier = float((pos * (1 - v) ** 2 + neg * v**2).sum() / total)
    middle = np.cumsum(n) - n / 2
    bucket = np.minimum((middle / total * bins).astype(int), bins - 1)
    table = []
    for b in range(bins):
        sel = bucket == b
        nb = n[sel].sum()
        if nb == 0:
            continue
        table.append(
            {
                "bucket": b,
                "n": int(nb),
                "mean_predicted": round(float((v[sel] * n[sel]).sum() / nb), 4),
                "observed_rate": round(float(pos[sel].sum() / nb), 4),
            }
        )
    return {"brier": round(brier, 5), "buckets": table}


def auc(df: DataFrame, score: str, label: str = "label") -> float | None:
    """ROC AUC of one ``score`` column in [0, 1] for a 0/1 ``label`` (one Spark action)."""
    return auc_from_histogram(score_histogram(df, label, {score: F.col(score)}))


def _select(hist: pd.DataFrame, score: str, group: str | None = None) -> pd.DataFrame:
    sel = hist["s"] == score
    if group is not None:
        sel &= hist["g"] == group
    return hist[sel]


def evaluate_propensity(test: DataFrame) -> dict[str, Any]:
    """Compare the model's ``propensity`` with BG/NBD ``expected_purchases`` on held-out rows.

    Args:
        test: held-out rows with ``label``, ``propensity``, ``expected_purchases`` (null for
            non-buyers: ranked last) and ``is_customer``.

    Returns:
        AUC of both rankings (all held-out customers, and buyers only), the model's Brier
        score and decile calibration table. Two Spark actions in all.
    """
    # 1 - exp(-E) maps expected purchases monotonically into [0, 1) (same ranking)
    bg = F.coalesce(F.lit(1.0) - F.exp(-F.col("expected_purchases")), F.lit(-1.0))
    hist = score_histogram(
        test,
        "label",
        {"model": F.col("propensity"), "bgnbd": bg},
        F.when(F.col("is_customer"), "buyer").otherwise("other"),
    )
    model, bgnbd = _select(hist, "model"), _select(hist, "bgnbd")
    n = float(model["pos"].sum() + model["neg"].sum())
    return {
        "n_test": int(n),
        "test_positive_rate": round(float(model["pos"].sum()) / n, 4) if n else None,
        "auc_model": auc_from_histogram(model),
        "auc_bgnbd_expected_purchases": auc_from_histogram(bgnbd),
        "auc_model_buyers": auc_from_histogram(_select(hist, "model", "buyer")),
        "auc_bgnbd_expected_purchases_buyers": auc_from_histogram(_select(hist, "bgnbd", "buyer")),
        "calibration": calibration_from_histogram(model),
    }


def evaluate_churn(scored_t0: DataFrame) -> dict[str, Any]:
    """AUC of churn scores for "no purchase in the horizon", among buyers at ``t0``.

    Args:
        scored_t0: the ``t0`` snapshot with ``is_customer``, ``bg_frequency``, ``p_alive``,
            ``churn_score`` and ``label`` (1 = purchased in the horizon).

    Returns:
        AUC of ``churn_score`` and of ``1 - p_alive`` overall, for one-time and for repeat
        buyers, with the size and churn rate of each group. One Spark action.
    """
    buyers = scored_t0.filter(F.col("is_customer") & F.col("churn_score").isNotNull())
    hist = score_histogram(
        buyers.withColumn("churned", (F.col("label") == 0).cast("int")),
        "churned",
        {"churn_score": F.col("churn_score"), "one_minus_p_alive": 1 - F.col("p_alive")},
        F.when(F.col("bg_frequency") > 0, "repeat").otherwise("one_time"),
    )
    out: dict[str, Any] = {}
    for group in ("one_time", "repeat"):
        h = _select(hist, "churn_score", group)
        n = float(h["pos"].sum() + h["neg"].sum())
        out[f"n_{group}"] = int(n)
        out[f"churn_rate_{group}"] = round(float(h["pos"].sum()) / n, 4) if n else None
    for score in ("churn_score", "one_minus_p_alive"):
        out[f"auc_{score}_all"] = auc_from_histogram(_select(hist, score))
        for group in ("one_time", "repeat"):
            out[f"auc_{score}_{group}"] = auc_from_histogram(_select(hist, score, group))
    return out
