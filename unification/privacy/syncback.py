"""The sync-back feed: what each source system should correct, since its last feed.

``unify sync-back`` reads the Change Data Feed of ``gold.golden_profiles`` from each source's
watermark (``ops.syncback_state``: the last golden version that source was sent) up to the
current version, and writes **one file per source system and run** under
``<sync-back dir>/<source>/syncback_<source>_<run_id>.<format>``, then moves the watermarks.

For every customer that changed in that range, one row per record the source holds
(``gold.identity_graph``), with ``changes`` listing what the source should apply:

* ``customer_id``: the record's customer id (a new customer, a split, a record that moved);
* ``merged``: customer ids merged into this one (``previous_customer_ids``);
* ``email`` / ``phone`` / ``mobile``: the golden value, when it differs from the record's own
  and comes from a record updated more recently than this one (the survivorship ``as_of``);
* ``consent_<channel>``: the customer's consent on that channel changed (value and time);

and, for a customer that disappeared, one row per source it had (``source_id`` empty):
``merged`` (``merged_into`` names the surviving id) or ``deleted`` (erased, or no record left).

Values are absolute (the new email, the consent and its time), never increments, so applying a
file twice is harmless. A second run with no change in between finds no new golden version and
writes an empty file (header only) for each source: an empty delta. A source without a
watermark first gets a snapshot of all its records (``activation.syncback.initial``), and so
does a source whose range was not recorded in the change feed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from unification.privacy.errors import PrivacyError
from unification.privacy.files import write_single_file
from unification.privacy.tables import (
    SYNCBACK_LOG,
    SYNCBACK_LOG_TABLE,
    SYNCBACK_STATE,
    SYNCBACK_STATE_TABLE,
)

if TYPE_CHECKING:
    from unification.config import AppConfig
    from unification.lakehouse import Lakehouse

logger = logging.getLogger(__name__)

CHANNELS: tuple[str, ...] = ("email", "sms", "phone", "post")
CONTACT: tuple[str, ...] = ("email", "phone", "mobile")
#: Columns of every sync-back file, in order.
FEED_COLUMNS: tuple[str, ...] = (
    "source",
    "entity",
    "source_id",
    "customer_id",
    "changes",
    "previous_customer_ids",
    "merged_into",
    "email",
    "phone",
    "mobile",
    *[c for ch in CHANNELS for c in (f"consent_{ch}", f"consent_{ch}_at")],
    "from_version",
    "to_version",
    "run_id",
)


def syncback_dir(cfg: AppConfig) -> Path:
    """``activation.syncback.dir``, by default ``<exports dir>/syncback``."""
    from unification.privacy.export import exports_dir

    configured = cfg.activation.syncback.dir
    return Path(configured).resolve() if configured else exports_dir(cfg) / "syncback"


def feed_sources(cfg: AppConfig) -> list[str]:
    """The source systems fed: ``activation.syncback.sources`` or every source with a person
    entity."""
    if cfg.activation.syncback.sources is not None:
        return list(cfg.activation.syncback.sources)
    return sorted({s.name for s, _, e in cfg.entities() if e.person is not None})


def _read_version(spark: SparkSession, lh: Lakehouse, version: int) -> DataFrame:
    reader = spark.read.format("delta").option("versionAsOf", version)
    if lh.is_local:
        return reader.load(lh.path("gold", "golden_profiles"))
    return reader.table(lh.name("gold", "golden_profiles"))


def _read_changes(spark: SparkSession, lh: Lakehouse, start: int, end: int) -> DataFrame:
    reader = (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", start)
        .option("endingVersion", end)
    )
    if lh.is_local:
        return reader.load(lh.path("gold", "golden_profiles"))
    return reader.table(lh.name("gold", "golden_profiles"))


def _runs_between(spark: SparkSession, lh: Lakehouse, start: int, end: int) -> DataFrame:
    """Run ids (commit ``userMetadata``) of the golden versions in [start, end]."""
    hist = lh.delta_table(spark, "gold", "golden_profiles").history()
    return (
        hist.where((F.col("version") >= start) & (F.col("version") <= end))
        .where(F.col("userMetadata").isNotNull())
        .select(F.col("userMetadata").alias("run_id"))
        .distinct()
    )


def _differs(a: Column, b: Column) -> Column:
    return ~a.eqNullSafe(b)


def customer_changes(spark: SparkSession, lh: Lakehouse, start: int | None, end: int) -> DataFrame:
    """One row per customer changed in golden versions [start, end] (all customers of version
    ``end`` when ``start`` is None: a snapshot).

    Columns: ``customer_id``, ``before`` / ``after`` (structs of the contact and consent
    columns, null when the customer did not exist before / does not exist after), and
    ``merged_from``, ``split_from``, ``merged_into`` (from ``gold.customer_id_history``).
    """
    tracked = [*CONTACT, "email_raw", "sources", "provenance"]
    tracked += [c for ch in CHANNELS for c in (f"consent_{ch}", f"consent_{ch}_at")]
    if start is None:
        now = _read_version(spark, lh, end)
        out = now.select(
            "customer_id",
            F.lit(None)
            .cast(now.select(F.struct(*tracked).alias("s")).schema["s"].dataType)
            .alias("before"),
            F.struct(*tracked).alias("after"),
        )
        empty = F.array().cast("array<string>")
        return out.select(
            "*",
            empty.alias("merged_from"),
            empty.alias("split_from"),
            F.lit(None).cast("string").alias("merged_into"),
        )
    cdf = _read_changes(spark, lh, start, end)
    order = F.when(F.col("_change_type").isin("update_preimage", "delete"), 0).otherwise(1)
    w = Window.partitionBy("customer_id")
    ranked = cdf.select(
        "customer_id",
        "_change_type",
        F.struct(*tracked).alias("image"),
        F.row_number().over(w.orderBy(F.col("_commit_version").asc(), order.asc())).alias("_first"),
        F.row_number()
        .over(w.orderBy(F.col("_commit_version").desc(), order.desc()))
        .alias("_last"),
    )
    first = ranked.where("_first = 1").select(
        "customer_id",
        F.when(F.col("_change_type") != "insert", F.col("image")).alias("before"),
    )
    last = ranked.where("_last = 1").select(
        "customer_id",
        F.when(F.col("_change_type") != "delete", F.col("image")).alias("after"),
    )
    changed = first.join(last, "customer_id").where(
        F.col("before").isNotNull() | F.col("after").isNotNull()
    )
    history = lh.read_or_none(spark, "gold", "customer_id_history")
    if history is None:
        empty = F.array().cast("array<string>")
        return changed.select(
            "*",
            empty.alias("merged_from"),
            empty.alias("split_from"),
            F.lit(None).cast("string").alias("merged_into"),
        )
    events = history.join(_runs_between(spark, lh, start, end), "run_id", "left_semi")
    merged_from = (
        events.where(F.col("event_type") == "merged")
        .groupBy(F.col("related_customer_id").alias("customer_id"))
        .agg(F.sort_array(F.collect_set("customer_id")).alias("merged_from"))
    )
    split_from = (
        events.where(F.col("event_type") == "split")
        .groupBy("customer_id")
        .agg(F.sort_array(F.collect_set("related_customer_id")).alias("split_from"))
    )
    merged_into = (
        events.where(F.col("event_type") == "merged")
        .groupBy("customer_id")
        .agg(F.max("related_customer_id").alias("merged_into"))
    )
    empty = F.array().cast("array<string>")
    return (
        changed.join(merged_from, "customer_id", "left")
        .join(split_from, "customer_id", "left")
        .join(merged_into, "customer_id", "left")
        .select(
            "customer_id",
            "before",
            "after",
            F.coalesce("merged_from", empty).alias("merged_from"),
            F.coalesce("split_from", empty).alias("split_from"),
            "merged_into",
        )
    )


def feed_rows(
    changes: DataFrame,
    graph: DataFrame,
    records: DataFrame,
    runs: DataFrame | None,
    *,
    from_version: int | None,
    to_version: int,
    run_id: str,
) -> DataFrame:
    """Record-level feed rows (all sources) from :func:`customer_changes`.

    Args:
        changes: customer-level changes.
        graph: ``gold.identity_graph`` (current).
        records: ``silver.person_records`` (the records' own values).
        runs: run ids of the range (a graph row changed by one of them moved customer), or
            None for a snapshot.
        from_version: exclusive start (None: snapshot).
        to_version: inclusive end.
        run_id: this run.
    """
    before, after = F.col("before"), F.col("after")
    is_new = before.isNull()
    live = changes.where(after.isNotNull())
    g = graph.select("record_key", "source", "entity", "source_id", "customer_id", "_run_id")
    if runs is not None:
        g = g.join(
            F.broadcast(runs.select(F.col("run_id").alias("_moved_run"))),
            F.col("_run_id") == F.col("_moved_run"),
            "left",
        )
        moved = F.col("_moved_run").isNotNull()
    else:
        moved = F.lit(True)
    rec = records.select(
        "record_key",
        F.col("email").alias("r_email"),
        F.col("phone").alias("r_phone"),
        F.col("mobile").alias("r_mobile"),
        F.col("updated_at").alias("r_updated_at"),
    )
    joined = live.join(g, "customer_id").join(rec, "record_key", "left")

    def correction(name: str) -> Column:
        golden = after[name]
        as_of = after["provenance"][name]["as_of"]
        newer = as_of.isNull() | F.col("r_updated_at").isNull() | (as_of > F.col("r_updated_at"))
        return golden.isNotNull() & _differs(golden, F.col(f"r_{name}")) & newer

    kinds: list[Column] = [
        F.when(is_new | moved | (F.size("split_from") > 0), F.lit("customer_id")),
        F.when(F.size("merged_from") > 0, F.lit("merged")),
        *[F.when(correction(c), F.lit(c)) for c in CONTACT],
    ]
    for ch in CHANNELS:
        value, at = f"consent_{ch}", f"consent_{ch}_at"
        changed = F.when(is_new, after[value].isNotNull()).otherwise(
            _differs(before[value], after[value]) | _differs(before[at], after[at])
        )
        kinds.append(F.when(changed, F.lit(value)))
    with_changes = joined.withColumn(
        "_changes", F.filter(F.array(*kinds), lambda x: x.isNotNull())
    ).where(F.size("_changes") > 0)

    def has(kind: str) -> Column:
        return F.array_contains(F.col("_changes"), kind)

    email_out = F.coalesce(after["email_raw"], after["email"])
    live_rows = with_changes.select(
        "source",
        "entity",
        "source_id",
        "customer_id",
        F.array_join("_changes", "|").alias("changes"),
        F.array_join(F.array_union("merged_from", "split_from"), "|").alias(
            "previous_customer_ids"
        ),
        F.lit(None).cast("string").alias("merged_into"),
        F.when(has("email"), email_out).alias("email"),
        F.when(has("phone"), after["phone"]).alias("phone"),
        F.when(has("mobile"), after["mobile"]).alias("mobile"),
        *[
            col
            for ch in CHANNELS
            for col in (
                F.when(has(f"consent_{ch}"), after[f"consent_{ch}"]).alias(f"consent_{ch}"),
                F.when(has(f"consent_{ch}"), after[f"consent_{ch}_at"]).alias(f"consent_{ch}_at"),
            )
        ],
    )
    gone = changes.where(after.isNull() & before.isNotNull()).select(
        F.explode(before["sources"]).alias("source"),
        F.lit(None).cast("string").alias("entity"),
        F.lit(None).cast("string").alias("source_id"),
        "customer_id",
        F.when(F.col("merged_into").isNotNull(), F.lit("merged"))
        .otherwise(F.lit("deleted"))
        .alias("changes"),
        F.lit("").alias("previous_customer_ids"),
        "merged_into",
        *[F.lit(None).cast("string").alias(c) for c in CONTACT],
        *[
            col
            for ch in CHANNELS
            for col in (
                F.lit(None).cast("boolean").alias(f"consent_{ch}"),
                F.lit(None).cast("timestamp").alias(f"consent_{ch}_at"),
            )
        ],
    )
    return live_rows.unionByName(gone).select(
        "*",
        F.lit(from_version).cast("long").alias("from_version"),
        F.lit(to_version).cast("long").alias("to_version"),
        F.lit(run_id).alias("run_id"),
    )


def _state(spark: SparkSession, lh: Lakehouse) -> dict[str, int]:
    layer, table = SYNCBACK_STATE_TABLE
    df = lh.read_or_none(spark, layer, table)
    if df is None:
        return {}
    return {r["source"]: int(r["last_version"]) for r in df.collect()}


def run_sync_back(
    spark: SparkSession,
    cfg: AppConfig,
    run_id: str,
    *,
    sources: list[str] | None = None,
    fmt: str | None = None,
    out_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Write this run's sync-back file of each source and move the watermarks.

    Returns:
        Counts for the run log: ``golden_version``, ``rows`` (all sources), and per source
        ``mode`` (``changes`` / ``snapshot`` / ``none``), ``from_version``, ``rows``, ``path``.

    Raises:
        PrivacyError: no golden table, or an unknown source.
    """
    from unification.lakehouse import Lakehouse

    lh = Lakehouse(cfg.lakehouse)
    settings = cfg.activation.syncback
    fmt = fmt or settings.format
    current = lh.version(spark, "gold", "golden_profiles")
    if current is None:
        raise PrivacyError("gold.golden_profiles does not exist: run 'unify survive' first")
    declared = {s.name for s in cfg.sources}
    wanted = sources or feed_sources(cfg)
    unknown = sorted(set(wanted) - declared)
    if unknown:
        raise PrivacyError(f"unknown source(s) {unknown}; declared: {sorted(declared)}")
    state = _state(spark, lh)
    base = Path(out_dir).resolve() if out_dir else syncback_dir(cfg)

    # group the sources by where their feed starts (usually all the same)
    plans: dict[tuple[str, int | None], list[str]] = {}
    for src in wanted:
        wm = state.get(src)
        key: tuple[str, int | None]
        if wm is None:
            key = ("snapshot", None) if settings.initial == "snapshot" else ("none", None)
        elif wm > current:
            logger.warning("sync-back %s: watermark %s > golden version %s", src, wm, current)
            key = ("snapshot", None)
        else:
            key = ("changes", wm)
        plans.setdefault(key, []).append(src)

    graph = lh.read_or_none(spark, "gold", "identity_graph")
    records = lh.read_or_none(spark, "silver", "person_records")
    if graph is None or records is None:
        raise PrivacyError("gold.identity_graph / silver.person_records missing: run the pipeline")
    per_source: dict[str, dict[str, Any]] = {}
    log_rows = []
    at = datetime.now(timezone.utc).replace(tzinfo=None)
    for (mode, wm), srcs in sorted(plans.items(), key=lambda kv: (kv[0][0], kv[0][1] or -1)):
        rows: DataFrame | None
        runs = None
        from_version = wm
        if mode == "none" or (mode == "changes" and wm == current):
            rows = None
        elif mode == "changes":
            assert wm is not None
            try:
                changes = customer_changes(spark, lh, wm + 1, current)
                changes.schema  # noqa: B018 - fail here if the change feed is gone
                runs = _runs_between(spark, lh, wm + 1, current)
            except AnalysisException as exc:
                logger.warning(
                    "sync-back: change feed of versions %s..%s unavailable (%s): snapshot",
                    wm + 1,
                    current,
                    type(exc).__name__,
                )
                mode, from_version = "snapshot", None
                changes = customer_changes(spark, lh, None, current)
            rows = feed_rows(
                changes,
                graph,
                records,
                runs,
                from_version=from_version,
                to_version=current,
                run_id=run_id,
            )
        else:
            changes = customer_changes(spark, lh, None, current)
            rows = feed_rows(
                changes,
                graph,
                records,
                None,
                from_version=None,
                to_version=current,
                run_id=run_id,
            )
        if rows is not None:
            rows = rows.where(F.col("source").isin(srcs)).cache()
        try:
            # one aggregation: rows per source and per change kind
            n_rows: dict[str, int] = {}
            counts: dict[str, dict[str, int]] = {}
            if rows is not None:
                for r in rows.groupBy("source", "changes").count().collect():
                    n = int(r["count"])
                    n_rows[r["source"]] = n_rows.get(r["source"], 0) + n
                    per = counts.setdefault(r["source"], {})
                    for change in (r["changes"] or "").split("|"):
                        per[change] = per.get(change, 0) + n
            for src in srcs:
                target = base / src / f"syncback_{src}_{run_id}"
                if rows is not None and n_rows.get(src):
                    path = write_single_file(
                        rows.where(F.col("source") == src).select(*FEED_COLUMNS),
                        str(target),
                        fmt,
                        sort_by=["customer_id", "entity", "source_id"],
                    )
                else:  # an empty delta: a header-only file (or an empty Parquet)
                    path = write_single_file(_empty_feed(spark), str(target), fmt, known_empty=True)
                n = n_rows.get(src, 0)
                per_source[src] = {
                    "mode": mode,
                    "from_version": from_version,
                    "to_version": current,
                    "rows": n,
                    "path": path,
                }
                log_rows.append(
                    (run_id, src, mode, from_version, current, n, counts.get(src, {}), path, at)
                )
        finally:
            if rows is not None:
                rows.unpersist()

    # watermarks move only after every file is written (a failed run is simply re-run)
    state_rows = spark.createDataFrame(
        [(src, current, run_id, at) for src in sorted(per_source)], SYNCBACK_STATE
    )
    layer, table = SYNCBACK_STATE_TABLE
    lh.merge(state_rows, layer, table, on=["source"], run_id=run_id)
    layer, table = SYNCBACK_LOG_TABLE
    lh.write(spark.createDataFrame(log_rows, SYNCBACK_LOG), layer, table, run_id=run_id)
    total = sum(int(v["rows"]) for v in per_source.values())
    logger.info(
        "sync-back %s: golden version %s, %d row(s) for %d source(s)",
        run_id,
        current,
        total,
        len(per_source),
    )
    return {"golden_version": current, "rows": total, "sources": per_source}


def _empty_feed(spark: SparkSession) -> DataFrame:
    types = {
        "from_version": "bigint",
        "to_version": "bigint",
        **{f"consent_{ch}": "boolean" for ch in CHANNELS},
        **{f"consent_{ch}_at": "timestamp" for ch in CHANNELS},
    }
    schema = ", ".join(f"`{c}` {types.get(c, 'string')}" for c in FEED_COLUMNS)
    return spark.createDataFrame([], schema)
