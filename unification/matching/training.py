"""``unify train``: estimate the Splink model on ``silver.person_records`` and save it.

Splink's recommended sequence, on Spark:

1. ``probability_two_random_records_match``: set in the conf, or estimated from near-certain
   rules (``training.p_rules``) and their assumed recall;
2. ``u`` by random sampling of record pairs (``training.u_max_pairs``, seeded);
3. ``m`` by expectation maximisation, one session per ``training.em_blocking_rules`` entry.

Comparisons and rules whose fields hold no data are skipped (and listed in the summary), so the
same conf trains on data with another mix of fields. The model JSON (Spark SQL dialect) goes to
``<models_dir>/<matching.model_file>`` and a training summary (parameters, m/u per level,
timings, skipped parts) to ``<models_dir>/<matching.summary_file>``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, SparkSession

from unification.errors import UnificationError
from unification.matching.model import (
    active_comparisons,
    active_rules,
    blocking_rule_creator,
    cleanup_splink,
    min_non_null,
    profile_fields,
    rule_fields,
    rule_label,
    spark_db_api,
    splink_checkpoint_entries,
    splink_settings,
    with_codegen_fallback,
)
from unification.matching.prepare import identifier_names, match_input
from unification.matching.settings import MatchingSettings

if TYPE_CHECKING:
    from unification.config import AppConfig

logger = logging.getLogger(__name__)


class TrainingError(UnificationError):
    """The model cannot be trained on this data (no comparison has values, no records...)."""


def model_path(cfg: AppConfig) -> Path:
    """Where the trained model JSON lives."""
    return Path(cfg.models_dir) / cfg.matching.model_file


def summary_path(cfg: AppConfig) -> Path:
    """Where the training summary JSON lives."""
    return Path(cfg.models_dir) / cfg.matching.summary_file


def spec_fingerprint(cfg: AppConfig) -> str:
    """Hash of what shapes the model: comparisons and the name-key settings."""
    payload = {
        "comparisons": [c.model_dump() for c in cfg.matching.comparisons],
        "names": cfg.standardise.names.model_dump(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def read_match_input(spark: SparkSession, cfg: AppConfig) -> DataFrame:
    """``silver.person_records`` as the matching input (see :mod:`.prepare`)."""
    from unification.lakehouse import Lakehouse

    lh = Lakehouse(cfg.lakehouse)
    records = lh.read_or_none(spark, "silver", "person_records")
    if records is None:
        raise TrainingError("silver.person_records does not exist: run `unify standardise` first")
    return records.transform(match_input(cfg.standardise, identifier_names(cfg)))


def candidate_fields(settings: MatchingSettings) -> list[str]:
    """Every column the matching settings may read."""
    names: list[str] = []
    for spec in settings.comparisons:
        names.extend(spec.fields)
    rules = [
        *settings.blocking_rules_for_prediction,
        *settings.training.em_blocking_rules,
        *settings.training.p_rules,
    ]
    for rule in rules:
        names.extend(rule_fields(rule))
    for det in settings.deterministic_rules:
        names.extend(det.fields)
    return list(dict.fromkeys(names))


def _parameters(model: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for comp in model.get("comparisons", []):
        levels = []
        for level in comp.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            bf = (m / u) if (m is not None and u) else None
            levels.append(
                {
                    "label": level.get("label_for_charts"),
                    "m": m,
                    "u": u,
                    "match_weight": round(math.log2(bf), 3) if bf else None,
                    "tf": bool(level.get("tf_adjustment_column")),
                }
            )
        out.append({"comparison": comp.get("output_column_name"), "levels": levels})
    return out


def correct_u_for_matches(model: dict[str, Any], sampled_pairs: float) -> int:
    """Remove the true matches' share from u estimated by random sampling (in place).

    A random pair is a match with probability ``p``, so the observed share of a level is
    ``u_obs = (1 - p) u + p m``; hence ``u = (u_obs - p m) / (1 - p)``, floored at one pair in
    the sample and renormalised. This matters for strong identifiers when records have several
    duplicates each (small data, many sources): there ``p m`` is as large as the true ``u``.

    Returns:
        Number of levels whose u changed by more than 1 %.
    """
    p = float(model.get("probability_two_random_records_match") or 0.0)
    floor = 1.0 / max(sampled_pairs, 1.0)
    changed = 0
    for comp in model.get("comparisons", []):
        levels = [
            lv
            for lv in comp.get("comparison_levels", [])
            if not lv.get("is_null_level")
            and isinstance(lv.get("u_probability"), (int, float))
            and isinstance(lv.get("m_probability"), (int, float))
        ]
        if not levels:
            continue
        new = [
            max((lv["u_probability"] - p * lv["m_probability"]) / (1 - p), floor) for lv in levels
        ]
        total = sum(new)
        for lv, u in zip(levels, new, strict=True):
            u = u / total
            if abs(u - lv["u_probability"]) > 0.01 * lv["u_probability"]:
                changed += 1
            lv["u_probability"] = u
    return changed


def train_model(spark: SparkSession, cfg: AppConfig, run_id: str) -> dict[str, Any]:
    """Estimate the model on the current ``silver.person_records`` and save it.

    Args:
        spark: the session (with Splink's UDF jar).
        cfg: the run configuration (``matching:`` section, ``models_dir``).
        run_id: recorded in the summary.

    Returns:
        The training summary (also written next to the model), for the run log.

    Raises:
        TrainingError: no records, or no comparison has usable values.
    """
    from splink import Linker

    s = cfg.matching
    t = s.training
    timings: dict[str, float] = {}
    t_all = time.perf_counter()

    df = read_match_input(spark, cfg).persist()
    db_api = None
    before = splink_checkpoint_entries(spark)
    try:
        t0 = time.perf_counter()
        profile = profile_fields(df, candidate_fields(s))
        timings["profile"] = round(time.perf_counter() - t0, 2)
        if profile.records < 2:
            raise TrainingError("silver.person_records has fewer than 2 records")
        floor = min_non_null(s, profile)
        comparisons, skipped_comparisons = active_comparisons(s, profile)
        if not comparisons:
            raise TrainingError(
                "no comparison of matching.comparisons has usable values: "
                + "; ".join(skipped_comparisons)
            )
        pred_rules, skipped_pred = active_rules(s.blocking_rules_for_prediction, profile, floor)
        em_rules, skipped_em = active_rules(t.em_blocking_rules, profile, floor)
        p_rules, skipped_p = active_rules(t.p_rules, profile, floor)
        for what, skipped in (
            ("comparison", skipped_comparisons),
            ("prediction blocking rule", skipped_pred),
            ("EM blocking rule", skipped_em),
            ("p rule", skipped_p),
        ):
            for item in skipped:
                logger.warning("train: %s skipped (fields without data): %s", what, item)

        db_api = spark_db_api(spark, s)
        table_name = f"unify_match_input_{uuid.uuid4().hex[:8]}"
        registered = db_api.register(df, table_name=table_name)
        linker = Linker(registered, splink_settings(s, comparisons, pred_rules), log_level=None)

        t0 = time.perf_counter()
        p_note = "configured"
        if t.probability_two_random_records_match is None:
            if p_rules:
                try:
                    linker.training.estimate_probability_two_random_records_match(
                        [blocking_rule_creator(r) for r in p_rules], recall=t.recall
                    )
                    p_note = f"estimated from {len(p_rules)} rules, recall {t.recall}"
                except ValueError as exc:
                    logger.warning("train: p not estimated (%s); Splink default kept", exc)
                    p_note = f"default (estimation failed: {exc})"
            else:
                p_note = "default (no usable p rule)"
        timings["probability_two_random_records_match"] = round(time.perf_counter() - t0, 2)

        t0 = time.perf_counter()
        with_codegen_fallback(
            spark,
            lambda: linker.training.estimate_u_using_random_sampling(
                max_pairs=t.u_max_pairs, seed=t.seed, min_count_per_level=None
            ),
        )
        timings["u_random_sampling"] = round(time.perf_counter() - t0, 2)

        sessions: list[dict[str, Any]] = []

        def run_em(rule: Any, fallback: bool = False) -> None:
            t0 = time.perf_counter()
            entry: dict[str, Any] = {"blocking_rule": rule_label(rule), "fallback": fallback}
            try:
                session = with_codegen_fallback(
                    spark,
                    lambda: linker.training.estimate_parameters_using_expectation_maximisation(
                        blocking_rule_creator(rule),
                        estimate_without_term_frequencies=t.estimate_without_term_frequencies,
                        max_pairs=t.em_max_pairs,
                    ),
                )
                entry["iterations"] = len(getattr(session, "_core_model_settings_history", []))
            except Exception as exc:  # an EM rule without pairs must not stop training
                logger.warning("train: EM on %s failed: %s", rule_label(rule), exc)
                entry["error"] = str(exc)[:500]
            entry["seconds"] = round(time.perf_counter() - t0, 2)
            sessions.append(entry)

        for rule in em_rules:
            run_em(rule)
        fallback, _ = active_rules(t.em_fallback_rules, profile, floor)
        for rule in fallback:
            if all(c._some_m_are_trained for c in linker._settings_obj.comparisons):
                break
            run_em(rule, fallback=True)
        timings["em"] = round(sum(x.get("seconds", 0.0) for x in sessions), 2)

        settings_obj = linker._settings_obj
        # a level never seen in the data keeps no estimate (normal on small data); a comparison
        # without any m or u estimate is untrained
        untrained = [
            str(c._is_trained_message).strip()
            for c in settings_obj.comparisons
            if not (c._some_m_are_trained and c._some_u_are_trained)
        ]
        partly = [
            str(c._is_trained_message).strip()
            for c in settings_obj.comparisons
            if (c._some_m_are_trained and c._some_u_are_trained) and not c._is_trained
        ]
        for msg in untrained:
            logger.warning("train: %s", msg)

        path = model_path(cfg)
        path.parent.mkdir(parents=True, exist_ok=True)
        model = linker.misc.save_model_to_json(str(path), overwrite=True)
        u_corrected = 0
        if t.correct_u_for_matches:
            sampled = min(t.u_max_pairs, profile.records * (profile.records - 1) / 2)
            u_corrected = correct_u_for_matches(model, sampled)
            path.write_text(json.dumps(model, indent=2), encoding="utf-8")
        timings["total"] = round(time.perf_counter() - t_all, 2)

        import splink

        summary: dict[str, Any] = {
            "run_id": run_id,
            "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "splink_version": splink.__version__,
            "model_file": path.name,
            "spec_fingerprint": spec_fingerprint(cfg),
            "records": profile.records,
            "field_coverage": {
                k: {"non_null": v.non_null, "distinct_approx": v.distinct}
                for k, v in sorted(profile.fields.items())
            },
            "comparisons": [{"field": c.field, "type": c.type} for c in comparisons],
            "skipped_comparisons": skipped_comparisons,
            "blocking_rules_for_prediction": [rule_label(r) for r in pred_rules],
            "skipped_blocking_rules": skipped_pred,
            "probability_two_random_records_match": model.get(
                "probability_two_random_records_match"
            ),
            "probability_two_random_records_match_source": p_note,
            "u_max_pairs": t.u_max_pairs,
            "u_levels_corrected_for_matches": u_corrected,
            "em_sessions": sessions,
            "skipped_em_rules": skipped_em,
            "untrained_comparisons": untrained,
            "partly_trained_comparisons": partly,
            "parameters": _parameters(model),
            "timings_seconds": timings,
        }
        summary_path(cfg).write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        logger.info(
            "train: model saved to %s (%s records, %.1fs)", path, profile.records, timings["total"]
        )
        return {
            "records": profile.records,
            "model_file": str(path),
            "comparisons": len(comparisons),
            "skipped_comparisons": len(skipped_comparisons),
            "em_sessions": len([x for x in sessions if "error" not in x]),
            "untrained_comparisons": len(untrained),
            "probability_two_random_records_match": summary["probability_two_random_records_match"],
            "seconds_u": timings["u_random_sampling"],
            "seconds_em": timings["em"],
            "seconds_total": timings["total"],
        }
    finally:
        if db_api is not None:
            cleanup_splink(spark, db_api, before)
        df.unpersist()
