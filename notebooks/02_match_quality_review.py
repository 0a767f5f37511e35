# Databricks notebook source
# MAGIC %md
# MAGIC # 02 · Match quality review
# MAGIC
# MAGIC Splink's charts of the saved model, the distribution of match weights, cluster sizes,
# MAGIC and the borderline pairs a human should settle with
# MAGIC `unify decide must-link|cannot-link LEFT RIGHT --reason ...`.
# MAGIC
# MAGIC Parameters: `conf`, `lakehouse`, `catalog`, `schema_suffix`.

# COMMAND ----------

from unification.notebook import config_from_widgets, declare_common_widgets

declare_common_widgets(dbutils.widgets)  # noqa: F821
cfg = config_from_widgets(dbutils.widgets)  # noqa: F821

# COMMAND ----------

# DBTITLE 1,The model: match weights and m/u parameters (Splink charts)
from unification.publish.review import model_charts

charts = model_charts(spark, cfg)  # noqa: F821
displayHTML(charts["match_weights"].to_html())  # noqa: F821
displayHTML(charts["m_u_parameters"].to_html())  # noqa: F821

# COMMAND ----------

# DBTITLE 1,Match weights of this run's pairs
from unification.publish.review import weight_distribution

display(weight_distribution(spark, cfg))  # noqa: F821

# COMMAND ----------

# DBTITLE 1,Cluster sizes
from pyspark.sql import functions as F

from unification.lakehouse import Lakehouse

clusters = Lakehouse(cfg.lakehouse).read(spark, "silver", "record_clusters")  # noqa: F821
display(clusters.groupBy("cluster_size").count().orderBy("cluster_size"))  # noqa: F821

# COMMAND ----------

# DBTITLE 1,Borderline pairs to review
from unification.publish.review import borderline_pairs

display(borderline_pairs(spark, cfg, limit=50))  # noqa: F821
