"""SparkSession builder helper.

Like delta's ``configure_spark_with_delta_pip``, :func:`configure_builder` *returns a builder*;
only ``jobs/*.py main()``, the CLI and test fixtures call ``getOrCreate()``.

Locally the builder gets a 2-core friendly default (``local[2]``, few shuffle partitions, no UI),
the Delta SQL extension and catalog, Delta's jars through delta-spark's pip helper (resolved once
from Maven Central by Spark's Ivy resolver and cached under ``~/.ivy2*``, never committed) and
Splink's Spark 4 similarity-UDF jar from the installed splink wheel.

Under ``spark-submit`` (the JVM already exists: ``PYSPARK_GATEWAY_PORT`` is set) the master,
jars and confs given on the command line are respected: nothing that would override them is set.
Pass Delta and Splink there with ``unify spark-submit-args`` (prints the ``--packages`` and
``--jars`` values).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from unification.config import AppConfig, SparkConfig

logger = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"

#: Confs that make small local jobs bearable on a 2-core machine.
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.adaptive.enabled": "true",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.databricks.delta.properties.defaults.checkpointInterval": "20",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    "spark.driver.extraJavaOptions": "-Dderby.system.home=/tmp/unification-derby",
}


def launched_by_spark_submit() -> bool:
    """True when this Python process was started by ``spark-submit`` (the JVM exists)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def splink_jar_path() -> str:
    """Path of Splink's Spark similarity-UDF jar shipped inside the splink wheel."""
    from splink.backends.spark import similarity_jar_location

    return str(similarity_jar_location())


def delta_maven_coordinates() -> str:
    """Maven coordinates of the Delta jar matching the installed pyspark and delta-spark."""
    from importlib.metadata import version

    import pyspark

    spark_mm = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_mm}_2.13:{version('delta-spark')}"


def configure_builder(
    builder: SparkSession.Builder,
    spark_cfg: SparkConfig | None = None,
) -> SparkSession.Builder:
    """Add this project's settings to ``builder`` and return it.

    Args:
        builder: usually ``SparkSession.builder``.
        spark_cfg: the ``spark:`` section of the run config (defaults if None).

    Returns:
        The same builder, configured.
    """
    from delta import configure_spark_with_delta_pip

    cfg = spark_cfg or SparkConfig()
    builder = builder.appName(cfg.app_name)
    builder = builder.config("spark.sql.extensions", DELTA_EXTENSION)
    builder = builder.config("spark.sql.catalog.spark_catalog", DELTA_CATALOG)
    if launched_by_spark_submit():
        # master, jars and memory come from spark-submit; user confs still apply
        for key, value in cfg.conf.items():
            builder = builder.config(key, value)
        return builder
    builder = builder.master(cfg.master)
    # Python workers (pandas UDFs in standardise and identity) must run in this interpreter's
    # environment. PySpark reads PYSPARK_PYTHON from the environment, not from the conf.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = builder.config("spark.pyspark.python", os.environ["PYSPARK_PYTHON"])
    builder = builder.config("spark.driver.memory", cfg.driver_memory)
    builder = builder.config("spark.sql.shuffle.partitions", str(cfg.shuffle_partitions))
    for key, value in LOCAL_DEFAULTS.items():
        builder = builder.config(key, value)
    builder = builder.config("spark.jars", splink_jar_path())
    for key, value in cfg.conf.items():
        builder = builder.config(key, value)
    return configure_spark_with_delta_pip(builder)


def prepare_session(spark: SparkSession, cfg: AppConfig) -> SparkSession:
    """Per-session setup that needs a live session: checkpoint dir, log level."""
    if cfg.lakehouse.catalog is None:
        ckpt = Path(cfg.lakehouse.root) / "_checkpoints"
        ckpt.mkdir(parents=True, exist_ok=True)
        spark.sparkContext.setCheckpointDir(str(ckpt))
    if not launched_by_spark_submit():
        spark.sparkContext.setLogLevel("ERROR")
    return spark


def build_session(cfg: AppConfig) -> SparkSession:
    """Create (or get) the session for a run of ``cfg``. For jobs and the CLI only."""
    spark = configure_builder(SparkSession.builder, cfg.spark).getOrCreate()
    return prepare_session(spark, cfg)
