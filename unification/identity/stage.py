"""The ``identify`` stage: clusters -> stable customer ids, id history, identity graph.

Reads ``silver.person_records``, ``silver.record_clusters``, ``silver.match_pairs`` and
``silver.human_decisions``; writes (grains and keys in :mod:`unification.identity.tables`):

* ``gold.customer_id_history``, one row per id event, key ``event_id``: an insert-only MERGE
  of the events of the run (none on unchanged input; a retried run inserts no duplicate);
* ``gold.identity_graph``, one row per person record, key ``record_key``: a MERGE of only the
  rows that differ (inserted, updated, or deleted because the record is gone), so a re-run on
  unchanged input commits nothing.

History is written before the graph: if a run dies in between, the retry recomputes the same
ids (deterministic) and the same event ids.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from functools import reduce
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.identity.components import MUST_LINK, apply_decisions, with_clusters
from unification.identity.decisions import read_active_decisions
from unification.identity.errors import IdentityError, require_columns
from unification.identity.graph import GRAPH_KEY, build_identity_graph
from unification.identity.ids import (
    ACTION_CONTINUED,
    ACTION_UNCHANGED,
    customer_of_record,
    history_events,
    id_registry,
    plan_customer_ids,
)
from unification.identity.tables import (
    CUSTOMER_ID_HISTORY,
    EVENT_CREATED,
    EVENT_MERGED,
    EVENT_RETIRED,
    EVENT_SPLIT,
    EVENT_TYPES,
    HISTORY_TABLE,
    IDENTITY_GRAPH_TABLE,
    create_table,
)
from unification.schemas import IDENTITY_GRAPH, MATCH_PAIRS_CORE

if TYPE_CHECKING:
    from unification.config import AppConfig
    from unification.lakehouse import Lakehouse, Layer

logger = logging.getLogger(__name__)


def _set_commit_metadata(spark: SparkSession, run_id: str | None) -> None:
    key = "spark.databricks.delta.commitInfo.userMetadata"
    if run_id:
        spark.conf.set(key, run_id)
    else:
        spark.conf.unset(key)


def sync_table(
    lh: Lakehouse,
    new: DataFrame,
    layer: Layer,
    table: str,
    *,
    key: tuple[str, ...],
    run_id: str,
    ignore: tuple[str, ...] = ("_run_id",),
) -> dict[str, int]:
    """Make ``table`` equal to ``new`` (on ``key``), touching only rows that differ.

    Rows are compared on every column but ``ignore`` (so an unchanged row keeps the
    ``_run_id`` of the run that last changed it). One MERGE (one Delta commit) of the
    differences; no commit at all when there are none. The table must exist.

    Returns:
        ``{"inserted": n, "updated": n, "deleted": n}``.
    """
    spark = new.sparkSession
    target = lh.read(spark, layer, table)
    if sorted(target.columns) != sorted(new.columns):
        raise IdentityError(f"{layer}.{table} has columns {target.columns}, expected {new.columns}")
    s, t = new.alias("s"), target.alias("t")
    cond = reduce(lambda a, b: a & b, [F.col(f"s.{k}") == F.col(f"t.{k}") for k in key])
    compared = [c for c in new.columns if c not in key and c not in ignore]
    differs = reduce(
        lambda a, b: a | b,
        [~F.col(f"s.`{c}`").eqNullSafe(F.col(f"t.`{c}`")) for c in compared],
        F.lit(False),
    )
    op = (
        F.when(F.col(f"t.{key[0]}").isNull(), F.lit("insert"))
        .when(F.col(f"s.{key[0]}").isNull(), F.lit("delete"))
        .when(differs, F.lit("update"))
    )
    diff = (
        s.join(t, cond, "full_outer")
        .select(
            *[F.coalesce(F.col(f"s.{k}"), F.col(f"t.{k}")).alias(k) for k in key],
            *[F.col(f"s.`{c}`").alias(c) for c in new.columns if c not in key],
            op.alias("_op"),
        )
        .filter(F.col("_op").isNotNull())
        .cache()
    )
    try:
        counts = {
            r["_op"]: int(r["n"])
            for r in diff.groupBy("_op").agg(F.count("*").alias("n")).collect()
        }
        out = {op_: counts.get(op_, 0) for op_ in ("insert", "update", "delete")}
        if any(out.values()):
            values: dict[str, str | Column] = {c: f"s.`{c}`" for c in new.columns}
            on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in key)
            _set_commit_metadata(spark, run_id)
            try:
                (
                    lh.delta_table(spark, layer, table)
                    .alias("t")
                    .merge(diff.alias("s"), on)
                    .whenMatchedDelete(condition="s._op = 'delete'")
                    .whenMatchedUpdate(condition="s._op = 'update'", set=values)
                    .whenNotMatchedInsert(condition="s._op = 'insert'", values=values)
                    .execute()
                )
            finally:
                _set_commit_metadata(spark, None)
    finally:
        diff.unpersist()
    return {"inserted": out["insert"], "updated": out["update"], "deleted": out["delete"]}


def append_events(lh: Lakehouse, events: DataFrame, *, run_id: str) -> None:
    """Insert events whose ``event_id`` is not in ``gold.customer_id_history`` (one MERGE)."""
    spark = events.sparkSession
    layer, table = HISTORY_TABLE
    _set_commit_metadata(spark, run_id)
    try:
        (
            lh.delta_table(spark, layer, table)
            .alias("t")
            .merge(events.alias("s"), "t.event_id = s.event_id")
            .whenNotMatchedInsertAll()
            .execute()
        )
    finally:
        _set_commit_metadata(spark, None)


def plan_stats(plan: DataFrame) -> dict[str, int]:
    """Counts of a plan (one Spark action): ids per action, customers, records, id clashes."""
    action = F.col("action")
    assigned = action.isin(ACTION_UNCHANGED, ACTION_CONTINUED, EVENT_CREATED, EVENT_SPLIT)

    def n(cond: F.Column) -> F.Column:
        return F.coalesce(F.sum(F.when(cond, 1).otherwise(0)), F.lit(0))

    row = plan.agg(
        n(action == EVENT_CREATED).alias("ids_created"),
        n(action == ACTION_UNCHANGED).alias("ids_unchanged"),
        n(action == ACTION_CONTINUED).alias("ids_continued"),
        n(action == EVENT_MERGED).alias("ids_merged"),
        n(action == EVENT_SPLIT).alias("ids_split"),
        n(action == EVENT_RETIRED).alias("ids_retired"),
        n(assigned).alias("customers"),
        F.countDistinct(F.when(assigned, F.col("customer_id"))).alias("distinct_ids"),
        F.coalesce(F.sum(F.when(assigned, F.col("n_records"))), F.lit(0)).alias("records"),
        n(action.isin(*EVENT_TYPES)).alias("events"),
    ).first()
    assert row is not None
    return {k: int(v) for k, v in row.asDict().items()}


def run_identify(spark: SparkSession, cfg: AppConfig, run_id: str) -> dict[str, Any]:
    """Assign stable customer ids to this run's clusters and write the gold identity tables.

    Args:
        spark: the session.
        cfg: the run configuration (``identity:`` section: :class:`IdentitySettings`).
        run_id: this run.

    Returns:
        Counts for the run log: ``ids_created``, ``ids_unchanged``, ``ids_continued`` (same id,
        records added or removed), ``ids_merged``, ``ids_split``, ``ids_retired``,
        ``customers``, ``records``, ``events`` (history rows written),
        ``records_cut_by_decision`` (records of components cut by a cannot-link), ``graph_inserted`` / ``graph_updated`` / ``graph_deleted``.

    Raises:
        IdentityError: ``silver.person_records`` is missing, or two clusters got one id.
    """
    from unification.lakehouse import Lakehouse

    lh = Lakehouse(cfg.lakehouse)
    settings = cfg.identity
    run_ts = datetime.now(timezone.utc)

    records = lh.read_or_none(spark, "silver", "person_records")
    if records is None:
        raise IdentityError("silver.person_records does not exist: run 'standardise' first")
    require_columns(
        records, ("record_key", "source", "entity", "source_id", "updated_at"), "person_records"
    )
    clusters = lh.read_or_none(spark, "silver", "record_clusters")
    if clusters is None:
        logger.warning("silver.record_clusters missing: every record is its own customer")
    pairs = lh.read_or_none(spark, "silver", "match_pairs")
    if pairs is None:
        pairs = spark.createDataFrame([], MATCH_PAIRS_CORE)
    decisions = read_active_decisions(spark, lh)

    graph_layer, graph_table = IDENTITY_GRAPH_TABLE
    hist_layer, hist_table = HISTORY_TABLE
    create_table(spark, lh, graph_layer, graph_table, IDENTITY_GRAPH)
    create_table(spark, lh, hist_layer, hist_table, CUSTOMER_ID_HISTORY)
    previous = lh.read(spark, graph_layer, graph_table)
    history = lh.read(spark, hist_layer, hist_table)

    final = (
        records.transform(with_clusters(clusters))
        .transform(apply_decisions(pairs, decisions))
        .cache()
    )
    plan = final.transform(
        plan_customer_ids(
            previous,
            id_registry(history),
            prefix=settings.id_prefix,
            survivor=settings.merge_survivor,
        )
    ).cache()
    try:
        stats = plan_stats(plan)
        if stats["distinct_ids"] != stats["customers"]:
            raise IdentityError(
                f"{stats['customers']} customers got {stats['distinct_ids']} distinct ids "
                "(id hash collision): nothing written"
            )
        if stats["events"]:
            append_events(
                lh, plan.transform(history_events(run_id=run_id, at=run_ts)), run_id=run_id
            )
        must_links = decisions.filter(F.col("kind") == MUST_LINK)
        graph = customer_of_record(final, plan).transform(
            build_identity_graph(records, pairs, must_links, previous, run_id=run_id, run_ts=run_ts)
        )
        changes = sync_table(lh, graph, graph_layer, graph_table, key=GRAPH_KEY, run_id=run_id)
        cut = final.filter("cut_by_decision").count()
    finally:
        plan.unpersist()
        final.unpersist()
    stats.pop("distinct_ids")
    result: dict[str, Any] = {
        **stats,
        "records_cut_by_decision": cut,
        "graph_inserted": changes["inserted"],
        "graph_updated": changes["updated"],
        "graph_deleted": changes["deleted"],
    }
    logger.info("identify %s: %s", run_id, result)
    return result
