"""The features stage: ``gold.customer_features`` as of a date and ``gold.lifecycle_transitions``.

Tables written (grain; key), schemas in :mod:`unification.features.schemas`:

* ``gold.customer_features``: one row per customer known before ``as_of`` and snapshot;
  key (``customer_id``, ``as_of``). Snapshots accumulate; a re-run of an ``as_of`` replaces
  that snapshot's rows in one MERGE (unchanged rows, by ``_row_hash``, are not rewritten).
* ``gold.lifecycle_transitions``: one row per customer whose stage changed since the previous
  snapshot (the latest ``as_of`` before this one); key (``customer_id``, ``as_of``). A re-run
  on the same ``as_of`` writes nothing new.

Steps: point-in-time base features (:mod:`~unification.features.base`), RFM
(:mod:`~unification.features.rfm`), BG/NBD + Gamma-Gamma fitted on aggregated statistics and
applied to every customer (:mod:`~unification.features.clv_spark`), propensity trained on the
``as_of - N days`` snapshot and evaluated with the churn score
(:mod:`~unification.features.propensity`), lifecycle stage
(:mod:`~unification.features.lifecycle`). No per-customer data is collected to the driver.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.config import AppConfig
from unification.errors import UnificationError
from unification.features.base import base_features, purchased_between
from unification.features.clv_spark import ClvModels, fit_clv_models, with_clv
from unification.features.lifecycle import transitions, with_lifecycle_stage
from unification.features.propensity import (
    evaluate_churn,
    evaluate_propensity,
    fit_propensity,
    holdout_flag,
    predict_propensity,
    with_model_inputs,
)
from unification.features.rfm import quintile_boundaries, with_rfm
from unification.features.schemas import CUSTOMER_FEATURES, LIFECYCLE_TRANSITIONS
from unification.features.settings import FeatureSettings
from unification.interactions.schemas import ORDER_LINES
from unification.lakehouse import Lakehouse

logger = logging.getLogger(__name__)

#: Columns whose distribution over customers is reported in the run metrics.
DISTRIBUTION_COLUMNS: tuple[str, ...] = (
    "recency_days",
    "order_count",
    "monetary_total",
    "aov",
    "tenure_days",
    "p_alive",
    "expected_purchases",
    "p_purchase",
    "expected_avg_spend",
    "clv",
    "churn_score",
    "propensity",
    "email_open_rate",
    "web_sessions_per_30d",
)


class FeatureInputError(UnificationError):
    """The gold 360 view the features need does not exist yet."""


def resolve_as_of(cfg: AppConfig, as_of: date | None) -> date:
    """``as_of`` if given, else ``run.as_of`` from the config, else today."""
    if as_of is not None:
        return as_of
    if cfg.run.as_of:
        return date.fromisoformat(cfg.run.as_of)
    return date.today()


@dataclass
class Snapshot:
    """One scored snapshot: the frame, its CLV models, RFM boundaries and the cached base."""

    frame: DataFrame
    models: ClvModels
    boundaries: dict[str, Any]
    base: DataFrame

    def unpersist(self) -> None:
        """Release the cached base frame."""
        self.base.unpersist()


def snapshot(
    orders: DataFrame,
    lines: DataFrame,
    interactions: DataFrame,
    identity_graph: DataFrame | None,
    as_of: date,
    settings: FeatureSettings,
    *,
    rfm: bool = True,
) -> Snapshot:
    """Base features, RFM and CLV of one snapshot (its base frame is cached: call
    :meth:`Snapshot.unpersist` when done)."""
    base = base_features(orders, lines, interactions, identity_graph, as_of, settings).cache()
    bounds = quintile_boundaries(base, settings.rfm.quantile_relative_error) if rfm else {}
    models = fit_clv_models(base, settings.clv)
    scored = base.transform(with_clv(models, settings.clv, settings.horizon_days))
    if rfm:
        scored = scored.transform(with_rfm(bounds, settings.rfm))
    return Snapshot(scored, models, bounds, base)


def conform_features(df: DataFrame, run_id: str) -> DataFrame:
    """Select and type the :data:`CUSTOMER_FEATURES` columns and add ``_row_hash``."""
    cols = [f for f in CUSTOMER_FEATURES.fields if f.name not in ("_row_hash", "_run_id")]
    out = df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in cols])
    row_hash = F.sha2(F.to_json(F.struct(*[f.name for f in cols])), 256)
    return out.withColumn("_row_hash", row_hash).withColumn("_run_id", F.lit(run_id))


def replace_snapshot(
    lh: Lakehouse,
    df: DataFrame,
    table: str,
    *,
    key: tuple[str, ...],
    as_of: date,
    changed: str,
    run_id: str,
) -> None:
    """Make the ``as_of`` rows of ``gold.<table>`` equal to ``df`` in one MERGE.

    Matched rows are updated only when ``changed`` (SQL over ``t.``/``s.``) holds, new rows are
    inserted, and rows of this ``as_of`` absent from ``df`` are deleted; other snapshots are
    untouched.
    """
    spark = df.sparkSession
    if not lh.exists(spark, "gold", table):
        lh.write(df, "gold", table, mode="append", run_id=run_id)
        return
    cond = " AND ".join(f"t.`{k}` = s.`{k}`" for k in key)
    spark.conf.set("spark.databricks.delta.commitInfo.userMetadata", run_id)
    try:
        (
            lh.delta_table(spark, "gold", table)
            .alias("t")
            .merge(df.alias("s"), cond)
            .whenMatchedUpdateAll(condition=changed)
            .whenNotMatchedInsertAll()
            .whenNotMatchedBySourceDelete(condition=f"t.as_of = DATE'{as_of.isoformat()}'")
            .execute()
        )
    finally:
        spark.conf.unset("spark.databricks.delta.commitInfo.userMetadata")


def _read_inputs(
    spark: SparkSession, lh: Lakehouse
) -> tuple[DataFrame, DataFrame, DataFrame, DataFrame | None]:
    orders = lh.read_or_none(spark, "gold", "orders")
    interactions = lh.read_or_none(spark, "gold", "interactions")
    if orders is None or interactions is None:
        raise FeatureInputError(
            "gold.orders / gold.interactions do not exist: run the interactions stage first"
        )
    lines = lh.read_or_none(spark, "gold", "order_lines")
    if lines is None:
        lines = spark.createDataFrame([], ORDER_LINES)
    return orders, lines, interactions, lh.read_or_none(spark, "gold", "identity_graph")


def _previous_snapshot(
    spark: SparkSession, lh: Lakehouse, as_of: date
) -> tuple[DataFrame | None, date | None]:
    table = lh.read_or_none(spark, "gold", "customer_features")
    if table is None:
        return None, None
    row = table.filter(F.col("as_of") < F.lit(as_of)).agg(F.max("as_of")).first()
    previous = row[0] if row else None
    if previous is None:
        return None, None
    return table.filter(F.col("as_of") == F.lit(previous)), previous


def _distributions(df: DataFrame) -> dict[str, Any]:
    """5th / 50th / 95th percentiles and null counts of :data:`DISTRIBUTION_COLUMNS` over
    customers (one Spark action)."""
    cols = list(DISTRIBUTION_COLUMNS)
    aggs = []
    for c in cols:
        value = F.col(c).cast("double")
        aggs.append(F.percentile_approx(value, [0.05, 0.5, 0.95], 1000).alias(f"q_{c}"))
        aggs.append(F.sum(value.isNull().cast("int")).alias(f"n_{c}"))
    row = df.filter(F.col("is_customer")).agg(*aggs).first()
    out: dict[str, Any] = {}
    for c in cols:
        q = row[f"q_{c}"] if row else None
        out[c] = {
            "p05": round(q[0], 6) if q else None,
            "p50": round(q[1], 6) if q else None,
            "p95": round(q[2], 6) if q else None,
            "nulls": int(row[f"n_{c}"] or 0) if row else 0,
        }
    return out


def _train_and_score(
    t0_scored: DataFrame,
    current: DataFrame,
    labels: DataFrame,
    settings: FeatureSettings,
) -> tuple[DataFrame, dict[str, Any]]:
    """Churn evaluation and propensity (fit at t0, evaluate on held-out, score ``current``)."""
    metrics: dict[str, Any] = {}
    labelled = (
        t0_scored.join(labels, "customer_id", "left")
        .withColumn("label", F.col("n_orders").isNotNull().cast("int"))
        .drop("n_orders")
        .transform(with_model_inputs)
        .cache()
    )
    metrics["churn"] = evaluate_churn(labelled)
    p = settings.propensity
    train = labelled.filter(~holdout_flag(p.holdout_percent)).cache()
    stats = train.agg(F.count(F.lit(1)).alias("n"), F.sum("label").alias("pos")).first()
    n_train = int(stats["n"]) if stats else 0
    positives = int(stats["pos"] or 0) if stats else 0
    metrics["propensity"] = {"n_train": n_train, "train_positives": positives, "model": p.model}
    if n_train < p.min_train_rows or positives < p.min_positives or positives == n_train:
        metrics["propensity"]["skipped"] = (
            f"{n_train} training rows / {positives} positives: below min_train_rows "
            f"{p.min_train_rows} or min_positives {p.min_positives}"
        )
        logger.warning("propensity not trained: %s", metrics["propensity"]["skipped"])
        train.unpersist()
        labelled.unpersist()
        return current.withColumn("propensity", F.lit(None).cast("double")), metrics
    model = fit_propensity(train, p)
    test = labelled.filter(holdout_flag(p.holdout_percent)).transform(predict_propensity(model))
    test = test.cache()
    metrics["propensity"].update(evaluate_propensity(test))
    scored = current.transform(with_model_inputs).transform(predict_propensity(model))
    scored = scored.drop(*[c for c in scored.columns if c.startswith("_x_")])
    for df in (test, train, labelled):
        df.unpersist()
    return scored, metrics


def run_features(
    spark: SparkSession, cfg: AppConfig, run_id: str, as_of: date | None = None
) -> dict[str, Any]:
    """Compute and write ``gold.customer_features`` as of a date and the lifecycle transitions.

    Args:
        spark: the session.
        cfg: the run configuration (``features:`` section).
        run_id: recorded on each Delta commit and in ``_run_id``.
        as_of: snapshot date (only data strictly before it is used); default ``run.as_of``
            from the config, else today.

    Returns:
        Metrics for the run log: counts, lifecycle and RFM segment distributions, transitions,
        fitted CLV parameters, churn and propensity evaluation (AUC, Brier, calibration
        deciles, BG/NBD ranking AUC), feature distributions.

    Raises:
        FeatureInputError: when the 360 view (``gold.orders`` / ``gold.interactions``) is missing.
    """
    settings = cfg.features
    as_of = resolve_as_of(cfg, as_of)
    t0 = as_of - timedelta(days=settings.horizon_days)
    lh = Lakehouse(cfg.lakehouse)
    orders, lines, interactions, graph = _read_inputs(spark, lh)
    metrics: dict[str, Any] = {"as_of": as_of.isoformat(), "t0": t0.isoformat()}

    now = snapshot(orders, lines, interactions, graph, as_of, settings)
    metrics["rfm_boundaries"] = now.boundaries
    metrics["clv"] = now.models.info
    then = snapshot(orders, lines, interactions, graph, t0, settings, rfm=False)
    metrics["clv_t0"] = then.models.info
    labels = purchased_between(orders, t0, as_of, settings.excluded_order_statuses)
    current, model_metrics = _train_and_score(then.frame, now.frame, labels, settings)
    metrics.update(model_metrics)

    staged = current.transform(with_lifecycle_stage(settings.lifecycle.stages))
    final = conform_features(staged, run_id).cache()

    previous, previous_as_of = _previous_snapshot(spark, lh, as_of)
    moves = transitions(
        final,
        previous,
        previous_as_of,
        emit_initial=settings.lifecycle.emit_initial_transitions,
    ).withColumn("_run_id", F.lit(run_id))
    moves = moves.select(
        *[F.col(f.name).cast(f.dataType).alias(f.name) for f in LIFECYCLE_TRANSITIONS.fields]
    ).cache()
    move_counts = moves.groupBy("from_stage", "to_stage").count().collect()
    metrics["previous_as_of"] = previous_as_of.isoformat() if previous_as_of else None
    metrics["transitions"] = sum(int(r["count"]) for r in move_counts)
    metrics["transitions_by_stage"] = {
        f"{r['from_stage']}->{r['to_stage']}": int(r["count"]) for r in move_counts
    }

    replace_snapshot(
        lh,
        moves,
        "lifecycle_transitions",
        key=("customer_id", "as_of"),
        as_of=as_of,
        changed="NOT (t.from_stage <=> s.from_stage AND t.to_stage <=> s.to_stage "
        "AND t.previous_as_of <=> s.previous_as_of)",
        run_id=run_id,
    )
    replace_snapshot(
        lh,
        final,
        "customer_features",
        key=("customer_id", "as_of"),
        as_of=as_of,
        changed="t._row_hash <> s._row_hash",
        run_id=run_id,
    )

    counts = final.groupBy("lifecycle_stage", "is_customer", "rfm_segment").count().collect()
    stages: dict[str, int] = {}
    segments: dict[str, int] = {}
    for r in counts:
        stages[r["lifecycle_stage"]] = stages.get(r["lifecycle_stage"], 0) + int(r["count"])
        if r["is_customer"]:
            seg = str(r["rfm_segment"])
            segments[seg] = segments.get(seg, 0) + int(r["count"])
    metrics["lifecycle_stages"] = dict(sorted(stages.items()))
    metrics["customers"] = sum(stages.values())
    metrics["rfm_segments"] = dict(sorted(segments.items()))
    metrics["buyers"] = sum(segments.values())
    metrics["distributions"] = _distributions(final)
    for df in (final, moves):
        df.unpersist()
    now.unpersist()
    then.unpersist()
    logger.info("features as of %s: %s customers", as_of, metrics["customers"])
    return metrics
