# Databricks notebook source
# MAGIC %md
# MAGIC # 04 · Features and segments
# MAGIC
# MAGIC Segment sizes, lifecycle stages and transitions, and feature distributions of the latest
# MAGIC `as_of` in `gold.customer_features`.
# MAGIC
# MAGIC Parameters: `conf`, `lakehouse`, `catalog`, `schema_suffix`.

# COMMAND ----------

from unification.notebook import config_from_widgets, declare_common_widgets

declare_common_widgets(dbutils.widgets)  # noqa: F821
cfg = config_from_widgets(dbutils.widgets)  # noqa: F821

# COMMAND ----------

# DBTITLE 1,Latest feature snapshot
from pyspark.sql import functions as F

from unification.lakehouse import Lakehouse

lh = Lakehouse(cfg.lakehouse)
features = lh.read(spark, "gold", "customer_features")  # noqa: F821
latest = features.agg(F.max("as_of")).first()[0]
snapshot = features.filter(F.col("as_of") == latest).cache()

# COMMAND ----------

# DBTITLE 1,Segment and lifecycle sizes
display(snapshot.groupBy("rfm_segment").count().orderBy(F.desc("count")))  # noqa: F821
display(snapshot.groupBy("lifecycle_stage").count().orderBy(F.desc("count")))  # noqa: F821

# COMMAND ----------

# DBTITLE 1,Lifecycle transitions of the latest run
transitions = lh.read(spark, "gold", "lifecycle_transitions")  # noqa: F821
display(  # noqa: F821
    transitions.filter(F.col("as_of") == latest)
    .groupBy("from_stage", "to_stage")
    .count()
    .orderBy(F.desc("count"))
)

# COMMAND ----------

# DBTITLE 1,Feature distributions
numeric = [f.name for f in snapshot.schema.fields if f.dataType.typeName() in ("double", "long", "integer")]
display(snapshot.select(numeric).summary("count", "min", "25%", "50%", "75%", "max"))  # noqa: F821
