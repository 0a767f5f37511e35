"""``unify match``: load the saved model, predict, add deterministic links, cluster.

Tables written (one Delta MERGE each, only changed rows rewritten):

``silver.match_pairs``
    **Grain**: one row per candidate pair kept (scored at or above
    ``matching.pairs_min_probability``, or linked by a deterministic rule).
    **Key**: (``record_key_l``, ``record_key_r``) with ``record_key_l < record_key_r``.
    Columns: :data:`unification.schemas.MATCH_PAIRS_CORE` (``match_rule`` = ``splink`` or the
    deterministic rule names) plus, per comparison, ``gamma_<name>`` (the level reached) and
    ``bf_<name>`` / ``bf_tf_adj_<name>`` (its Bayes factor), so every link can be explained.

``silver.record_clusters``
    **Grain**: one row per person record (singletons included). **Key**: ``record_key``.
    ``cluster_id`` is the smallest ``record_key`` of the cluster (connected components over
    scored pairs at or above ``matching.match_threshold`` plus deterministic links).

Blocking rules, thresholds and deterministic rules come from the run config (they can change
without retraining); comparisons and parameters come from the model JSON.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.errors import UnificationError
from unification.matching.blocking import check_blocking
from unification.matching.clustering import apply_vetoes, cluster_records
from unification.matching.deterministic import deterministic_pairs, oversized_groups
from unification.matching.incremental import (
    CONSUMER,
    SOURCE_TABLE,
    kept_scored_pairs,
    match_fingerprint,
    plan_delta,
    score_delta,
)
from unification.matching.model import (
    active_rules,
    blocking_rule_creator,
    cleanup_splink,
    min_non_null,
    model_input_columns,
    profile_fields,
    rule_fields,
    spark_db_api,
    splink_checkpoint_entries,
    with_codegen_fallback,
)
from unification.matching.settings import VetoRule
from unification.matching.training import (
    model_path,
    read_match_input,
    spec_fingerprint,
    summary_path,
)
from unification.privacy.hashing import sha256_hex
from unification.schemas import MATCH_PAIRS_KEY, RECORD_CLUSTERS
from unification.state import set_watermarks

if TYPE_CHECKING:
    from unification.config import AppConfig

logger = logging.getLogger(__name__)


class ModelNotTrainedError(UnificationError):
    """``unify match`` needs a model: run ``unify train`` first."""


def load_model(cfg: AppConfig) -> dict[str, Any]:
    """The saved model JSON as a dict; warn when the conf's comparisons changed since."""
    path = model_path(cfg)
    if not path.is_file():
        raise ModelNotTrainedError(
            f"no trained model at {path}: run `unify train` (matching.model_file under "
            f"models_dir) before `unify match`"
        )
    model: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    spath = summary_path(cfg)
    if spath.is_file():
        trained = json.loads(spath.read_text(encoding="utf-8")).get("spec_fingerprint")
        if trained and trained != spec_fingerprint(cfg):
            logger.warning(
                "match: matching.comparisons (or name settings) changed since the model was "
                "trained; run `unify train` to use them"
            )
    return model


def _pairs_from_predictions(pred: DataFrame) -> DataFrame:
    """Splink's predictions -> pair rows: core columns, ``gamma_<name>`` (level reached) and
    ``bf_<name>`` / ``bf_tf_adj_<name>`` (Bayes factors, ``2 ** mw_*`` of Splink 5's partial
    match weights)."""
    gammas = [c for c in pred.columns if c.startswith("gamma_")]
    weights = [c for c in pred.columns if c.startswith("mw_")]
    l_key = F.least("record_key_l", "record_key_r")
    r_key = F.greatest("record_key_l", "record_key_r")
    return pred.select(
        l_key.alias("record_key_l"),
        r_key.alias("record_key_r"),
        F.col("match_weight").cast("double").alias("match_weight"),
        F.col("match_probability").cast("double").alias("match_probability"),
        *[F.col(c) for c in gammas],
        *[F.pow(F.lit(2.0), F.col(c)).alias("bf_" + c[3:]) for c in weights],
    )


def active_vetoes(model: dict[str, Any], rules: Sequence[VetoRule]) -> list[VetoRule]:
    """Veto rules the trained model supports: a rule tied to a comparison is dropped when m of
    that comparison's last level (records of one person disagreeing) exceeds
    ``max_m_disagree``."""
    m_last: dict[str, float] = {}
    for comp in model.get("comparisons", []):
        levels = [lv for lv in comp.get("comparison_levels", []) if not lv.get("is_null_level")]
        m = levels[-1].get("m_probability") if levels else None
        if isinstance(m, (int, float)):
            m_last[str(comp.get("output_column_name"))] = float(m)
    keep = []
    for rule in rules:
        m = m_last.get(rule.comparison) if rule.comparison else None
        if m is not None and m > rule.max_m_disagree:
            logger.info(
                "match: veto %s off: m(all other) of %s is %.3f > %.3f (too noisy in this data)",
                rule.name,
                rule.comparison,
                m,
                rule.max_m_disagree,
            )
            continue
        keep.append(rule)
    return keep


def combine_pairs(scored: DataFrame, det: DataFrame, run_id: str) -> DataFrame:
    """One row per pair: Splink scores (when scored) and the rule that linked it.

    ``match_rule`` is the deterministic rule names when a rule linked the pair, else ``splink``.
    """
    out = scored.join(det, list(MATCH_PAIRS_KEY), "full_outer")
    explain = [c for c in scored.columns if c.startswith(("gamma_", "bf_"))]
    return out.select(
        "record_key_l",
        "record_key_r",
        "match_weight",
        "match_probability",
        F.coalesce(F.col("match_rule"), F.lit("splink")).alias("match_rule"),
        F.lit(run_id).alias("_run_id"),
        *explain,
    )


def run_match(spark: SparkSession, cfg: AppConfig, run_id: str) -> dict[str, Any]:
    """Stage entry: predict with the saved model, link deterministically, cluster, write.

    Returns:
        Metrics for the run log: records, comparisons per blocking rule, pairs kept, links
        (scored and per deterministic rule), clusters, singletons, largest cluster, clusters
        over ``matching.max_cluster_size`` and timings.

    Raises:
        ModelNotTrainedError: no model JSON.
        GuardrailError: a blocking rule would generate too many comparisons.
    """
    # ---- engine dispatch (matching.engine; the DuckDB engine is in duckdb_engine.py) ----
    from unification.matching.duckdb_engine import resolve_engine, run_match_duckdb

    if resolve_engine(spark, cfg.matching) == "duckdb":
        return run_match_duckdb(spark, cfg, run_id)
    # ---- end of engine dispatch: below, the Spark engine ----

    from splink import Linker, SettingsCreator

    from unification.lakehouse import Lakehouse
    from unification.standardise.records import write_minimal_change

    s = cfg.matching
    lh = Lakehouse(cfg.lakehouse)
    model = load_model(cfg)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()

    records_version = lh.version(spark, "silver", "person_records")
    fp = match_fingerprint(cfg, model)
    delta, why_full = plan_delta(spark, cfg, lh, fp)
    if delta is None and cfg.run.mode == "incremental":
        logger.info("match: full run (%s)", why_full)
    elif delta is not None:
        logger.info(
            "match: incremental run: %s new or changed records, %s removed since version %s",
            delta.changed_count,
            delta.removed_count,
            delta.since_version,
        )
    df = read_match_input(spark, cfg)
    for col in model_input_columns(model):
        if col not in df.columns:
            logger.warning("match: model column %s is not in the data; compared as null", col)
            df = df.withColumn(col, F.lit(None).cast("string"))
    df = df.persist()
    db_api = None
    before = splink_checkpoint_entries(spark)
    pairs = clusters = None
    try:
        fields = [f for r in s.blocking_rules_for_prediction for f in rule_fields(r)]
        profile = profile_fields(df, fields)
        floor = min_non_null(s, profile)
        rules, skipped = active_rules(s.blocking_rules_for_prediction, profile, floor)
        for label in skipped:
            logger.warning("match: blocking rule skipped (fields without data): %s", label)

        t0 = time.perf_counter()
        counts = check_blocking(df, rules, s.max_comparisons_per_rule, profile.records)
        timings["blocking_analysis"] = round(time.perf_counter() - t0, 2)

        vetoes = active_vetoes(model, s.veto_rules)
        db_api = spark_db_api(spark, s)
        registered = db_api.register(df, table_name=f"unify_match_input_{uuid.uuid4().hex[:8]}")
        creator = SettingsCreator.from_path_or_dict(model)
        creator.blocking_rules_to_generate_predictions = [blocking_rule_creator(r) for r in rules]
        creator.retain_intermediate_calculation_columns = True
        linker = Linker(registered, creator, log_level=None)

        t0 = time.perf_counter()

        def predict_pairs() -> DataFrame:
            if delta is None:
                predictions = linker.inference.predict(
                    threshold_match_probability=s.pairs_min_probability, warning_mode="never"
                ).as_spark_dataframe()
                scored = _pairs_from_predictions(predictions)
            elif delta.changed_count == 0:
                scored = kept_scored_pairs(spark, lh, delta)
            else:
                fresh = score_delta(linker, db_api, df, delta, model, s.pairs_min_probability)
                scored = _pairs_from_predictions(fresh).unionByName(
                    kept_scored_pairs(spark, lh, delta), allowMissingColumns=True
                )
            det = deterministic_pairs(df, s.deterministic_rules)
            out = apply_vetoes(combine_pairs(scored, det, run_id), df, vetoes)
            out = out.withColumn(
                "match_rule",
                F.when(
                    F.col("veto").isNotNull(), F.concat(F.lit("veto:"), F.col("veto"))
                ).otherwise(F.col("match_rule")),
            ).persist()
            out.count()
            return out

        pairs = with_codegen_fallback(spark, predict_pairs)
        is_det = (F.col("match_rule") != "splink") & ~F.col("match_rule").startswith("veto:")
        pair_stats = pairs.agg(
            F.count(F.lit(1)).alias("pairs"),
            F.sum(
                F.when(
                    (F.col("match_rule") == "splink")
                    & (F.col("match_probability") >= s.match_threshold),
                    1,
                ).otherwise(0)
            ).alias("splink_links"),
            F.sum(F.when(is_det, 1).otherwise(0)).alias("det_links"),
            F.sum(
                F.when(
                    is_det
                    & (
                        F.col("match_probability").isNull()
                        | (F.col("match_probability") < s.match_threshold)
                    ),
                    1,
                ).otherwise(0)
            ).alias("det_only_links"),
            F.sum(F.when(F.col("veto").isNotNull(), 1).otherwise(0)).alias("vetoed"),
        ).first()
        timings["predict"] = round(time.perf_counter() - t0, 2)

        t0 = time.perf_counter()
        clusters, cstats = cluster_records(df, pairs, db_api, s.match_threshold, vetoes)
        clusters = (
            clusters.withColumn("_run_id", F.lit(run_id))
            .select(*[F.col(f.name).cast(f.dataType) for f in RECORD_CLUSTERS.fields])
            .persist()
        )
        size_rows = (
            clusters.groupBy("cluster_id", "cluster_size")
            .agg(F.count(F.lit(1)).alias("n"))
            .groupBy()
            .agg(
                F.count(F.lit(1)).alias("clusters"),
                F.sum(F.when(F.col("cluster_size") == 1, 1).otherwise(0)).alias("singletons"),
                F.max("cluster_size").alias("max_size"),
                F.sort_array(
                    F.collect_list(
                        F.when(
                            F.col("cluster_size") > s.max_cluster_size,
                            F.struct(F.col("cluster_size"), F.col("cluster_id")),
                        )
                    ),
                    False,
                ).alias("oversized"),
            )
            .first()
        )
        timings["cluster"] = round(time.perf_counter() - t0, 2)
        assert pair_stats is not None and size_rows is not None
        oversized = [
            (r["cluster_id"], int(r["cluster_size"])) for r in (size_rows["oversized"] or [])
        ]
        for cid, size in oversized[:20]:
            logger.warning(
                "match: cluster %s has %s records (> matching.max_cluster_size = %s)",
                cid,
                size,
                s.max_cluster_size,
            )
        skipped_values = {}
        for rule in s.deterministic_rules:
            over = oversized_groups(df, rule).orderBy(F.desc("records")).limit(5).collect()
            if over:
                # values are contact data: the run log keeps a hash, never the value
                skipped_values[rule.name] = [
                    (sha256_hex(str(r["value"]))[:16], int(r["records"])) for r in over
                ]
                logger.warning(
                    "match: deterministic rule %s ignored %s value(s) shared by > %s records "
                    "(hashes in the run log)",
                    rule.name,
                    len(over),
                    rule.max_group_size,
                )

        t0 = time.perf_counter()
        write_minimal_change(
            pairs.drop("veto"), lh, "silver", "match_pairs", MATCH_PAIRS_KEY, run_id
        )
        write_minimal_change(clusters, lh, "silver", "record_clusters", ("record_key",), run_id)
        if records_version is not None:
            set_watermarks(spark, lh, CONSUMER, {SOURCE_TABLE: records_version}, fp, run_id)
        timings["write"] = round(time.perf_counter() - t0, 2)
        timings["total"] = round(time.perf_counter() - t_all, 2)

        metrics: dict[str, Any] = {
            "mode": "full" if delta is None else "incremental",
            "records_scored": profile.records if delta is None else delta.changed_count,
            "records_removed": 0 if delta is None else delta.removed_count,
            "records": profile.records,
            "comparisons_by_rule": {c.rule: c.comparisons for c in counts},
            "skipped_blocking_rules": skipped,
            "pairs": int(pair_stats["pairs"] or 0),
            "splink_links": int(pair_stats["splink_links"] or 0),
            "deterministic_links": int(pair_stats["det_links"] or 0),
            "deterministic_only_links": int(pair_stats["det_only_links"] or 0),
            "deterministic_values_skipped": skipped_values,
            "veto_rules": [v.name for v in vetoes],
            "vetoed_pairs": int(pair_stats["vetoed"] or 0),
            "conflicting_clusters_split": cstats["conflicting_clusters"],
            "links_dropped_by_constraints": cstats["links_dropped_by_constraints"],
            "clusters": int(size_rows["clusters"] or 0),
            "singletons": int(size_rows["singletons"] or 0),
            "max_cluster_size": int(size_rows["max_size"] or 0),
            "oversized_clusters": len(oversized),
            "oversized_cluster_ids": [c for c, _ in oversized[:20]],
            "match_threshold": s.match_threshold,
            "seconds": timings,
        }
        logger.info(
            "match: %s records -> %s clusters (%s pairs kept, %.1fs)",
            metrics["records"],
            metrics["clusters"],
            metrics["pairs"],
            timings["total"],
        )
        return metrics
    finally:
        for frame in (pairs, clusters):
            if frame is not None:
                frame.unpersist()
        if db_api is not None:
            cleanup_splink(spark, db_api, before)
        df.unpersist()
        if delta is not None:
            delta.frame.unpersist()
