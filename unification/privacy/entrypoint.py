"""Shared ``main()`` of the privacy and activation spark-submit jobs (``jobs/erase.py``,
``jobs/export.py``, ``jobs/sync_back.py``, ``jobs/vacuum.py``).

Like :func:`unification.entrypoint.stage_main`: ``--conf``, ``--lakehouse``, ``--catalog``,
``--schema-suffix``, ``--run-id``; the session respects spark-submit's master and confs; each
command is logged in ``ops.run_log`` under its own stage name; logs are PII-redacted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from unification.config import AppConfig, load_config
from unification.errors import UnificationError

logger = logging.getLogger(__name__)

Command = Callable[[Any, AppConfig, str, argparse.Namespace], dict[str, Any]]


def base_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every job accepts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--conf", default="conf/demo.yml", help="run configuration YAML")
    parser.add_argument("--lakehouse", default=None, help="override lakehouse.root")
    parser.add_argument("--catalog", default=None, help="metastore catalog (Databricks)")
    parser.add_argument("--schema-suffix", default=None, help="suffix of the schema names")
    parser.add_argument("--run-id", default=None, help="run id (default: a new one)")
    return parser


def job_main(
    stage: str,
    parser: argparse.ArgumentParser,
    command: Command,
    argv: Sequence[str] | None = None,
    *,
    lock: bool = False,
) -> int:
    """Parse ``argv``, build the session, run ``command`` under ``stage_run`` (and the run lock
    when ``lock``); return a process exit code."""
    from pyspark.sql import SparkSession

    from unification.lakehouse import Lakehouse
    from unification.pipeline import run_lock
    from unification.privacy.hygiene import install_log_redaction
    from unification.runlog import new_run_id, stage_run
    from unification.spark import configure_builder, prepare_session

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_log_redaction()
    args = parser.parse_args(argv)
    lakehouse: dict[str, Any] = {}
    if args.lakehouse:
        lakehouse["root"] = args.lakehouse
    if args.catalog:
        lakehouse["catalog"] = args.catalog
    if args.schema_suffix is not None:
        lakehouse["schema_suffix"] = args.schema_suffix
    try:
        cfg = load_config(args.conf, overrides={"lakehouse": lakehouse} if lakehouse else None)
        spark = prepare_session(
            configure_builder(SparkSession.builder, cfg.spark).getOrCreate(), cfg
        )
        run_id = args.run_id or new_run_id()
        if lock:
            with run_lock(cfg), stage_run(spark, Lakehouse(cfg.lakehouse), run_id, stage) as rec:
                rec.metrics.update(command(spark, cfg, run_id, args))
        else:
            with stage_run(spark, Lakehouse(cfg.lakehouse), run_id, stage) as rec:
                rec.metrics.update(command(spark, cfg, run_id, args))
    except UnificationError as exc:
        logger.error("%s", exc)
        return 2
    logger.info("%s done: %s", stage, rec.metrics)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(2)
