# Databricks notebook source
# MAGIC %md
# MAGIC # 01 · Set up and run the unification pipeline
# MAGIC
# MAGIC Parameters (widgets):
# MAGIC - `conf`: run configuration YAML (default `conf/demo.yml`)
# MAGIC - `lakehouse`: local lakehouse root, empty to use the configuration's
# MAGIC - `catalog`, `schema_suffix`: Unity Catalog location (empty: local lakehouse)
# MAGIC - `stages`: comma-separated subset of stages, empty for all

# COMMAND ----------

from unification.notebook import config_from_widgets, declare_common_widgets

declare_common_widgets(dbutils.widgets)  # noqa: F821
dbutils.widgets.text("stages", "", "Stages (empty: all)")  # noqa: F821
cfg = config_from_widgets(dbutils.widgets)  # noqa: F821

# COMMAND ----------

# DBTITLE 1,Run the pipeline
from unification.pipeline import run_pipeline
from unification.spark import prepare_session

prepare_session(spark, cfg)  # noqa: F821
stages = [s for s in dbutils.widgets.get("stages").split(",") if s]  # noqa: F821
results = run_pipeline(spark, cfg, stages=stages or None)  # noqa: F821

# COMMAND ----------

# DBTITLE 1,What the run logged
from unification.lakehouse import Lakehouse

run_log = Lakehouse(cfg.lakehouse).read(spark, "ops", "run_log")  # noqa: F821
display(run_log.orderBy(run_log.started_at.desc()).limit(20))  # noqa: F821
