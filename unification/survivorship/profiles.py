"""Golden profiles (``gold.golden_profiles``): survivorship, provenance, consent, contactability.

``gold.golden_profiles``: grain one row per customer; key ``customer_id`` (from
``gold.identity_graph``). Columns: :data:`GOLDEN_PROFILES`. Written with a Delta MERGE on
``customer_id``, Change Data Feed on (``delta.enableChangeDataFeed = true`` at creation):

* rows whose ``profile_hash`` (sha256 of every business column) is unchanged are not touched,
  and when nothing changed at all no commit is made: a re-run on the same input writes
  nothing to the table or its change feed;
* customers no longer in the identity graph (merged into another id, erased) are deleted;
* ``_run_id`` is the run that last changed the row.

Inputs: ``silver.person_records`` joined to ``gold.identity_graph`` on ``record_key`` (records
without a customer id are skipped and counted), ``silver.consent_events`` likewise.

Contactability, per channel, is "a usable address or number, and consent":

* ``contactable_email``: ``email`` not null (person records null invalid addresses) and
  ``consent_email`` true;
* ``contactable_sms``: ``mobile`` not null and ``consent_sms`` true;
* ``contactable_phone``: ``phone`` or ``mobile`` not null (a mobile can be called) and
  ``consent_phone`` true;
* ``contactable_post``: ``address_valid`` true (the surviving address block was validated)
  and ``consent_post`` true.

No consent event on a channel means no consent: the customer is not contactable on it.
"""

from __future__ import annotations

import logging
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification import schemas
from unification.config import AppConfig
from unification.lakehouse import Lakehouse
from unification.survivorship.consent import (
    CHANNELS,
    CONSENT_RULE,
    build_consent_events,
    keep_newer_consent,
    latest_consent,
)
from unification.survivorship.rules import (
    PROVENANCE,
    RECORD_META,
    Transform,
    require_columns,
    survive_attributes,
)
from unification.survivorship.settings import SURVIVING_ATTRIBUTES, SurvivorshipSettings

logger = logging.getLogger(__name__)


#: Table properties of ``gold.golden_profiles`` (set when it is created).
GOLDEN_PROPERTIES: dict[str, str] = {"delta.enableChangeDataFeed": "true"}

_ATTRIBUTE_TYPES: dict[str, T.DataType] = {
    f.name: f.dataType for f in schemas.PERSON_RECORDS.fields if f.name in SURVIVING_ATTRIBUTES
}

#: ``gold.golden_profiles`` schema; key ``customer_id``.
GOLDEN_PROFILES = T.StructType(
    [
        T.StructField("customer_id", T.StringType(), False),
        *[T.StructField(a, _ATTRIBUTE_TYPES[a], True) for a in SURVIVING_ATTRIBUTES],
        # attribute (and consent_<channel>) -> where its value came from
        T.StructField("provenance", T.MapType(T.StringType(), PROVENANCE, True), True),
        *[
            field
            for ch in CHANNELS
            for field in (
                T.StructField(f"consent_{ch}", T.BooleanType(), True),
                T.StructField(f"consent_{ch}_at", T.TimestampType(), True),
                T.StructField(f"consent_{ch}_source", T.StringType(), True),
            )
        ],
        *[T.StructField(f"contactable_{ch}", T.BooleanType(), False) for ch in CHANNELS],
        T.StructField("record_count", T.LongType(), False),
        T.StructField("sources", T.ArrayType(T.StringType(), True), True),
        T.StructField("updated_at", T.TimestampType(), True),  # max source updated_at
        T.StructField("profile_hash", T.StringType(), False),
        T.StructField("_run_id", T.StringType(), True),  # run that last changed the row
    ]
)

#: Columns covered by ``profile_hash`` (everything but the key, the hash and ``_run_id``).
HASHED_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in GOLDEN_PROFILES.fields if f.name not in ("profile_hash", "_run_id")
)


# --------------------------------------------------------------------------- pure transforms
def attach_customer_id(graph: DataFrame) -> Transform:
    """Factory: add ``customer_id`` from the identity graph (inner join on ``record_key``)."""

    def _attach(df: DataFrame) -> DataFrame:
        return df.join(graph.select("record_key", "customer_id"), "record_key", "inner")

    return _attach


def contactable(channel: str) -> Column:
    """Whether a profile can be contacted on ``channel`` (usable address/number and consent)."""
    usable = {
        "email": F.col("email").isNotNull(),
        "sms": F.col("mobile").isNotNull(),
        "phone": F.col("phone").isNotNull() | F.col("mobile").isNotNull(),
        "post": F.coalesce(F.col("address_valid"), F.lit(False)),
    }[channel]
    return usable & F.coalesce(F.col(f"consent_{channel}"), F.lit(False))


def with_contactability(profiles: DataFrame) -> DataFrame:
    """Add ``contactable_<channel>`` for every channel (never null)."""
    return profiles.withColumns(
        {f"contactable_{ch}": F.coalesce(contactable(ch), F.lit(False)) for ch in CHANNELS}
    )


def flatten_consent(profiles: DataFrame) -> DataFrame:
    """``_consent_<channel>`` structs -> ``consent_<channel>[_at|_source]`` columns.

    The provenance of each channel's consent goes into ``provenance`` under
    ``consent_<channel>`` (rule ``latest_event``, ``as_of`` = the event time).
    """
    cols: dict[str, Column] = {}
    entries: list[Column] = []
    for ch in CHANNELS:
        c = F.col(f"_consent_{ch}")
        cols[f"consent_{ch}"] = c["opt_in"]
        cols[f"consent_{ch}_at"] = c["event_at"]
        cols[f"consent_{ch}_source"] = c["source"]
        prov = F.struct(
            c["source"].alias("source"),
            c["source_id"].alias("source_id"),
            c["record_key"].alias("record_key"),
            c["event_at"].alias("as_of"),
            F.lit(CONSENT_RULE).alias("rule"),
        )
        entries.extend([F.lit(f"consent_{ch}"), F.when(c.isNotNull(), prov)])
    consent_prov = F.map_filter(F.create_map(*entries), lambda _k, v: v.isNotNull())
    cols["provenance"] = F.map_concat(
        F.coalesce(F.col("provenance"), F.create_map().cast(T.MapType(T.StringType(), PROVENANCE))),
        consent_prov,
    )
    return profiles.withColumns(cols).drop(*[f"_consent_{ch}" for ch in CHANNELS])


#: JSON options of the hash: timestamps rendered in UTC whatever the session time zone.
_HASH_JSON = {
    "timeZone": "UTC",
    "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSS",
    "dateFormat": "yyyy-MM-dd",
}


def profile_hash() -> Column:
    """sha256 of the business columns (:data:`HASHED_COLUMNS`) as JSON (zone-independent)."""
    return F.sha2(F.to_json(F.struct(*[F.col(c) for c in HASHED_COLUMNS]), _HASH_JSON), 256)


def conform(run_id: str | None) -> Transform:
    """Factory: add ``profile_hash`` and ``_run_id`` and select :data:`GOLDEN_PROFILES`."""

    def _conform(profiles: DataFrame) -> DataFrame:
        typed = profiles.select(
            *[
                F.col(f.name).cast(f.dataType).alias(f.name)
                for f in GOLDEN_PROFILES.fields
                if f.name not in ("profile_hash", "_run_id")
            ]
        )
        return typed.select(
            *HASHED_COLUMNS,
            profile_hash().alias("profile_hash"),
            F.lit(run_id).cast("string").alias("_run_id"),
        )

    return _conform


def golden_profiles(
    records: DataFrame,
    events: DataFrame,
    settings: SurvivorshipSettings,
    current: DataFrame | None = None,
    run_id: str | None = None,
) -> DataFrame:
    """Compute golden profiles from records and consent events (no table access).

    Args:
        records: person records with ``customer_id`` (one row per record).
        events: consent events with ``customer_id``.
        settings: survivorship rules.
        current: the stored golden profiles, for the consent guard (None on the first run).
        run_id: written to ``_run_id``.

    Returns:
        One row per ``customer_id``, columns :data:`GOLDEN_PROFILES`.
    """
    survived = records.transform(survive_attributes(settings.units()))
    consent = latest_consent(events)
    return (
        survived.join(consent, "customer_id", "left")
        .transform(keep_newer_consent(current))
        .transform(flatten_consent)
        .transform(with_contactability)
        .transform(conform(run_id))
    )


# --------------------------------------------------------------------------- the stage
def run_survive(spark: SparkSession, cfg: AppConfig, run_id: str) -> dict[str, Any]:
    """Build ``silver.consent_events``, then MERGE ``gold.golden_profiles``.

    Reads ``silver.person_records``, ``silver.consent_events`` and ``gold.identity_graph``.
    Re-running on the same input changes no row and commits nothing to the golden table.

    Returns:
        Consent-event counts (see :func:`build_consent_events`) plus ``profiles``,
        ``profiles_inserted`` / ``_updated`` / ``_deleted`` / ``_unchanged``,
        ``records_without_customer``, ``consent_events_without_customer``, and per channel
        ``consent_<channel>_opt_in`` and ``contactable_<channel>`` counts.
    """
    metrics: dict[str, Any] = dict(build_consent_events(spark, cfg, run_id))
    lh = Lakehouse(cfg.lakehouse)
    records = lh.read(spark, "silver", "person_records")
    graph = lh.read(spark, "gold", "identity_graph")
    events = lh.read(spark, "silver", "consent_events")
    require_columns(records, [c for c in RECORD_META if c != "customer_id"], "person_records")
    require_columns(graph, ["record_key", "customer_id"], "identity_graph")

    lh.ensure_table(
        spark,
        "gold",
        "golden_profiles",
        spark.createDataFrame([], GOLDEN_PROFILES),
        table_properties=GOLDEN_PROPERTIES,
    )
    current = lh.read(spark, "gold", "golden_profiles")
    linked_graph = graph.select("record_key", "customer_id")
    profiles = golden_profiles(
        records.transform(attach_customer_id(linked_graph)),
        events.transform(attach_customer_id(linked_graph)),
        cfg.survivorship,
        current=current,
        run_id=run_id,
    ).cache()

    old = current.select("customer_id", F.col("profile_hash").alias("_old_hash"))
    agg = [
        F.sum(F.col("profile_hash").isNotNull().cast("long")).alias("profiles"),
        F.sum((F.col("profile_hash").isNotNull() & F.col("_old_hash").isNull()).cast("long")).alias(
            "inserted"
        ),
        F.sum((F.col("profile_hash") != F.col("_old_hash")).cast("long")).alias("updated"),
        F.sum((F.col("profile_hash").isNull()).cast("long")).alias("deleted"),
        F.sum((F.col("profile_hash") == F.col("_old_hash")).cast("long")).alias("unchanged"),
    ]
    for ch in CHANNELS:
        agg.append(F.sum(F.col(f"consent_{ch}").cast("long")).alias(f"consent_{ch}_opt_in"))
        agg.append(F.sum(F.col(f"contactable_{ch}").cast("long")).alias(f"contactable_{ch}"))
    summary = profiles.join(old, "customer_id", "full_outer").groupBy().agg(*agg).first()
    counts = {k: int(v or 0) for k, v in (summary.asDict() if summary else {}).items()}
    keys = records.select("record_key", F.lit("records").alias("_kind")).unionByName(
        events.select("record_key", F.lit("events").alias("_kind"))
    )
    unlinked = keys.join(linked_graph, "record_key", "left_anti").groupBy("_kind").count()
    missing = {r["_kind"]: int(r["count"]) for r in unlinked.collect()}
    counts["records_without_customer"] = missing.get("records", 0)
    counts["consent_events_without_customer"] = missing.get("events", 0)

    if counts["inserted"] or counts["updated"] or counts["deleted"]:
        lh.merge(
            profiles,
            "gold",
            "golden_profiles",
            on=["customer_id"],
            update_condition="t.profile_hash <> s.profile_hash",
            delete_not_matched_by_source=True,
            run_id=run_id,
            table_properties=GOLDEN_PROPERTIES,
        )
    else:
        logger.info("golden_profiles: no change, nothing written")
    profiles.unpersist()
    for key in ("profiles", "inserted", "updated", "deleted", "unchanged"):
        metrics[key if key == "profiles" else f"profiles_{key}"] = counts.pop(key)
    metrics.update(counts)
    logger.info("survive: %s", metrics)
    return metrics
