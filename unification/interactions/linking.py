"""Attach events to customers, link anonymous ids, and derive web sessions.

* :func:`attach_customers`: an event's own link (``link_record_key``) -> ``customer_id`` through
  ``gold.identity_graph``.
* :func:`anonymous_id_links` / :func:`fill_from_anonymous_ids`: an anonymous id (web cookie)
  that is ever seen with a customer (a logged-in event) links *all* its events to that
  customer, before and after the login. When a cookie was logged in as several customers
  (a shared device), the customer with the most logged-in events wins (then the latest, then
  the smallest id); the event's own link always takes precedence.
* :func:`web_sessions`: one ``web_session`` interaction per visit; the source's ``session_id``
  when mapped, else a new session after ``session_gap_minutes`` of inactivity of one cookie.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def attach_customers(identity_graph: DataFrame | None) -> Callable[[DataFrame], DataFrame]:
    """Add ``record_key`` (the event's own link) and ``customer_id`` (from the identity graph).

    With no identity graph (the identity stage has not run yet) ``customer_id`` is null.
    """

    def _(df: DataFrame) -> DataFrame:
        out = df.withColumn("record_key", F.col("link_record_key"))
        if identity_graph is None:
            return out.withColumn("customer_id", F.lit(None).cast("string"))
        graph = identity_graph.select(
            F.col("record_key").alias("_g_record_key"), F.col("customer_id")
        ).dropDuplicates(["_g_record_key"])
        return out.join(graph, out["link_record_key"] == graph["_g_record_key"], "left").drop(
            "_g_record_key"
        )

    return _


def anonymous_id_links(events: DataFrame) -> DataFrame:
    """Resolve each (``source``, ``anonymous_id``) seen with a customer to one customer.

    Args:
        events: rows with ``source``, ``anonymous_id``, ``customer_id``, ``record_key`` and
            ``ts`` (event time).

    Returns:
        One row per linked (``source``, ``anonymous_id``) with ``anon_customer_id``,
        ``anon_record_key`` and ``n_customers`` (how many customers it was logged in as).
    """
    logged = events.filter(F.col("anonymous_id").isNotNull() & F.col("customer_id").isNotNull())
    per_customer = logged.groupBy("source", "anonymous_id", "customer_id").agg(
        F.count(F.lit(1)).alias("_n"),
        F.max("ts").alias("_last"),
        F.max_by("record_key", "ts").alias("_record_key"),
    )
    w = Window.partitionBy("source", "anonymous_id")
    ranked = Window.partitionBy("source", "anonymous_id").orderBy(
        F.col("_n").desc(), F.col("_last").desc(), F.col("customer_id")
    )
    return (
        per_customer.withColumn("n_customers", F.count(F.lit(1)).over(w))
        .withColumn("_rank", F.row_number().over(ranked))
        .filter("_rank = 1")
        .select(
            "source",
            "anonymous_id",
            F.col("customer_id").alias("anon_customer_id"),
            F.col("_record_key").alias("anon_record_key"),
            "n_customers",
        )
    )


def fill_from_anonymous_ids(links: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Fill ``customer_id`` / ``record_key`` of events without their own from ``links``."""

    def _(df: DataFrame) -> DataFrame:
        joined = df.join(links.drop("n_customers"), on=["source", "anonymous_id"], how="left")
        return (
            joined.withColumn("customer_id", F.coalesce("customer_id", "anon_customer_id"))
            .withColumn("record_key", F.coalesce("record_key", "anon_record_key"))
            .drop("anon_customer_id", "anon_record_key")
        )

    return _


def web_sessions(gap_minutes: int) -> Callable[[DataFrame], DataFrame]:
    """Web events -> one row per session (the ``web_session`` interactions).

    Args:
        gap_minutes: inactivity that starts a new session when the source maps no
            ``session_id``.

    Returns:
        A transform of web events (``source``, ``event_ts``, ``anonymous_id``, ``session_id``,
        ``customer_id``, ``record_key``, ``channel``) into rows of the interactions schema.
    """

    def _(df: DataFrame) -> DataFrame:
        actor = F.coalesce(
            F.concat(F.lit("a:"), "anonymous_id"),
            F.concat(F.lit("r:"), "record_key"),
            F.concat(F.lit("e:"), "event_key"),
        )
        w = Window.partitionBy("source", "_actor").orderBy("event_ts", "event_key")
        gap = F.col("event_ts").cast("long") - F.lag(F.col("event_ts").cast("long")).over(w)
        with_session = (
            df.withColumn("_actor", actor)
            .withColumn("_new", F.when(gap.isNull() | (gap > gap_minutes * 60), 1).otherwise(0))
            .withColumn("_n", F.sum("_new").over(w))
            .withColumn(
                "_session",
                F.coalesce(
                    F.concat(F.lit("s:"), "session_id"),
                    F.concat_ws(":", "_actor", F.col("_n").cast("string")),
                ),
            )
        )
        known = F.when(F.col("customer_id").isNotNull(), F.struct("event_ts", "customer_id"))
        sessions = with_session.groupBy("source", "_session").agg(
            F.min("event_ts").alias("event_ts"),
            F.min(known).alias("_known"),
            F.min(
                F.when(F.col("record_key").isNotNull(), F.struct("event_ts", "record_key"))
            ).alias("_rk"),
            F.min("anonymous_id").alias("anonymous_id"),
            F.min("channel").alias("channel"),
        )
        # a derived session's id depends on the order of its events: key it by its start
        session_id = F.when(F.col("_session").startswith("s:"), F.col("_session")).otherwise(
            F.concat_ws(
                ":",
                F.regexp_replace("_session", r":\d+$", ""),
                F.col("event_ts").cast("long").cast("string"),
            )
        )
        return sessions.select(
            F.concat(F.col("source"), F.lit(":web_session:"), F.sha2(session_id, 256)).alias(
                "event_key"
            ),
            F.col("_known.customer_id").alias("customer_id"),
            F.col("_rk.record_key").alias("record_key"),
            "anonymous_id",
            "source",
            F.lit("web_session").alias("kind"),
            "channel",
            F.lit("session").alias("event_type"),
            "event_ts",
            F.lit(None).cast("double").alias("amount"),
        )

    return _
