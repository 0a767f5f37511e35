"""Point-in-time base features from the gold 360 view.

Everything here is a DataFrame -> DataFrame computation that only reads rows whose timestamp
is strictly before ``as_of`` (00:00 UTC of that day): a run for a past date reproduces what
was known then (given the current identity graph). Times are measured in whole days between
dates.

A *valid order* is a ``gold.orders`` row with a ``customer_id``, before ``as_of``, whose status
is not one of ``features.excluded_order_statuses``.
"""

from __future__ import annotations

from datetime import date, datetime, time

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from unification.errors import ConfigError
from unification.features.settings import FeatureSettings


def cutoff_ts(as_of: date) -> Column:
    """The timestamp literal of ``as_of`` 00:00: rows must be strictly before it."""
    return F.lit(datetime.combine(as_of, time.min)).cast("timestamp")


def valid_orders(orders: DataFrame, as_of: date, excluded_statuses: list[str]) -> DataFrame:
    """Orders of known customers, strictly before ``as_of``, that count as purchases."""
    excluded = [s.lower() for s in excluded_statuses]
    status_ok = F.col("status").isNull() | ~F.lower("status").isin(*excluded)
    return orders.filter(
        F.col("customer_id").isNotNull() & (F.col("order_ts") < cutoff_ts(as_of)) & status_ok
    )


def order_features(orders: DataFrame, as_of: date, settings: FeatureSettings) -> DataFrame:
    """RFM inputs and BG/NBD / Gamma-Gamma sufficient statistics per customer.

    Args:
        orders: valid orders (:func:`valid_orders`).
        as_of: snapshot date.
        settings: the features section.

    Returns:
        One row per customer with at least one valid order.
    """
    cutoff = cutoff_ts(as_of)
    day = F.lit(as_of)
    recent = F.col("order_ts") >= cutoff - F.expr("INTERVAL 90 DAYS")
    lookback = F.col("order_ts") >= cutoff - F.expr(f"INTERVAL {settings.lookback_days} DAYS")
    amount = F.coalesce(F.col("amount"), F.lit(0.0))
    per_order = orders.groupBy("customer_id").agg(
        F.countDistinct("order_key").alias("order_count"),
        F.min("order_ts").alias("first_order_ts"),
        F.max("order_ts").alias("last_order_ts"),
        F.sum(amount).alias("monetary_total"),
        F.count(F.when(recent, 1)).alias("orders_90d"),
        F.count(F.when(lookback, 1)).alias("orders_lookback"),
        F.sum(F.when(lookback, amount).otherwise(0.0)).alias("monetary_lookback"),
    )
    # purchase *days* (the lifetimes convention): several orders on one day are one purchase
    unit = float(settings.clv.time_unit_days)
    days = orders.groupBy("customer_id", F.to_date("order_ts").alias("d")).agg(
        F.sum(amount).alias("day_amount")
    )
    per_day = days.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("n_days"),
        F.min("d").alias("first_d"),
        F.max("d").alias("last_d"),
        F.sum("day_amount").alias("total"),
        F.min_by("day_amount", "d").alias("first_amount"),
    )
    clv_inputs = per_day.select(
        "customer_id",
        (F.col("n_days") - 1).cast("int").alias("bg_frequency"),
        (F.datediff("last_d", "first_d") / unit).alias("bg_recency"),
        (F.datediff(day, "first_d") / unit).alias("bg_T"),
        F.when(
            F.col("n_days") > 1, (F.col("total") - F.col("first_amount")) / (F.col("n_days") - 1)
        ).alias("gg_monetary"),
    )
    return (
        per_order.join(clv_inputs, "customer_id")
        .withColumn("recency_days", F.datediff(day, F.to_date("last_order_ts")))
        .withColumn("aov", F.col("monetary_total") / F.col("order_count"))
    )


def _shares(df: DataFrame, key: str, weight: Column, prefix: str) -> DataFrame:
    """Per customer: a sorted ``key -> share`` map and the top key (ties: smallest key)."""
    per_key = df.groupBy("customer_id", F.col(key).alias("k")).agg(weight.alias("w"))
    w_total = Window.partitionBy("customer_id")
    w_rank = Window.partitionBy("customer_id").orderBy(F.col("w").desc(), F.col("k"))
    ranked = per_key.withColumn("share", F.round(F.col("w") / F.sum("w").over(w_total), 6))
    ranked = ranked.withColumn("_rank", F.row_number().over(w_rank))
    return ranked.groupBy("customer_id").agg(
        F.map_from_entries(F.array_sort(F.collect_list(F.struct("k", "share")))).alias(
            f"{prefix}_share"
        ),
        F.max(F.when(F.col("_rank") == 1, F.col("k"))).alias(
            "preferred_channel" if prefix == "channel" else "top_category"
        ),
    )


def interaction_features(
    interactions: DataFrame, as_of: date, settings: FeatureSettings
) -> DataFrame:
    """Channel appetence, email and web engagement, and all-time counts per customer.

    Channel appetence counts *interactions a customer chose*: purchases (online / store),
    web sessions, email opens and clicks, and contacts (sends and raw page views are not
    counted). ``channel_share`` maps each channel to its share over the lookback window.
    """
    cutoff = cutoff_ts(as_of)
    known = interactions.filter(F.col("customer_id").isNotNull() & (F.col("event_ts") < cutoff))
    in_window = F.col("event_ts") >= cutoff - F.expr(f"INTERVAL {settings.lookback_days} DAYS")
    etype = F.lower(F.col("event_type"))
    is_email = F.col("kind") == "email_event"
    sends = is_email & etype.isin(*[t.lower() for t in settings.email_send_types])
    opens = is_email & etype.isin(*[t.lower() for t in settings.email_open_types])
    clicks = is_email & etype.isin(*[t.lower() for t in settings.email_click_types])
    session = F.col("kind") == "web_session"
    chosen = (
        ((F.col("kind") == "order") & (F.col("event_type") == "purchase"))
        | session
        | (F.col("kind") == "contact")
        | opens
        | clicks
    )
    counts = known.groupBy("customer_id").agg(
        F.min("event_ts").alias("first_interaction_ts"),
        F.count(F.when(in_window & chosen, 1)).alias("interactions_lookback"),
        F.count(F.when(in_window & sends, 1)).alias("email_sends"),
        F.count(F.when(in_window & opens, 1)).alias("email_opens"),
        F.count(F.when(in_window & clicks, 1)).alias("email_clicks"),
        F.count(F.when(in_window & session, 1)).alias("web_sessions"),
        F.max(F.when(session, F.to_date("event_ts"))).alias("_last_visit"),
        F.count(F.when(is_email, 1)).alias("email_events_total"),
        F.count(F.when(F.col("kind") == "contact", 1)).alias("contacts_total"),
        F.count(F.when(session, 1)).alias("web_sessions_total"),
    )
    rate = F.lit(30.0 / settings.lookback_days)
    counts = (
        counts.withColumn(
            "email_open_rate",
            F.when(
                F.col("email_sends") > 0,
                F.least(F.lit(1.0), F.col("email_opens") / F.col("email_sends")),
            ),
        )
        .withColumn(
            "email_click_rate",
            F.when(
                F.col("email_sends") > 0,
                F.least(F.lit(1.0), F.col("email_clicks") / F.col("email_sends")),
            ),
        )
        .withColumn("web_sessions_per_30d", F.col("web_sessions") * rate)
        .withColumn("days_since_last_web_visit", F.datediff(F.lit(as_of), "_last_visit"))
        .drop("_last_visit")
    )
    channels = _shares(known.filter(in_window & chosen), "channel", F.count(F.lit(1)), "channel")
    return counts.join(channels, "customer_id", "left")


def category_features(lines: DataFrame, orders: DataFrame) -> DataFrame:
    """Category affinity: share of spend per category over all valid orders before ``as_of``.

    Args:
        lines: ``gold.order_lines``.
        orders: valid orders (:func:`valid_orders`), which carry the point-in-time filter.
    """
    known = (
        lines.filter(F.col("category").isNotNull())
        .drop("customer_id", "order_ts")
        .join(orders.select("order_key", "customer_id"), "order_key")
    )
    weight = F.sum(F.greatest(F.coalesce(F.col("amount"), F.lit(0.0)), F.lit(0.0)) + F.lit(1e-9))
    return _shares(known, "category", weight, "category")


def customer_universe(
    interactions: DataFrame,
    orders: DataFrame,
    identity_graph: DataFrame | None,
    as_of: date,
) -> DataFrame:
    """Customers known before ``as_of``: any interaction or order, or an identity record first
    seen before then. One row per ``customer_id`` with ``graph_first_seen``."""
    cutoff = cutoff_ts(as_of)
    ids = (
        interactions.filter(F.col("customer_id").isNotNull() & (F.col("event_ts") < cutoff))
        .select("customer_id")
        .unionByName(orders.select("customer_id"))
        .withColumn("graph_first_seen", F.lit(None).cast("timestamp"))
    )
    if identity_graph is not None and "first_seen" in identity_graph.columns:
        graph = identity_graph.filter(F.col("first_seen") < cutoff).select(
            "customer_id", F.col("first_seen").alias("graph_first_seen")
        )
        ids = ids.unionByName(graph)
    return ids.groupBy("customer_id").agg(F.min("graph_first_seen").alias("graph_first_seen"))


def base_features(
    orders: DataFrame,
    lines: DataFrame,
    interactions: DataFrame,
    identity_graph: DataFrame | None,
    as_of: date,
    settings: FeatureSettings,
) -> DataFrame:
    """All point-in-time features that need no model, one row per known customer.

    Args:
        orders: ``gold.orders``.
        lines: ``gold.order_lines``.
        interactions: ``gold.interactions``.
        identity_graph: ``gold.identity_graph`` (or None): adds customers known only through
            a record (no event yet) when it has a ``first_seen`` column.
        as_of: snapshot date; only rows strictly before it are read.
        settings: the features section.

    Returns:
        Base feature columns of :data:`~unification.features.schemas.CUSTOMER_FEATURES`
        (no scores, stage or hash yet).
    """
    valid = valid_orders(orders, as_of, settings.excluded_order_statuses)
    universe = customer_universe(interactions, valid, identity_graph, as_of)
    df = (
        universe.join(order_features(valid, as_of, settings), "customer_id", "left")
        .join(interaction_features(interactions, as_of, settings), "customer_id", "left")
        .join(category_features(lines, valid), "customer_id", "left")
    )
    zero_long = [
        "order_count",
        "orders_90d",
        "orders_lookback",
        "interactions_lookback",
        "email_sends",
        "email_opens",
        "email_clicks",
        "web_sessions",
        "email_events_total",
        "contacts_total",
        "web_sessions_total",
    ]
    df = df.fillna(0, subset=zero_long).fillna(
        0.0, subset=["monetary_total", "monetary_lookback", "web_sessions_per_30d"]
    )
    first_seen = F.least("graph_first_seen", "first_interaction_ts", "first_order_ts")
    df = (
        df.withColumn("as_of", F.lit(as_of))
        .withColumn("first_seen_ts", first_seen)
        .withColumn("tenure_days", F.datediff(F.lit(as_of), F.to_date(first_seen)))
        .drop("graph_first_seen", "first_interaction_ts")
    )
    try:
        is_customer = F.coalesce(F.expr(settings.lifecycle.customer_definition), F.lit(False))
        return df.withColumn("is_customer", is_customer)
    except AnalysisException as exc:
        raise ConfigError(
            f"features.lifecycle.customer_definition: not valid over the base features: {exc}"
        ) from exc


def purchased_between(orders: DataFrame, start: date, end: date, excluded: list[str]) -> DataFrame:
    """Customers with a valid order in ``[start, end)`` (a label for time-split models):
    one row per ``customer_id`` with ``n_orders``."""
    in_window = valid_orders(orders, end, excluded).filter(F.col("order_ts") >= cutoff_ts(start))
    return in_window.groupBy("customer_id").agg(F.countDistinct("order_key").alias("n_orders"))
