"""Match-quality review helpers for ``notebooks/02_match_quality_review.py``.

Splink's own charts of the saved model (match weights, m/u parameters) and the pairs a human
should look at: those whose probability is closest to the threshold, with their per-comparison
levels, ready to be settled with ``unify decide must-link|cannot-link``.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.config import AppConfig
from unification.lakehouse import Lakehouse


def model_charts(spark: SparkSession, cfg: AppConfig) -> dict[str, Any]:
    """Splink charts (altair) of the saved model: ``match_weights`` and ``m_u_parameters``."""
    from splink import Linker

    from unification.matching.model import spark_db_api
    from unification.matching.predict import load_model
    from unification.matching.training import read_match_input

    model = load_model(cfg)
    db_api = spark_db_api(spark, cfg.matching)
    records = read_match_input(spark, cfg).limit(1000)
    linker = Linker(db_api.register(records), model)
    return {
        "match_weights": linker.visualisations.match_weights_chart(),
        "m_u_parameters": linker.visualisations.m_u_parameters_chart(),
    }


def borderline_pairs(spark: SparkSession, cfg: AppConfig, *, limit: int = 50) -> DataFrame:
    """Scored pairs nearest to probability 0.5, with their comparison levels (for review)."""
    pairs = Lakehouse(cfg.lakehouse).read(spark, "silver", "match_pairs")
    levels = [c for c in pairs.columns if c.startswith("gamma_")]
    return (
        pairs.where(F.col("match_probability").isNotNull())
        .withColumn("distance_to_half", F.abs(F.col("match_probability") - 0.5))
        .orderBy("distance_to_half")
        .select("record_key_l", "record_key_r", "match_weight", "match_probability", *levels)
        .limit(limit)
    )


def weight_distribution(spark: SparkSession, cfg: AppConfig) -> DataFrame:
    """Number of pairs per integer match weight, and per linking rule."""
    pairs = Lakehouse(cfg.lakehouse).read(spark, "silver", "match_pairs")
    return (
        pairs.groupBy(F.floor("match_weight").alias("match_weight"), "match_rule")
        .count()
        .orderBy("match_weight", "match_rule")
    )
