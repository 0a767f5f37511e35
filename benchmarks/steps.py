"""One measured step per process (called by :mod:`benchmarks.run`; not meant to be run by hand).

``python -m benchmarks.steps <step> --conf CONF --out OUT.json [...]``

* ``pipeline``: every stage of :data:`unification.pipeline.STAGES` in one Spark session,
  each stage measured; then (not measured) the matching input is saved as Parquet for the
  baselines;
* ``match``: the project's match stage (``run_match``) with ``--engine spark|duckdb`` on a
  lakehouse holding only ``silver.person_records``;
* ``splink-duckdb``: Splink on DuckDB, the same model (transpiled) and blocking rules on the same
  matching input: ``predict`` then ``cluster_pairwise_predictions_at_threshold``;
* ``splink-spark``: the same on Splink's Spark backend with its default options
  (``SparkAPI(spark_session=spark)``).

Each writes a JSON file of measured spans (see :mod:`benchmarks.measure`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import TreeSampler

logger = logging.getLogger("benchmarks")


def _write(out: Path, payload: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")


def _session(cfg: Any) -> Any:
    from unification.spark import build_session

    return build_session(cfg)


def _match_settings(cfg: Any, con: Any, table: str) -> tuple[list[Any], list[str]]:
    """Active prediction blocking rules of the conf on this input (as ``run_match`` does)."""
    from unification.matching.duckdb_engine import profile_table
    from unification.matching.model import active_rules, min_non_null, rule_fields

    s = cfg.matching
    fields = [f for r in s.blocking_rules_for_prediction for f in rule_fields(r)]
    profile = profile_table(con, table, fields)
    rules, skipped = active_rules(
        s.blocking_rules_for_prediction, profile, min_non_null(s, profile)
    )
    return rules, skipped


def step_pipeline(args: argparse.Namespace) -> dict[str, Any]:
    from unification.config import load_config
    from unification.matching.training import read_match_input
    from unification.pipeline import STAGE_NAMES, run_stage
    from unification.runlog import new_run_id

    cfg = load_config(args.conf)
    stages = args.stages.split(",") if args.stages else list(STAGE_NAMES)
    out: dict[str, Any] = {"step": "pipeline", "engine": cfg.matching.engine, "stages": {}}
    with TreeSampler() as sampler:
        with sampler.span("spark_session"):
            spark = _session(cfg)
        run_id = new_run_id()
        with sampler.span("pipeline_total") as total:
            for name in [n for n in STAGE_NAMES if n in stages]:
                with sampler.span(name) as span:
                    result = run_stage(spark, cfg, name, run_id)
                span.extra["metrics"] = {
                    k: v
                    for k, v in result.metrics.items()
                    if isinstance(v, (int, float, str)) or k == "seconds"
                }
        total.extra["stages"] = stages
        out["peak_rss_mib"] = sampler.overall_peak_mib
        out["spans"] = [s.as_dict() for s in sampler.spans]
    if args.export_match_input:
        t0 = time.perf_counter()
        import pyarrow.parquet as pq

        pq.write_table(read_match_input(spark, cfg).toArrow(), args.export_match_input)
        out["export_match_input_s"] = round(time.perf_counter() - t0, 2)
    spark.stop()
    return out


def step_match(args: argparse.Namespace) -> dict[str, Any]:
    from unification.config import load_config
    from unification.matching import run_match
    from unification.runlog import new_run_id

    overrides = {"lakehouse": {"root": args.lakehouse}} if args.lakehouse else None
    cfg = load_config(args.conf, overrides=overrides)
    cfg.matching.engine = args.engine
    out: dict[str, Any] = {"step": "match", "engine": args.engine}
    with TreeSampler() as sampler:
        with sampler.span("spark_session"):
            spark = _session(cfg)
        with sampler.span("warmup"):
            # as in a pipeline run, where match follows standardise in the same session: Delta
            # and the Python workers (pandas UDFs of the name keys) are already started
            from unification.matching.training import read_match_input

            read_match_input(spark, cfg).limit(10).collect()
        with sampler.span("match") as span:
            metrics = run_match(spark, cfg, new_run_id())
        span.extra["metrics"] = metrics
        out["peak_rss_mib"] = sampler.overall_peak_mib
        out["spans"] = [s.as_dict() for s in sampler.spans]
    spark.stop()
    return out


def _baseline_model(cfg: Any) -> dict[str, Any]:
    from unification.matching.predict import load_model

    return load_model(cfg)


def step_splink_duckdb(args: argparse.Namespace) -> dict[str, Any]:
    """Splink on DuckDB as a user would run it: DuckDB's own functions (``jaro_winkler`` is
    ``jaro_winkler_similarity``, ``substring_index`` a macro), default DuckDB settings."""
    import duckdb
    from splink import DuckDBAPI, Linker, SettingsCreator
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    from unification.config import load_config
    from unification.matching.duckdb_engine import (
        DUCKDB_MACROS,
        duckdb_blocking_rule,
        model_for_duckdb,
    )

    cfg = load_config(args.conf)
    s = cfg.matching
    out: dict[str, Any] = {"step": "splink-duckdb"}
    with TreeSampler() as sampler:
        with sampler.span("load"):
            con = duckdb.connect(":memory:")
            if args.threads:
                con.execute(f"SET threads TO {int(args.threads)}")
            for macro in DUCKDB_MACROS:
                con.execute(macro)
            con.execute(
                "CREATE MACRO jaro_winkler(a, b) AS "
                "CASE WHEN a IS NULL OR b IS NULL THEN 0.0 ELSE jaro_winkler_similarity(a, b) END"
            )
            con.execute(f"CREATE TABLE match_input AS SELECT * FROM read_parquet('{args.input}')")
            rules, _skipped = _match_settings(cfg, con, "match_input")
            db_api = DuckDBAPI(connection=con)
            df = db_api.register("match_input", table_name="bench_input")
            creator = SettingsCreator.from_path_or_dict(model_for_duckdb(_baseline_model(cfg)))
            creator.blocking_rules_to_generate_predictions = [
                duckdb_blocking_rule(r) for r in rules
            ]
            linker = Linker(df, creator, log_level=None)
        with sampler.span("predict") as sp:
            pred = linker.inference.predict(
                threshold_match_probability=s.pairs_min_probability, warning_mode="never"
            )
            sp.extra["pairs"] = con.execute(
                f"SELECT count(*) FROM {pred.physical_name}"
            ).fetchall()[0][0]
        with sampler.span("cluster") as sp:
            clusters = cluster_pairwise_predictions_at_threshold(
                df,
                pred,
                db_api=db_api,
                node_id_column_name="record_key",
                threshold_match_probability=s.match_threshold,
            )
            sp.extra["clusters"] = con.execute(
                f"SELECT count(DISTINCT cluster_id) FROM {clusters.physical_name}"
            ).fetchall()[0][0]
        out["peak_rss_mib"] = sampler.overall_peak_mib
        out["spans"] = [x.as_dict() for x in sampler.spans]
    return out


def step_splink_spark(args: argparse.Namespace) -> dict[str, Any]:
    """Splink on Spark with Splink's default options (break lineage by Parquet in the checkpoint
    dir, default repartitioning), on the project's local session (``local[2]``)."""
    from splink import Linker, SettingsCreator, SparkAPI
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    from unification.config import load_config
    from unification.matching.duckdb_engine import duckdb_connection
    from unification.matching.model import blocking_rule_creator

    cfg = load_config(args.conf)
    s = cfg.matching
    out: dict[str, Any] = {"step": "splink-spark"}
    con = duckdb_connection(threads=1)
    con.execute(f"CREATE TABLE match_input AS SELECT * FROM read_parquet('{args.input}')")
    rules, _skipped = _match_settings(cfg, con, "match_input")
    con.close()
    with TreeSampler() as sampler:
        with sampler.span("spark_session"):
            spark = _session(cfg)
        with sampler.span("warmup"):
            spark.read.parquet(args.input).limit(10).collect()
        with sampler.span("load"):
            sdf = spark.read.parquet(args.input)
            db_api = SparkAPI(spark_session=spark)
            df = db_api.register(sdf, table_name="bench_input")
            creator = SettingsCreator.from_path_or_dict(_baseline_model(cfg))
            creator.blocking_rules_to_generate_predictions = [
                blocking_rule_creator(r) for r in rules
            ]
            linker = Linker(df, creator, log_level=None)
        out["options"] = {
            "break_lineage_method": db_api.break_lineage_method,
            "num_partitions_on_repartition": db_api.num_partitions_on_repartition,
            "spark.sql.shuffle.partitions": spark.conf.get("spark.sql.shuffle.partitions"),
        }
        with sampler.span("predict") as sp:
            pred = linker.inference.predict(
                threshold_match_probability=s.pairs_min_probability, warning_mode="never"
            )
            sp.extra["pairs"] = pred.as_spark_dataframe().count()
        with sampler.span("cluster") as sp:
            clusters = cluster_pairwise_predictions_at_threshold(
                df,
                pred,
                db_api=db_api,
                node_id_column_name="record_key",
                threshold_match_probability=s.match_threshold,
            )
            sp.extra["clusters"] = (
                clusters.as_spark_dataframe().select("cluster_id").distinct().count()
            )
        out["peak_rss_mib"] = sampler.overall_peak_mib
        out["spans"] = [x.as_dict() for x in sampler.spans]
    spark.stop()
    return out


STEPS = {
    "pipeline": step_pipeline,
    "match": step_match,
    "splink-duckdb": step_splink_duckdb,
    "splink-spark": step_splink_spark,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.steps")
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--conf", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--engine", default="spark")
    parser.add_argument("--stages", default="")
    parser.add_argument("--input", default="")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--export-match-input", default="")
    parser.add_argument("--lakehouse", default="")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    payload = STEPS[args.step](args)
    _write(Path(args.out), payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
