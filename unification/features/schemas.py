"""Schemas of the feature tables.

* ``gold.customer_features``: one row per customer and snapshot date; key
  (``customer_id``, ``as_of``). Point in time: a row only uses data strictly before ``as_of``
  (00:00 UTC of that day). Several snapshots are kept; re-running an ``as_of`` replaces its rows.
* ``gold.lifecycle_transitions``: one row per customer whose lifecycle stage changed between
  the previous snapshot and ``as_of``; key (``customer_id``, ``as_of``). The trigger feed of
  marketing scenarios.
"""

from __future__ import annotations

from pyspark.sql import types as T

_S, _D, _L, _I = T.StringType(), T.DoubleType(), T.LongType(), T.IntegerType()
_TS, _DATE, _B = T.TimestampType(), T.DateType(), T.BooleanType()
_SHARES = T.MapType(T.StringType(), T.DoubleType())

CUSTOMER_FEATURES_KEY: tuple[str, ...] = ("customer_id", "as_of")

#: ``gold.customer_features``: key (``customer_id``, ``as_of``).
CUSTOMER_FEATURES = T.StructType(
    [
        T.StructField("customer_id", _S, False),
        T.StructField("as_of", _DATE, False),
        # tenure and RFM inputs (valid orders before as_of)
        T.StructField("first_seen_ts", _TS, True),
        T.StructField("tenure_days", _I, True),
        T.StructField("order_count", _L, False),
        T.StructField("first_order_ts", _TS, True),
        T.StructField("last_order_ts", _TS, True),
        T.StructField("recency_days", _I, True),  # days from the last order to as_of
        T.StructField("monetary_total", _D, False),
        T.StructField("aov", _D, True),  # average order value
        T.StructField("orders_90d", _L, False),
        T.StructField("orders_lookback", _L, False),
        T.StructField("monetary_lookback", _D, False),
        T.StructField("is_customer", _B, False),  # features.lifecycle.customer_definition
        # RFM quintile scores (1..5, customers only) and the named segment
        T.StructField("rfm_r", _I, True),
        T.StructField("rfm_f", _I, True),
        T.StructField("rfm_m", _I, True),
        T.StructField("rfm_score", _S, True),
        T.StructField("rfm_segment", _S, True),
        # BG/NBD / Gamma-Gamma inputs (model time unit: features.clv.time_unit_days)
        T.StructField("bg_frequency", _I, True),
        T.StructField("bg_recency", _D, True),
        T.StructField("bg_T", _D, True),
        T.StructField("gg_monetary", _D, True),  # mean value of the repeat purchase days
        # CLV outputs (customers only; null when the models could not be fitted)
        T.StructField("p_alive", _D, True),
        T.StructField("expected_purchases", _D, True),  # next features.horizon_days
        T.StructField("p_purchase", _D, True),  # P(>= 1 purchase in the horizon), BG/NBD
        T.StructField("expected_avg_spend", _D, True),
        T.StructField("clv", _D, True),  # discounted, next features.clv.horizon_days
        T.StructField("churn_score", _D, True),  # 1 - p_purchase
        T.StructField("propensity", _D, True),  # MLlib P(purchase in the horizon)
        # channel appetence, category affinity, engagement (lookback window)
        T.StructField("interactions_lookback", _L, False),
        T.StructField("channel_share", _SHARES, True),
        T.StructField("preferred_channel", _S, True),
        T.StructField("category_share", _SHARES, True),
        T.StructField("top_category", _S, True),
        T.StructField("email_sends", _L, False),
        T.StructField("email_opens", _L, False),
        T.StructField("email_clicks", _L, False),
        T.StructField("email_open_rate", _D, True),
        T.StructField("email_click_rate", _D, True),
        T.StructField("web_sessions", _L, False),
        T.StructField("web_sessions_per_30d", _D, False),
        T.StructField("days_since_last_web_visit", _I, True),
        # all-time counts before as_of
        T.StructField("email_events_total", _L, False),
        T.StructField("contacts_total", _L, False),
        T.StructField("web_sessions_total", _L, False),
        T.StructField("lifecycle_stage", _S, False),
        T.StructField("_row_hash", _S, False),  # of every column but _run_id: unchanged = no write
        T.StructField("_run_id", _S, True),
    ]
)

LIFECYCLE_TRANSITIONS_KEY: tuple[str, ...] = ("customer_id", "as_of")

#: ``gold.lifecycle_transitions``: key (``customer_id``, ``as_of``).
LIFECYCLE_TRANSITIONS = T.StructType(
    [
        T.StructField("customer_id", _S, False),
        T.StructField("as_of", _DATE, False),
        T.StructField("previous_as_of", _DATE, True),  # the snapshot compared with
        T.StructField("from_stage", _S, True),  # null: not in the previous snapshot
        T.StructField("to_stage", _S, False),
        T.StructField("_run_id", _S, True),
    ]
)
