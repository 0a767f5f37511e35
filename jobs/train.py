"""spark-submit entrypoint that retrains the Splink model (explicit, never part of a routine run).

spark-submit $(unify spark-submit-args) jobs/train.py --conf conf/demo.yml
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Train the model on silver.person_records and save it under the config's models_dir."""
    from pyspark.sql import SparkSession

    from unification.config import load_config
    from unification.lakehouse import Lakehouse
    from unification.matching import train_model
    from unification.runlog import new_run_id, stage_run
    from unification.spark import configure_builder, prepare_session

    logging.basicConfig(level=logging.INFO)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conf", default="conf/demo.yml")
    args = parser.parse_args(argv)
    cfg = load_config(args.conf)
    spark = prepare_session(configure_builder(SparkSession.builder, cfg.spark).getOrCreate(), cfg)
    run_id = new_run_id()
    with stage_run(spark, Lakehouse(cfg.lakehouse), run_id, "train") as rec:
        rec.metrics.update(train_model(spark, cfg, run_id))
    logging.getLogger(__name__).info("trained: %s", rec.metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
