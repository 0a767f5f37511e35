"""The 360 view: bronze events -> ``gold.orders``, ``gold.order_lines``, ``gold.interactions``.

Tables written (grain; key):

* ``gold.orders`` (:data:`unification.schemas.ORDERS`): one row per order, online and store
  together, each with its ``source`` and ``channel``; key ``order_key`` = ``<source>:<order_id>``.
* ``gold.order_lines`` (:data:`unification.interactions.schemas.ORDER_LINES`): one row per
  order line; key ``line_key`` = ``<order_key>:<line_id>``.
* ``gold.interactions`` (:data:`unification.schemas.INTERACTIONS`): one row per event (orders,
  web events, derived web sessions, email events, contacts); key ``event_key``.

Every event keeps its anonymous id (cookie, ticket) and gets a ``customer_id`` as soon as an
identifier links it: its own link to a person record (through ``gold.identity_graph``), or a
logged-in event of the same anonymous id. Anonymous events stay with a null ``customer_id``.

The three tables are recomputed from bronze on each run (deduplicated to the latest delivery
of each key) and written with a Delta MERGE that updates only changed rows, inserts new ones
and deletes vanished ones: re-running on the same input changes nothing.
"""

from __future__ import annotations

import logging
from functools import reduce
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.config import AppConfig
from unification.interactions.events import (
    drop_delivery_columns,
    latest_delivery,
    mapped_events,
)
from unification.interactions.linking import (
    anonymous_id_links,
    attach_customers,
    fill_from_anonymous_ids,
    web_sessions,
)
from unification.interactions.schemas import KIND_FIELDS, ORDER_LINES
from unification.interactions.settings import InteractionSettings
from unification.lakehouse import Lakehouse
from unification.schemas import INTERACTIONS, ORDERS

logger = logging.getLogger(__name__)

_EVENT_KINDS = ("web_event", "email_event", "contact")


def _empty(spark: SparkSession, kind: str) -> DataFrame:
    fields = ", ".join(f"`{n}` {t.simpleString()}" for n, t in KIND_FIELDS[kind].items())
    schema = f"source string, entity string, kind string, {fields}, link_record_key string"
    return spark.createDataFrame([], schema)


def collect_mapped_events(
    spark: SparkSession, cfg: AppConfig, lh: Lakehouse
) -> dict[str, DataFrame]:
    """Every ``events:`` mapping of every source, evaluated over its bronze table, by kind.

    Missing bronze tables are skipped with a warning (the source was not ingested yet).
    """
    frames: dict[str, list[DataFrame]] = {k: [] for k in KIND_FIELDS}
    for source, entity_name, entity in cfg.entities():
        if not entity.events:
            continue
        table = f"{source.name}_{entity_name}"
        bronze = lh.read_or_none(spark, "bronze", table)
        if bronze is None:
            logger.warning("bronze.%s does not exist: its events are skipped", table)
            continue
        for mapping in entity.events:
            frames[mapping.kind].append(mapped_events(bronze, source.name, entity_name, mapping))
    out = {}
    for kind, dfs in frames.items():
        if dfs:
            out[kind] = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), dfs)
        else:
            out[kind] = _empty(spark, kind)
    return out


def build_order_lines(lines: DataFrame) -> DataFrame:
    """Mapped order-line rows -> one row per ``line_key`` (latest delivery), no customer yet.

    ``line_id`` defaults to ``product_id``; ``amount`` to ``quantity * unit_price``.
    """
    return (
        lines.withColumn("line_id", F.coalesce("line_id", "product_id"))
        .filter(F.col("order_id").isNotNull() & F.col("line_id").isNotNull())
        .withColumn("order_key", F.concat_ws(":", "source", "order_id"))
        .withColumn("line_key", F.concat_ws(":", "order_key", "line_id"))
        .withColumn("amount", F.coalesce("amount", F.col("quantity") * F.col("unit_price")))
        .transform(latest_delivery(["line_key"]))
        .transform(drop_delivery_columns)
    )


def build_orders(orders: DataFrame, lines: DataFrame) -> DataFrame:
    """Mapped order rows -> one row per ``order_key`` (latest delivery).

    The amount defaults to the sum of the order's lines; the channel to ``store`` when the order
    has a ``store_id``, else ``online``. Returns the mapped columns plus ``order_key``.
    """
    line_totals = lines.groupBy("order_key").agg(F.sum("amount").alias("_lines_amount"))
    deduped = (
        orders.filter(F.col("order_id").isNotNull() & F.col("order_ts").isNotNull())
        .withColumn("order_key", F.concat_ws(":", "source", "order_id"))
        .transform(latest_delivery(["order_key"]))
        .transform(drop_delivery_columns)
    )
    return (
        deduped.join(line_totals, "order_key", "left")
        .withColumn("amount", F.coalesce("amount", "_lines_amount"))
        .withColumn(
            "channel",
            F.coalesce(
                F.lower("channel"),
                F.when(F.col("store_id").isNotNull(), F.lit("store")).otherwise(F.lit("online")),
            ),
        )
        .drop("_lines_amount")
    )


def build_events(events: DataFrame, settings: InteractionSettings) -> DataFrame:
    """Mapped web/email/contact rows -> one row per ``event_key`` (latest delivery)."""
    mapped = [c for c in KIND_FIELDS["web_event"] if c != "event_id"]
    content = F.sha2(F.to_json(F.struct(*mapped, "entity", "link_record_key")), 256)
    default_channel = F.element_at(
        F.create_map(
            *[F.lit(x) for kv in settings.default_channels.items() for x in kv]
            or [F.lit("web_event"), F.lit("web")]
        ),
        F.col("kind"),
    )
    return (
        events.filter(F.col("event_ts").isNotNull())
        .withColumn(
            "event_key",
            F.concat_ws(":", "source", "entity", "kind", F.coalesce("event_id", content)),
        )
        .withColumn("channel", F.coalesce(F.lower("channel"), default_channel, F.col("kind")))
        .transform(latest_delivery(["event_key"]))
        .transform(drop_delivery_columns)
    )


def link_all(
    orders: DataFrame,
    events: DataFrame,
    identity_graph: DataFrame | None,
    settings: InteractionSettings,
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Attach orders and events to customers (own links, then anonymous ids).

    Returns:
        ``(orders, events, anonymous_links)`` with ``customer_id`` and ``record_key`` filled
        where an identifier links them.
    """
    orders = orders.transform(attach_customers(identity_graph))
    events = events.transform(attach_customers(identity_graph))
    spine = orders.select(
        "source", "anonymous_id", "customer_id", "record_key", F.col("order_ts").alias("ts")
    ).unionByName(
        events.select(
            "source", "anonymous_id", "customer_id", "record_key", F.col("event_ts").alias("ts")
        )
    )
    links = anonymous_id_links(spine)
    if settings.link_anonymous_ids:
        orders = orders.transform(fill_from_anonymous_ids(links))
        events = events.transform(fill_from_anonymous_ids(links))
    return orders, events, links


def interactions_frame(
    orders: DataFrame,
    events: DataFrame,
    settings: InteractionSettings,
    excluded_statuses: list[str],
) -> DataFrame:
    """Orders, events and derived web sessions on one timeline (the interactions schema).

    An order's ``event_type`` is ``purchase``, or its status when that status is excluded
    (``cancelled``, ``returned``...: not a purchase).
    """
    excluded = F.lower(F.col("status")).isin(*[s.lower() for s in excluded_statuses])
    from_orders = orders.select(
        F.concat(F.lit("order:"), "order_key").alias("event_key"),
        "customer_id",
        "record_key",
        F.coalesce("anonymous_id", F.when(F.col("customer_id").isNull(), F.col("order_id"))).alias(
            "anonymous_id"
        ),
        "source",
        F.lit("order").alias("kind"),
        "channel",
        F.when(excluded, F.lower("status")).otherwise(F.lit("purchase")).alias("event_type"),
        F.col("order_ts").alias("event_ts"),
        "amount",
    )
    cols = [f.name for f in INTERACTIONS.fields]
    from_events = events.select(*cols)
    sessions = events.filter(F.col("kind") == "web_event").transform(
        web_sessions(settings.session_gap_minutes)
    )
    return from_orders.unionByName(from_events).unionByName(sessions.select(*cols))


def _conform(df: DataFrame, schema: Any) -> DataFrame:
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def _changed(columns: list[str], key: list[str]) -> str:
    rest = [c for c in columns if c not in key]
    return "NOT (" + " AND ".join(f"t.`{c}` <=> s.`{c}`" for c in rest) + ")"


def run_interactions(spark: SparkSession, cfg: AppConfig, run_id: str) -> dict[str, Any]:
    """Build the gold 360 view from bronze events and the identity graph.

    Args:
        spark: the session.
        cfg: the run configuration (sources' ``events:`` mappings, ``features.interactions``).
        run_id: recorded on each Delta commit.

    Returns:
        Counts for the run log: orders, order lines, interactions by kind, anonymous shares,
        linked anonymous ids, ids logged in as several customers.
    """
    settings = cfg.features.interactions
    lh = Lakehouse(cfg.lakehouse)
    mapped = collect_mapped_events(spark, cfg, lh)
    graph = lh.read_or_none(spark, "gold", "identity_graph")
    if graph is None:
        logger.warning("gold.identity_graph does not exist: every event stays anonymous")

    lines = build_order_lines(mapped["order_line"]).cache()
    orders = build_orders(mapped["order"], lines)
    events = reduce(
        lambda a, b: a.unionByName(b, allowMissingColumns=True),
        [mapped[k] for k in _EVENT_KINDS],
    )
    events = build_events(events, settings)
    orders, events, links = link_all(orders, events, graph, settings)
    orders = orders.cache()
    events = events.cache()

    gold_orders = _conform(orders, ORDERS)
    order_info = orders.select("order_key", "customer_id", "order_ts")
    gold_lines = _conform(lines.join(order_info, "order_key", "left"), ORDER_LINES)
    gold_interactions = _conform(
        interactions_frame(orders, events, settings, cfg.features.excluded_order_statuses),
        INTERACTIONS,
    ).cache()

    for df, table, key, schema in (
        (gold_orders, "orders", ["order_key"], ORDERS),
        (gold_lines, "order_lines", ["line_key"], ORDER_LINES),
        (gold_interactions, "interactions", ["event_key"], INTERACTIONS),
    ):
        lh.merge(
            df,
            "gold",
            table,
            on=key,
            update_condition=_changed(schema.fieldNames(), key),
            delete_not_matched_by_source=True,
            run_id=run_id,
        )

    metrics: dict[str, Any] = {"identity_graph_present": graph is not None}
    by_kind = (
        gold_interactions.groupBy("kind")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.sum(F.col("customer_id").isNull().cast("int")).alias("anonymous"),
        )
        .collect()
    )
    metrics["interactions"] = {r["kind"]: int(r["n"]) for r in by_kind}
    metrics["interactions_anonymous"] = {r["kind"]: int(r["anonymous"]) for r in by_kind}
    metrics["interactions_total"] = sum(metrics["interactions"].values())
    o = gold_orders.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.col("customer_id").isNull().cast("int")).alias("anonymous"),
        F.sum((F.col("channel") == "store").cast("int")).alias("store"),
    ).first()
    metrics["orders"] = int(o["n"]) if o else 0
    metrics["orders_anonymous"] = int(o["anonymous"] or 0) if o else 0
    metrics["orders_store"] = int(o["store"] or 0) if o else 0
    lo = gold_lines.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.col("order_ts").isNull().cast("int")).alias("orphans"),
    ).first()
    metrics["order_lines"] = int(lo["n"]) if lo else 0
    metrics["order_lines_without_order"] = int(lo["orphans"] or 0) if lo else 0
    li = links.agg(
        F.count(F.lit(1)).alias("n"), F.sum((F.col("n_customers") > 1).cast("int")).alias("multi")
    ).first()
    metrics["anonymous_ids_linked"] = int(li["n"]) if li else 0
    metrics["anonymous_ids_with_several_customers"] = int(li["multi"] or 0) if li else 0
    for df in (lines, orders, events, gold_interactions):
        df.unpersist()
    logger.info("interactions: %s", metrics)
    return metrics
