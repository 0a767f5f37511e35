"""Shared ``main()`` of the thin ``jobs/*.py`` spark-submit entrypoints.

Each job parses ``--conf`` (and optional ``--lakehouse``, ``--run-id``), builds the session
(respecting spark-submit's master and confs), and runs its stage(s) through
:func:`unification.pipeline.run_pipeline`, so every run is logged in ``ops.run_log``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from unification.config import load_config
from unification.errors import UnificationError

logger = logging.getLogger(__name__)


def parse_args(description: str, argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments every job accepts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--conf", default="conf/demo.yml", help="run configuration YAML")
    parser.add_argument("--lakehouse", default=None, help="override lakehouse.root")
    parser.add_argument("--catalog", default=None, help="metastore catalog (Databricks)")
    parser.add_argument(
        "--schema-suffix", default=None, help="suffix of the bronze/silver/gold schema names"
    )
    parser.add_argument("--as-of", default=None, help="feature date YYYY-MM-DD")
    parser.add_argument("--run-id", default=None, help="run id (default: a new one)")
    parser.add_argument("--wait", action="store_true", help="wait for a concurrent run")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--incremental",
        dest="mode",
        action="store_const",
        const="incremental",
        help="process only new bronze batches (run.mode: incremental)",
    )
    mode.add_argument(
        "--full", dest="mode", action="store_const", const="full", help="run.mode: full"
    )
    parser.add_argument(
        "--stages", default=None, help="comma-separated stages (run_pipeline job only)"
    )
    return parser.parse_args(argv)


def stage_main(
    stages: Sequence[str] | None, description: str, argv: Sequence[str] | None = None
) -> int:
    """Run ``stages`` (None = all, or ``--stages``) and return a process exit code."""
    from pyspark.sql import SparkSession

    from unification.pipeline import run_pipeline
    from unification.spark import configure_builder, prepare_session

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from unification.privacy.hygiene import install_log_redaction

    install_log_redaction()
    args = parse_args(description, argv)
    overrides: dict[str, Any] = {}
    lakehouse: dict[str, Any] = {}
    if args.lakehouse:
        lakehouse["root"] = args.lakehouse
    if args.catalog:
        lakehouse["catalog"] = args.catalog
    if args.schema_suffix is not None:
        lakehouse["schema_suffix"] = args.schema_suffix
    if lakehouse:
        overrides["lakehouse"] = lakehouse
    if args.as_of:
        overrides.setdefault("run", {})["as_of"] = args.as_of
    if args.mode:
        overrides.setdefault("run", {})["mode"] = args.mode
    try:
        cfg = load_config(args.conf, overrides=overrides or None)
        spark = prepare_session(
            configure_builder(SparkSession.builder, cfg.spark).getOrCreate(), cfg
        )
        selected = list(stages) if stages else (args.stages.split(",") if args.stages else None)
        results = run_pipeline(spark, cfg, stages=selected, run_id=args.run_id, wait=args.wait)
    except UnificationError as exc:
        logger.error("%s", exc)
        return 2
    for result in results:
        logger.info("%s done in %.1fs: %s", result.stage, result.seconds, result.metrics)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(stage_main(None, "run the pipeline"))
