# Databricks notebook source
# MAGIC %md
# MAGIC # 03 · Customer 360 lookup
# MAGIC
# MAGIC Find a customer by email, phone, customer id or source record, and see their golden
# MAGIC profile (with provenance and consent), every source record behind it, and their timeline.
# MAGIC
# MAGIC Parameters: `conf`, `lakehouse`, `catalog`, `schema_suffix`, and one of
# MAGIC `customer_id`, `email`, `phone` (E.164 or as typed), `record` (`source:source_id`).

# COMMAND ----------

from unification.notebook import config_from_widgets, declare_common_widgets

declare_common_widgets(dbutils.widgets)  # noqa: F821
for name in ("customer_id", "email", "phone", "record"):
    dbutils.widgets.text(name, "", name)  # noqa: F821
cfg = config_from_widgets(dbutils.widgets)  # noqa: F821

# COMMAND ----------

# DBTITLE 1,Find the customer
from unification.publish.lookup import customer_360, find_customer_ids

ids = find_customer_ids(
    spark,  # noqa: F821
    cfg,
    customer_id=dbutils.widgets.get("customer_id") or None,  # noqa: F821
    email=dbutils.widgets.get("email") or None,  # noqa: F821
    phone=dbutils.widgets.get("phone") or None,  # noqa: F821
    record=dbutils.widgets.get("record") or None,  # noqa: F821
)
view = customer_360(spark, cfg, ids)  # noqa: F821

# COMMAND ----------

# DBTITLE 1,Golden profile
display(view["profile"])  # noqa: F821

# COMMAND ----------

# DBTITLE 1,Source records (identity graph)
display(view["records"])  # noqa: F821

# COMMAND ----------

# DBTITLE 1,Timeline
display(view["timeline"])  # noqa: F821

# COMMAND ----------

# DBTITLE 1,Features
display(view["features"])  # noqa: F821
