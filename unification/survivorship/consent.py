"""Consent events (``silver.consent_events``) and the latest consent per channel.

``silver.consent_events``: grain one row per consent statement; key ``event_key`` =
sha256(``record_key``, ``channel``, ``event_at`` in epoch microseconds, ``opt_in``). Schema
:data:`unification.schemas.CONSENT_EVENTS`.

Each entity of a source may declare ``consent:`` mappings (channel, ``opt_in`` and ``at``
expressions, optional ``when`` filter) over its bronze table ``bronze.<source>_<entity>``.
The person record a statement belongs to (its ``record_key``) is:

* the entity's own record, ``<source>:<entity>:<person.source_id>``, when the entity has a
  ``person:`` mapping;
* otherwise the record named by the entity's first ``events[].links`` entry
  ``{"<source>:<entity>": "<expression giving that entity's source_id>"}`` (an email platform's
  unsubscribe events link to its subscribers, say). ``source`` is then still the source that
  *stated* the consent and ``source_id`` the linked record's id.

Rows whose ``opt_in``, ``at`` or source id evaluates to null carry no event and are skipped
(counted). The table is kept a pure function of bronze and conf: a MERGE on ``event_key``
inserts new statements and deletes statements no longer derivable (a bronze row erased, a
mapping removed); existing rows are never rewritten. Bronze is append-only, so every statement
ever delivered is here, whatever the order batches arrived in; the latest per channel is then
order-independent by construction.

Latest consent per channel (:func:`latest_consent`): newest ``event_at`` wins across all the
sources and records of a customer; on a tie an opt-out beats an opt-in; remaining ties go to
the smallest ``event_key``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from unification import schemas
from unification.config import AppConfig, EntityConfig, SourceConfig
from unification.errors import ConfigError
from unification.lakehouse import Lakehouse
from unification.survivorship.rules import require_columns

logger = logging.getLogger(__name__)

Transform = Callable[[DataFrame], DataFrame]

#: Consent channels, in column order.
CHANNELS: tuple[str, ...] = ("email", "sms", "phone", "post")

#: Rule name recorded in the provenance of consent values.
CONSENT_RULE = "latest_event"


def consent_link(source: SourceConfig, entity_name: str, entity: EntityConfig) -> tuple[str, str]:
    """Return (``"<source>:<entity>"`` of the person record, expression of its source id).

    Raises:
        ConfigError: the entity has consent mappings but neither a ``person`` mapping nor an
            ``events[].links`` entry to tie them to a person record.
    """
    if entity.person is not None:
        return f"{source.name}:{entity_name}", entity.person.source_id
    for event in entity.events:
        for target, expression in event.links.items():
            if target.count(":") != 1 or not all(target.split(":")):
                raise ConfigError(
                    f"sources.{source.name}.entities.{entity_name}.events.links: "
                    f"{target!r} is not '<source>:<entity>'"
                )
            return target, expression
    raise ConfigError(
        f"sources.{source.name}.entities.{entity_name}.consent: the entity has no person mapping "
        "and no events[].links entry tying its consent to a person record"
    )


def event_key(record_key: Column, channel: Column, event_at: Column, opt_in: Column) -> Column:
    """sha256 of record key, channel, ``event_at`` (epoch microseconds, zone-free), opt-in."""
    return F.sha2(
        F.concat_ws(
            "\u001f",
            record_key,
            channel,
            F.unix_micros(event_at).cast("string"),
            opt_in.cast("string"),
        ),
        256,
    )


def consent_rows(
    bronze: DataFrame, source: SourceConfig, entity_name: str, entity: EntityConfig
) -> DataFrame:
    """Candidate consent statements of one bronze entity (one row per mapping and bronze row).

    Returns the :data:`~unification.schemas.CONSENT_EVENTS` columns (``event_key`` null when the
    row carries no event) plus ``_ok`` (false for a row skipped for a null ``opt_in``, ``at``
    or source id).
    """
    target, sid_expression = consent_link(source, entity_name, entity)
    batch = F.col("_batch_id") if "_batch_id" in bronze.columns else F.lit(None)
    frames = []
    for mapping in entity.consent:
        rows = bronze if mapping.when is None else bronze.filter(F.expr(mapping.when))
        frames.append(
            rows.select(
                F.expr(sid_expression).cast("string").alias("source_id"),
                F.expr(mapping.opt_in).cast("boolean").alias("opt_in"),
                F.expr(mapping.at).cast("timestamp").alias("event_at"),
                F.lit(mapping.channel).alias("channel"),
                batch.cast("string").alias("_batch_id"),
            )
        )
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    record_key = F.concat(F.lit(f"{target}:"), F.col("source_id"))
    ok = F.col("source_id").isNotNull() & F.col("opt_in").isNotNull()
    ok = ok & F.col("event_at").isNotNull()
    return out.select(
        F.when(
            ok, event_key(record_key, F.col("channel"), F.col("event_at"), F.col("opt_in"))
        ).alias("event_key"),
        record_key.alias("record_key"),
        F.lit(source.name).alias("source"),
        "source_id",
        "channel",
        "opt_in",
        "event_at",
        "_batch_id",
        ok.alias("_ok"),
    )


def dedupe_events(events: DataFrame) -> DataFrame:
    """One row per ``event_key`` (the same statement delivered twice keeps its first batch)."""
    columns = [f.name for f in schemas.CONSENT_EVENTS.fields]
    return (
        events.groupBy("event_key")
        .agg(*[F.min(c).alias(c) for c in columns if c != "event_key"])
        .select(*columns)
    )


def _empty_events(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([], schemas.CONSENT_EVENTS)


def build_consent_events(spark: SparkSession, cfg: AppConfig, run_id: str) -> dict[str, Any]:
    """Bronze -> ``silver.consent_events`` from every entity's ``consent:`` mappings.

    Idempotent: re-running on the same bronze inserts and deletes nothing (and commits nothing).

    Returns:
        Counts: ``consent_rows`` (candidate rows), ``consent_rows_skipped`` (null opt-in, time
        or id), ``consent_events`` (rows in the table), ``consent_events_inserted``,
        ``consent_events_deleted``, ``consent_tables_missing`` (declared, no bronze table yet).

    Raises:
        ConfigError: an entity's consent cannot be tied to a person record.
    """
    lh = Lakehouse(cfg.lakehouse)
    frames: list[DataFrame] = []
    missing = 0
    for source, entity_name, entity in cfg.entities():
        if not entity.consent:
            continue
        consent_link(source, entity_name, entity)  # fail on bad config before reading anything
        bronze = lh.read_or_none(spark, "bronze", f"{source.name}_{entity_name}")
        if bronze is None:
            missing += 1
            logger.info("consent: no bronze table %s_%s yet", source.name, entity_name)
            continue
        frames.append(consent_rows(bronze, source, entity_name, entity))
    columns = [f.name for f in schemas.CONSENT_EVENTS.fields]
    if frames:
        rows = frames[0]
        for frame in frames[1:]:
            rows = rows.unionByName(frame)
        rows = rows.cache()
        counts = rows.groupBy().agg(
            F.count(F.lit(1)).alias("n"), F.sum((~F.col("_ok")).cast("long")).alias("skipped")
        )
        first = counts.first()
        n_rows, n_skipped = (int(first["n"] or 0), int(first["skipped"] or 0)) if first else (0, 0)
        events = dedupe_events(rows.filter("_ok").select(*columns))
    else:
        rows = None
        n_rows = n_skipped = 0
        events = _empty_events(spark)

    lh.ensure_table(spark, "silver", "consent_events", _empty_events(spark))
    current = lh.read(spark, "silver", "consent_events").select("event_key")
    diff = (
        events.select("event_key", F.lit(True).alias("_new"))
        .join(current.select("event_key", F.lit(True).alias("_old")), "event_key", "full_outer")
        .groupBy()
        .agg(
            F.sum((F.col("_old").isNull()).cast("long")).alias("inserted"),
            F.sum((F.col("_new").isNull()).cast("long")).alias("deleted"),
            F.sum((F.col("_new") & F.col("_old")).cast("long")).alias("kept"),
        )
        .first()
    )
    inserted = int(diff["inserted"] or 0) if diff else 0
    deleted = int(diff["deleted"] or 0) if diff else 0
    kept = int(diff["kept"] or 0) if diff else 0
    if inserted or deleted:
        lh.merge(
            events,
            "silver",
            "consent_events",
            on=["event_key"],
            update=False,
            delete_not_matched_by_source=True,
            run_id=run_id,
        )
    if rows is not None:
        rows.unpersist()
    metrics = {
        "consent_rows": n_rows,
        "consent_rows_skipped": n_skipped,
        "consent_events": inserted + kept,
        "consent_events_inserted": inserted,
        "consent_events_deleted": deleted,
        "consent_tables_missing": missing,
    }
    logger.info("consent events: %s", metrics)
    return metrics


# --------------------------------------------------------------------------- pure transforms
def consent_order() -> list[Column]:
    """Ranking of consent events, winner first: newest, then opt-out, then ``event_key``."""
    return [F.col("event_at").desc(), F.col("opt_in").asc(), F.col("event_key").asc()]


def consent_struct() -> Column:
    """The consent value carried per channel: opt-in, time and where it came from."""
    return F.struct(
        F.col("opt_in").alias("opt_in"),
        F.col("event_at").alias("event_at"),
        F.col("source").alias("source"),
        F.col("source_id").alias("source_id"),
        F.col("record_key").alias("record_key"),
    )


def latest_consent(events: DataFrame) -> DataFrame:
    """Consent events of customers -> one row per ``customer_id`` with the latest per channel.

    Args:
        events: ``silver.consent_events`` rows with a ``customer_id`` column.

    Returns:
        ``customer_id`` and one struct column ``_consent_<channel>`` per channel
        (``opt_in``, ``event_at``, ``source``, ``source_id``, ``record_key``; null when the
        customer has no event on that channel).
    """
    require_columns(
        events,
        ["customer_id", "event_key", "record_key", "source", "source_id", "channel", "opt_in"],
        "consent events",
    )
    window = Window.partitionBy("customer_id", "channel").orderBy(*consent_order())
    ranked = events.withColumn("_rn", F.row_number().over(window)).filter("_rn = 1")
    return ranked.groupBy("customer_id").agg(
        *[
            F.first(F.when(F.col("channel") == channel, consent_struct()), ignorenulls=True).alias(
                f"_consent_{channel}"
            )
            for channel in CHANNELS
        ]
    )


def _beats(a: Column, b: Column) -> Column:
    """Whether consent ``a`` ranks strictly before ``b`` (newer, or same time and opt-out)."""
    return (a["event_at"] > b["event_at"]) | (
        (a["event_at"] == b["event_at"]) & ~a["opt_in"] & b["opt_in"]
    )


def current_consent(profiles: DataFrame) -> DataFrame:
    """Stored golden profiles -> ``customer_id`` and ``_held_<channel>`` consent structs."""
    cols = [F.col("customer_id")]
    for ch in CHANNELS:
        prov = F.col("provenance")[f"consent_{ch}"]
        held = F.struct(
            F.col(f"consent_{ch}").alias("opt_in"),
            F.col(f"consent_{ch}_at").alias("event_at"),
            F.col(f"consent_{ch}_source").alias("source"),
            prov["source_id"].alias("source_id"),
            prov["record_key"].alias("record_key"),
        )
        cols.append(F.when(F.col(f"consent_{ch}_at").isNotNull(), held).alias(f"_held_{ch}"))
    return profiles.select(*cols)


def keep_newer_consent(current: DataFrame | None) -> Transform:
    """Factory: never let a profile's consent be replaced by an older one.

    For each channel the consent already held in ``current`` (the stored golden profiles) is
    kept when it ranks strictly before the freshly computed one (newer, or same time and an
    opt-out against an opt-in), or when nothing was computed, provided the record it came from
    still belongs to the customer (``_record_keys``); a held consent whose record was erased
    or moved to another customer is dropped. With every event kept in
    ``silver.consent_events`` the fresh value is already the latest; this guard protects the
    profile if events ever go missing.

    Args:
        current: stored ``gold.golden_profiles`` (None on the first run).

    Returns:
        A transform over frames with ``customer_id``, ``_record_keys`` and ``_consent_<channel>``.
    """

    def _keep(profiles: DataFrame) -> DataFrame:
        if current is None:
            return profiles
        held = current_consent(current)
        joined = profiles.join(held, "customer_id", "left")
        for ch in CHANNELS:
            fresh, old = F.col(f"_consent_{ch}"), F.col(f"_held_{ch}")
            keep = (
                old.isNotNull()
                & F.array_contains(F.col("_record_keys"), old["record_key"])
                & (fresh.isNull() | _beats(old, fresh))
            )
            joined = joined.withColumn(f"_consent_{ch}", F.when(keep, old).otherwise(fresh))
        return joined.drop(*[f"_held_{ch}" for ch in CHANNELS])

    return _keep
