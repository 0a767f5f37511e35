"""Stable customer ids: carry earlier ids over to this run's clusters, and record id events.

The algorithm (docs/IDENTITY.md has worked examples), all set-based in Spark:

1. **Overlap**: for each (final cluster, earlier customer id) the number of shared records.
2. **Home** of an earlier id: the cluster holding most of its records (ties: the larger
   cluster, then the one with the smallest record key). "Split: the part with the most records
   keeps the id."
3. **Survivor**: a cluster that is the home of one earlier id keeps it. A cluster that is the
   home of several earlier ids (a merge) keeps the oldest (``merge_survivor: oldest``, the
   default) or the one with most records there, ties to the oldest (``most_records``); the
   others are recorded as ``merged`` into it. Age = creation time of the id in
   ``gold.customer_id_history``, then its earliest record ``first_seen``, then the id.
4. **New ids**: a cluster that is nobody's home gets a new id: ``split`` from the earlier id
   with most records in it (ties to the oldest) when it has earlier records, else ``created``.
5. An earlier id none of whose records remain is ``retired``.

On unchanged input every earlier id's records form one cluster, which is its home and keeps
it: no id changes and no event is written.

New ids are deterministic: ``<prefix>`` + 16 hex digits of sha256 of the cluster's smallest
record key (a full rebuild on the same data gives the same ids, a retried run too). An id is
never reused: if that hash is an id in use or one merged / retired earlier, the first of
``<seed>\x1f1``, ``<seed>\x1f2``, ... up to :data:`MAX_SALT` whose hash is free is used. The
salt depends only on the data (the clusters and the id history), never on the run, so an
incremental run and a full re-run on the same data mint the same ids.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from unification.identity.errors import require_columns
from unification.identity.settings import MergeSurvivor
from unification.identity.tables import (
    EVENT_CREATED,
    EVENT_MERGED,
    EVENT_RETIRED,
    EVENT_SPLIT,
    EVENT_TYPES,
)

ACTION_UNCHANGED = "unchanged"  # same id, same records
ACTION_CONTINUED = "continued"  # same id, records added or removed

#: Salts tried, in order, for a new id whose plain hash is already issued.
MAX_SALT = 16
_SALT_SEP = "\x1f"  # ASCII unit separator: never part of a record key

#: Columns of the plan returned by :func:`plan_customer_ids`.
PLAN_COLUMNS = (
    "cluster_id",  # final cluster (null for a retired id)
    "customer_id",
    "action",  # unchanged | continued | created | split | merged | retired
    "related_customer_id",
    "n_records",
    "reason",
)


def new_customer_id(seed: Column, prefix: str = "C") -> Column:
    """``<prefix>`` + the first 16 hex digits of sha256(``seed``), upper-case."""
    return F.concat(F.lit(prefix), F.upper(F.substring(F.sha2(seed, 256), 1, 16)))


def id_registry(history: DataFrame) -> DataFrame:
    """Every id ever issued: ``customer_id``, ``created_at``, ``gone`` (merged or retired).

    Grain one id. Built from ``gold.customer_id_history``.
    """
    require_columns(history, ("customer_id", "event_type", "at"), "customer id history")
    born = F.col("event_type").isin(EVENT_CREATED, EVENT_SPLIT)
    gone = F.col("event_type").isin(EVENT_MERGED, EVENT_RETIRED)
    return history.groupBy("customer_id").agg(
        F.min(F.when(born, F.col("at"))).alias("created_at"),
        F.max(gone).alias("gone"),
    )


def plan_customer_ids(
    previous: DataFrame,
    registry: DataFrame,
    *,
    prefix: str = "C",
    survivor: MergeSurvivor = "oldest",
) -> Callable[[DataFrame], DataFrame]:
    """Decide the customer id of every final cluster and the fate of every earlier id.

    Args:
        previous: the earlier ``gold.identity_graph`` (``record_key``, ``customer_id``,
            ``first_seen``); empty on the first run.
        registry: :func:`id_registry` of the history.
        prefix: first characters of new ids.
        survivor: ``oldest`` or ``most_records`` (see the module docstring).

    Returns:
        A transform ``final clusters (record_key, cluster_id[, cut_by_decision]) -> plan`` with
        :data:`PLAN_COLUMNS`: one row per final cluster (action ``unchanged``, ``continued``,
        ``created`` or ``split``) plus one per earlier id that disappears (``merged``, whose
        ``cluster_id`` is the survivor's cluster, or ``retired``, with a null cluster).
    """
    require_columns(previous, ("record_key", "customer_id", "first_seen"), "previous graph")
    require_columns(registry, ("customer_id", "created_at", "gone"), "id registry")

    def _(final: DataFrame) -> DataFrame:
        require_columns(final, ("record_key", "cluster_id"), "final clusters")
        cut = F.col("cut_by_decision") if "cut_by_decision" in final.columns else F.lit(False)
        fc = final.select("record_key", "cluster_id", F.coalesce(cut, F.lit(False)).alias("cut"))
        clusters = fc.groupBy("cluster_id").agg(
            F.count(F.lit(1)).alias("size"),
            F.min("record_key").alias("seed"),
            F.max("cut").alias("cut"),
        )
        prev = previous.select("record_key", "customer_id", "first_seen")
        overlap = (
            fc.join(prev, "record_key")
            .groupBy("cluster_id", "customer_id")
            .agg(F.count(F.lit(1)).alias("n_shared"))
        )
        old = (
            prev.groupBy("customer_id")
            .agg(F.count(F.lit(1)).alias("old_size"), F.min("first_seen").alias("old_first_seen"))
            .join(registry.select("customer_id", "created_at"), "customer_id", "left")
        )
        age = [
            F.coalesce("created_at", "old_first_seen").asc_nulls_last(),
            F.col("old_first_seen").asc_nulls_last(),
            F.col("customer_id").asc(),
        ]
        ov = overlap.join(clusters.drop("cut"), "cluster_id").join(old, "customer_id")
        home = Window.partitionBy("customer_id").orderBy(
            F.desc("n_shared"), F.desc("size"), F.asc("seed")
        )
        by_survivor = age if survivor == "oldest" else [F.desc("n_shared"), *age]
        homes = (
            ov.withColumn("home_rank", F.row_number().over(home))
            .filter("home_rank = 1")
            .withColumn(
                "rank", F.row_number().over(Window.partitionBy("cluster_id").orderBy(*by_survivor))
            )
        )
        keep = homes.filter("rank = 1").select(
            "cluster_id",
            F.col("customer_id").alias("kept_id"),
            F.col("n_shared").alias("kept_shared"),
            F.col("old_size").alias("kept_old_size"),
        )
        parent = (
            ov.withColumn(
                "rank",
                F.row_number().over(
                    Window.partitionBy("cluster_id").orderBy(F.desc("n_shared"), *age)
                ),
            )
            .filter("rank = 1")
            .select(
                "cluster_id",
                F.col("customer_id").alias("parent_id"),
                F.col("n_shared").alias("parent_shared"),
            )
        )
        unavailable = (
            prev.select("customer_id")
            .unionByName(registry.filter(F.col("gone")).select("customer_id"))
            .distinct()
            .select(F.col("customer_id").alias("candidate"))
        )
        cl = clusters.join(keep, "cluster_id", "left").join(parent, "cluster_id", "left")
        # New ids: the first free one of hash(seed), hash(seed \x1f 1), ... (data-derived salt).
        tries = (
            cl.filter(F.col("kept_id").isNull())
            .select(
                "cluster_id",
                F.posexplode(
                    F.array(
                        F.col("seed"),
                        *[
                            F.concat(F.col("seed"), F.lit(f"{_SALT_SEP}{k}"))
                            for k in range(1, MAX_SALT + 1)
                        ],
                    )
                ).alias("salt", "salted_seed"),
            )
            .withColumn("candidate", new_customer_id(F.col("salted_seed"), prefix))
            .join(unavailable, "candidate", "left_anti")
        )
        minted = tries.groupBy("cluster_id").agg(F.min_by("candidate", "salt").alias("minted_id"))
        cl = cl.join(minted, "cluster_id", "left").withColumn(
            "minted_id",
            F.when(
                F.col("kept_id").isNull() & F.col("minted_id").isNull(),
                F.raise_error(
                    F.format_string(
                        "customer id: the %d salted hashes of record key %s are all issued "
                        "already; raise unification.identity.ids.MAX_SALT",
                        F.lit(MAX_SALT + 1),
                        F.col("seed"),
                    )
                ),
            ).otherwise(F.col("minted_id")),
        )
        action = (
            F.when(
                F.col("kept_id").isNotNull(),
                F.when(
                    (F.col("kept_shared") == F.col("size"))
                    & (F.col("kept_shared") == F.col("kept_old_size")),
                    F.lit(ACTION_UNCHANGED),
                ).otherwise(F.lit(ACTION_CONTINUED)),
            )
            .when(F.col("parent_id").isNotNull(), F.lit(EVENT_SPLIT))
            .otherwise(F.lit(EVENT_CREATED))
        )
        split_reason = F.format_string(
            "%d of its %d record(s) were in %s%s",
            F.col("parent_shared"),
            F.col("size"),
            F.col("parent_id"),
            F.when(F.col("cut"), F.lit(" (cut by a cannot-link decision)")).otherwise(F.lit("")),
        )
        cluster_rows = cl.select(
            "cluster_id",
            F.coalesce("kept_id", "minted_id").alias("customer_id"),
            action.alias("action"),
            F.when(action == EVENT_SPLIT, F.col("parent_id")).alias("related_customer_id"),
            F.col("size").cast("long").alias("n_records"),
            F.when(action == EVENT_SPLIT, split_reason)
            .when(
                action == EVENT_CREATED,
                F.format_string("new cluster of %d record(s)", F.col("size")),
            )
            .alias("reason"),
        )
        survivor_rule = (
            "the oldest id survives"
            if survivor == "oldest"
            else "the id with most records survives"
        )
        merged_rows = (
            homes.filter("rank > 1")
            .join(keep, "cluster_id")
            .select(
                "cluster_id",
                "customer_id",
                F.lit(EVENT_MERGED).alias("action"),
                F.col("kept_id").alias("related_customer_id"),
                F.col("n_shared").cast("long").alias("n_records"),
                F.format_string(
                    "%d of its %d record(s) now clustered with %s (%s)",
                    F.col("n_shared"),
                    F.col("old_size"),
                    F.col("kept_id"),
                    F.lit(survivor_rule),
                ).alias("reason"),
            )
        )
        retired_rows = old.join(overlap.select("customer_id"), "customer_id", "left_anti").select(
            F.lit(None).cast("string").alias("cluster_id"),
            "customer_id",
            F.lit(EVENT_RETIRED).alias("action"),
            F.lit(None).cast("string").alias("related_customer_id"),
            F.col("old_size").cast("long").alias("n_records"),
            F.format_string("none of its %d record(s) remain", F.col("old_size")).alias("reason"),
        )
        return cluster_rows.unionByName(merged_rows).unionByName(retired_rows)

    return _


def history_events(*, run_id: str, at: datetime) -> Callable[[DataFrame], DataFrame]:
    """Plan -> rows of ``gold.customer_id_history`` (the ids created, split, merged, retired).

    ``event_id`` = 32 hex digits of sha256(event_type | customer_id | related_customer_id).
    """

    def _(plan: DataFrame) -> DataFrame:
        require_columns(plan, PLAN_COLUMNS, "id plan")
        return plan.filter(F.col("action").isin(*EVENT_TYPES)).select(
            F.substring(
                F.sha2(
                    F.concat_ws(
                        "|", "action", "customer_id", F.coalesce("related_customer_id", F.lit(""))
                    ),
                    256,
                ),
                1,
                32,
            ).alias("event_id"),
            F.lit(run_id).alias("run_id"),
            F.col("action").alias("event_type"),
            "customer_id",
            "related_customer_id",
            "n_records",
            "reason",
            F.lit(at).cast("timestamp").alias("at"),
        )

    return _


def customer_of_record(final: DataFrame, plan: DataFrame) -> DataFrame:
    """``(record_key, cluster_id, customer_id, cluster_size)`` from final clusters and plan."""
    assigned = plan.filter(
        F.col("action").isin(ACTION_UNCHANGED, ACTION_CONTINUED, EVENT_CREATED, EVENT_SPLIT)
    ).select("cluster_id", "customer_id", F.col("n_records").alias("cluster_size"))
    return final.select("record_key", "cluster_id").join(assigned, "cluster_id")
