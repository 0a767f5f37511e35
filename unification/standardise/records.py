"""Bronze -> ``silver.person_records``: the canonical identity schema, standardised.

Table ``silver.person_records`` (schema :data:`unification.schemas.PERSON_RECORDS`).
**Grain**: one row per source identity record (the latest delivered version of it).
**Key**: ``record_key`` = ``<source>:<entity>:<source_id>``, unique and never null.

How a table gets here is configuration only: every entity of ``conf/sources/*.yml`` with a
``person:`` mapping contributes; the mapping gives Spark SQL expressions over the bronze
columns for ``source_id``, ``updated_at``, the canonical fields and extra ``identifiers``
(see ``docs/ONBOARDING_A_SOURCE.md``).

Bronze is append-only: the same ``source_id`` may arrive in several batches (updates) and the
same row twice. The latest version wins, ordered by the source's ``updated_at``, then
``_ingested_at``, then ``_batch_id`` and ``_row_number`` (a later row of the same file wins).

The table is written with one Delta MERGE on ``record_key`` that updates only rows whose
values changed, inserts new records and deletes records no longer delivered, so a re-run on the
same bronze changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification.config import AppConfig, EntityConfig, PersonMapping
from unification.lakehouse import Lakehouse
from unification.schemas import PERSON_FIELDS, PERSON_RECORDS
from unification.standardise import columns as C
from unification.standardise.settings import StandardiseSettings
from unification.state import Watermark, fingerprint, get_watermark, read_version, set_watermarks

logger = logging.getLogger(__name__)

TABLE = "person_records"
KEY = ("record_key",)

#: Canonical fields read as text and cleaned by :func:`standardise_persons`.
_RAW = [f"raw_{f}" for f in PERSON_FIELDS]


def bronze_table_name(source: str, entity: str) -> str:
    """Name of the bronze table of an entity (layer ``bronze``)."""
    return f"{source}_{entity}"


def _typed_text(df: DataFrame, expr: str) -> Column:
    """Evaluate a mapping expression as text (dates as ISO ``yyyy-MM-dd``)."""
    col = F.expr(expr)
    dtype = df.select(col.alias("x")).schema["x"].dataType
    if isinstance(dtype, (T.DateType, T.TimestampType, T.TimestampNTZType)):
        return F.date_format(col, "yyyy-MM-dd")
    return col.cast("string")


def _updated_at(df: DataFrame, expr: str) -> Column:
    col = F.expr(expr)
    dtype = df.select(col.alias("x")).schema["x"].dataType
    if isinstance(dtype, T.StringType):
        return F.try_to_timestamp(col)
    if isinstance(dtype, (T.TimestampType, T.TimestampNTZType, T.DateType)):
        return col.cast("timestamp")
    return F.lit(None).cast("timestamp")


def mapped_frame(bronze: DataFrame, source: str, entity: str, mapping: PersonMapping) -> DataFrame:
    """Apply an entity's ``person`` mapping: one row per bronze row, fields as raw text.

    Columns: ``source``, ``entity``, ``source_id``, ``updated_at``, ``raw_<field>`` for every
    canonical field (null when not mapped), ``raw_identifiers`` (map), and the bronze
    ``_batch_id`` / ``_ingested_at`` / ``_row_number`` (null when absent). Rows without a
    source id are dropped.
    """
    cols: list[Column] = [
        F.lit(source).alias("source"),
        F.lit(entity).alias("entity"),
        C.blank_to_null(F.expr(mapping.source_id).cast("string")).alias("source_id"),
        _updated_at(bronze, mapping.updated_at).alias("updated_at"),
    ]
    for field in PERSON_FIELDS:
        expr = mapping.fields.get(field)
        value = _typed_text(bronze, expr) if expr else F.lit(None).cast("string")
        cols.append(value.alias(f"raw_{field}"))
    if mapping.identifiers:
        pairs = [
            x
            for name in sorted(mapping.identifiers)
            for x in (F.lit(name), F.expr(mapping.identifiers[name]).cast("string"))
        ]
        cols.append(F.create_map(*pairs).alias("raw_identifiers"))
    else:
        cols.append(F.lit(None).cast("map<string,string>").alias("raw_identifiers"))
    for meta, typ in (
        ("_batch_id", "string"),
        ("_ingested_at", "timestamp"),
        ("_row_number", "long"),
    ):
        cols.append((F.col(meta) if meta in bronze.columns else F.lit(None)).cast(typ).alias(meta))
    return bronze.select(*cols).where(F.col("source_id").isNotNull())


def latest_per_record(df: DataFrame) -> DataFrame:
    """Keep the latest version of each (source, entity, source_id).

    Order: ``updated_at`` desc, ``_ingested_at`` desc, ``_batch_id`` desc, ``_row_number`` desc
    (nulls last). Exact duplicate rows collapse to one.
    """
    w = Window.partitionBy("source", "entity", "source_id").orderBy(
        F.col("updated_at").desc_nulls_last(),
        F.col("_ingested_at").desc_nulls_last(),
        F.col("_batch_id").desc_nulls_last(),
        F.col("_row_number").desc_nulls_last(),
    )
    return df.withColumn("_rn", F.row_number().over(w)).where("_rn = 1").drop("_rn")


def _leading_title(col: Column, titles: list[str]) -> Column:
    alt = "|".join(sorted({t.lower() for t in titles}, key=len, reverse=True))
    return F.regexp_extract(F.lower(F.trim(col)), rf"^({alt})\.?\s+", 1)


def standardise_persons(
    settings: StandardiseSettings, as_of: Column | None = None
) -> Callable[[DataFrame], DataFrame]:
    """Factory of the transform that turns a :func:`mapped_frame` into standard values.

    Placeholders are nulled in every field first, then each field is cleaned with the
    :mod:`unification.standardise.columns` functions and validity flags are set (``False``:
    a value was delivered but rejected; ``None``: nothing delivered).

    Args:
        settings: the ``standardise:`` section.
        as_of: reference date of birth-date plausibility (default: today).
    """
    s = settings
    ref = as_of if as_of is not None else F.current_date()

    def _(df: DataFrame) -> DataFrame:
        ph = {
            f: C.null_placeholders(F.col(f"raw_{f}"), s.placeholder_values, s.placeholder_patterns)
            for f in PERSON_FIELDS
        }
        country = C.clean_country(ph["country"], s.country_aliases)
        stage1 = df.select(
            "*",
            *[ph[f].alias(f"p_{f}") for f in PERSON_FIELDS],
            country.alias("country"),
        )
        region = F.coalesce(F.col("country"), F.lit(s.default_region.upper()))
        known_country = F.col("country").isin(sorted(_iso_regions()))
        pv = s.phone_validation
        stage2 = stage1.select(
            "*",
            C.parse_phone(F.col("p_phone"), region, pv).alias("_ph"),
            C.parse_phone(F.col("p_mobile"), region, pv).alias("_mob"),
            C.parse_date(F.col("p_birth_date"), s.birth_date.formats).alias("_bd"),
            C.clean_postal_code(F.col("p_postal_code"), region, s.address).alias("_pc"),
            region.alias("_region"),
        ).withColumn("country", F.when(known_country, F.col("country")))

        n = s.names
        gender = F.coalesce(
            C.clean_gender(F.col("p_gender")),
            C.title_gender(F.col("p_title"), n.female_titles, n.male_titles),
            C.title_gender(
                _leading_title(F.col("p_first_name"), n.titles), n.female_titles, n.male_titles
            ),
        )
        prefixes = sorted({p for ps in s.mobile_prefixes.values() for p in ps})

        def is_mobile(parsed: str) -> Column:
            known = F.col(f"{parsed}.mobile")
            by_prefix = F.lit(False)
            for prefix in prefixes:
                by_prefix = by_prefix | F.col(f"{parsed}.e164").startswith(prefix)
            return F.coalesce(known, by_prefix)

        mobile = F.coalesce(
            F.when(is_mobile("_mob"), F.col("_mob.e164")),
            F.when(is_mobile("_ph"), F.col("_ph.e164")),
        )

        def given(field: str) -> Column:
            return C.blank_to_null(F.col(f"raw_{field}")).isNotNull()

        identifiers = F.map_filter(
            F.transform_values(
                F.col("raw_identifiers"),
                lambda _k, v: C.clean_identifier(
                    C.null_placeholders(v, s.placeholder_values, s.placeholder_patterns)
                ),
            ),
            lambda _k, v: v.isNotNull(),
        )
        # stage 3: cleaned values (each computed once; flags below only reference them)
        stage3 = stage2.select(
            F.concat_ws(":", "source", "entity", "source_id").alias("record_key"),
            "source",
            "entity",
            "source_id",
            C.clean_name(F.col("p_first_name"), n.titles, n.particles).alias("first_name"),
            C.clean_name(F.col("p_last_name"), n.titles, n.particles).alias("last_name"),
            C.clean_name(F.col("p_birth_name"), n.titles, n.particles).alias("birth_name"),
            C.plausible_birth_date(F.col("_bd"), s.birth_date, ref).alias("birth_date"),
            gender.alias("gender"),
            C.normalise_email(F.col("p_email"), s.email).alias("email"),
            C.email_raw(F.col("p_email")).alias("email_raw"),
            F.coalesce(F.col("_ph.e164"), F.col("_mob.e164")).alias("phone"),
            mobile.alias("mobile"),
            C.clean_address_line(F.col("p_address_line1"), s.address).alias("address_line1"),
            C.clean_address_line(F.col("p_address_line2"), s.address).alias("address_line2"),
            F.col("_pc"),
            C.postal_code_is_valid(F.col("_pc"), F.col("_region"), s.address).alias("_pc_ok"),
            C.clean_city(F.col("p_city"), s.address).alias("city"),
            C.afnor_text(F.col("p_region")).alias("region"),
            F.col("country"),
            identifiers.alias("_ids"),
            given("email").alias("_given_email"),
            (given("phone") | given("mobile")).alias("_given_phone"),
            (
                (given("phone") & F.col("_ph.e164").isNull())
                | (given("mobile") & F.col("_mob.e164").isNull())
            ).alias("_phone_rejected"),
            given("birth_date").alias("_given_birth_date"),
            (given("address_line1") | given("postal_code") | given("city")).alias("_given_address"),
            "updated_at",
            "_batch_id",
        )
        address_ok = F.coalesce(F.col("_pc_ok"), F.lit(True)) & (
            F.col("address_line1").isNotNull() | F.col("city").isNotNull()
        )
        return stage3.select(
            "record_key",
            "source",
            "entity",
            "source_id",
            "first_name",
            "last_name",
            "birth_name",
            "birth_date",
            "gender",
            "email",
            "email_raw",
            "phone",
            "mobile",
            "address_line1",
            "address_line2",
            F.when(F.col("_pc_ok"), F.col("_pc")).alias("postal_code"),
            "city",
            "region",
            "country",
            F.when(F.size("_ids") > 0, F.col("_ids")).alias("identifiers"),
            F.when(F.col("_given_email"), F.col("email").isNotNull()).alias("email_valid"),
            F.when(F.col("_given_phone"), ~F.col("_phone_rejected")).alias("phone_valid"),
            F.when(F.col("_given_birth_date"), F.col("birth_date").isNotNull()).alias(
                "birth_date_valid"
            ),
            F.when(F.col("_given_address"), address_ok).alias("address_valid"),
            "updated_at",
            "_batch_id",
        )

    return _


def _iso_regions() -> frozenset[str]:
    import phonenumbers

    return frozenset(r for r in phonenumbers.SUPPORTED_REGIONS if len(r) == 2)


def to_person_records(run_id: str | None) -> Callable[[DataFrame], DataFrame]:
    """Factory: select exactly :data:`PERSON_RECORDS` (types cast), stamping ``_run_id``."""

    def _(df: DataFrame) -> DataFrame:
        out = df.withColumn("_run_id", F.lit(run_id).cast("string"))
        return out.select(
            *[F.col(f.name).cast(f.dataType).alias(f.name) for f in PERSON_RECORDS.fields]
        )

    return _


def person_entities(cfg: AppConfig) -> list[tuple[str, str, EntityConfig]]:
    """Every (source, entity, config) whose entity declares a ``person`` mapping."""
    return [(s.name, name, e) for s, name, e in cfg.entities() if e.person is not None]


def build_person_records(
    spark: SparkSession,
    cfg: AppConfig,
    run_id: str | None = None,
    versions: dict[str, int] | None = None,
) -> tuple[DataFrame, dict[str, int]]:
    """The ``silver.person_records`` rows built from the current bronze tables (or the Delta
    ``versions`` given per bronze table name).

    Returns:
        The frame (not yet written) and, per ``source:entity`` with a person mapping, ``0``
        when its bronze table was read or ``-1`` when it does not exist yet.
    """
    lh = Lakehouse(cfg.lakehouse)
    frames: list[DataFrame] = []
    entities: dict[str, int] = {}
    for source, entity, ecfg in person_entities(cfg):
        table = bronze_table_name(source, entity)
        bronze: DataFrame | None
        if versions is not None and table in versions:
            bronze = read_version(spark, lh, "bronze", table, versions[table])
        else:
            bronze = lh.read_or_none(spark, "bronze", table)
        if bronze is None:
            logger.warning("bronze.%s does not exist yet: %s:%s skipped", table, source, entity)
            entities[f"{source}:{entity}"] = -1
            continue
        assert ecfg.person is not None
        frames.append(mapped_frame(bronze, source, entity, ecfg.person))
        entities[f"{source}:{entity}"] = 0
    as_of = F.to_date(F.lit(cfg.run.as_of)) if cfg.run.as_of else None
    if not frames:
        empty = spark.createDataFrame([], PERSON_RECORDS)
        return empty, entities
    raw = frames[0]
    for f in frames[1:]:
        raw = raw.unionByName(f)
    records = (
        latest_per_record(raw)
        .transform(standardise_persons(cfg.standardise, as_of))
        .transform(to_person_records(run_id))
    )
    return records, entities


def _changed_condition(schema: T.StructType, ignore: tuple[str, ...] = ("_run_id",)) -> str:
    parts = []
    for f in schema.fields:
        if f.name in ignore or f.name in KEY:
            continue
        if isinstance(f.dataType, (T.MapType, T.ArrayType, T.StructType)):
            parts.append(f"to_json(t.`{f.name}`) <=> to_json(s.`{f.name}`)")
        else:
            parts.append(f"t.`{f.name}` <=> s.`{f.name}`")
    return "NOT (" + " AND ".join(parts) + ")"


def write_minimal_change(
    df: DataFrame, lh: Lakehouse, layer: Any, table: str, key: tuple[str, ...], run_id: str
) -> None:
    """Replace a table's content with ``df`` in one Delta transaction, rewriting only rows
    that changed (MERGE ... WHEN NOT MATCHED BY SOURCE DELETE). Falls back to an atomic
    overwrite when the table's schema differs from ``df``'s (e.g. new comparison columns).
    """
    spark = df.sparkSession
    existing = lh.read_or_none(spark, layer, table)
    same_schema = existing is not None and [
        (f.name, f.dataType.simpleString()) for f in existing.schema.fields
    ] == [(f.name, f.dataType.simpleString()) for f in df.schema.fields]
    if existing is not None and not same_schema:
        logger.info("%s.%s: schema changed, overwriting the table", layer, table)
        lh.write(df, layer, table, mode="overwrite", run_id=run_id, overwrite_schema=True)
        return
    lh.merge(
        df,
        layer,
        table,
        on=list(key),
        update_condition=_changed_condition(df.schema),
        delete_not_matched_by_source=True,
        run_id=run_id,
    )


STATE_CONSUMER = "standardise"


def standardise_fingerprint(cfg: AppConfig) -> str:
    """Hash of everything that shapes a person record: standardise settings, the feature date
    (birth-date plausibility) and the person mappings. A change forces a full run."""
    mappings = {
        f"{s}:{e}": ecfg.person.model_dump(mode="json")
        for s, e, ecfg in person_entities(cfg)
        if ecfg.person is not None
    }
    return fingerprint(cfg.standardise, cfg.run.as_of, mappings)


def _incremental_records(
    spark: SparkSession,
    cfg: AppConfig,
    run_id: str,
    versions: dict[str, int],
    marks: dict[str, Watermark],
) -> tuple[DataFrame, dict[str, int]]:
    """Person records of the keys delivered in bronze batches newer than the watermarks.

    Each touched key is rebuilt from *all* its bronze rows (the latest version still wins, a
    stale re-delivery changes nothing), so the rows equal what a full run computes for them.
    """
    lh = Lakehouse(cfg.lakehouse)
    frames: list[DataFrame] = []
    new_batches: dict[str, int] = {}
    for source, entity, ecfg in person_entities(cfg):
        table = bronze_table_name(source, entity)
        assert ecfg.person is not None
        now, before = versions[table], marks[table].version
        if now == before:
            continue
        current = read_version(spark, lh, "bronze", table, now)
        seen = read_version(spark, lh, "bronze", table, before).select("_batch_id").distinct()
        fresh = current.select("_batch_id").distinct().join(seen, "_batch_id", "left_anti")
        batches = [r["_batch_id"] for r in fresh.collect()]
        new_batches[f"{source}:{entity}"] = len(batches)
        if not batches:
            continue
        mapped = mapped_frame(current, source, entity, ecfg.person)
        keys = mapped.where(F.col("_batch_id").isin(batches)).select("source_id").distinct()
        frames.append(mapped.join(keys, "source_id", "left_semi"))
    if not frames:
        return spark.createDataFrame([], PERSON_RECORDS), new_batches
    raw = frames[0]
    for f in frames[1:]:
        raw = raw.unionByName(f)
    as_of = F.to_date(F.lit(cfg.run.as_of)) if cfg.run.as_of else None
    records = (
        latest_per_record(raw)
        .transform(standardise_persons(cfg.standardise, as_of))
        .transform(to_person_records(run_id))
    )
    return records, new_batches


def run_standardise(spark: SparkSession, cfg: AppConfig, run_id: str) -> dict[str, Any]:
    """Stage entry: bronze -> ``silver.person_records``.

    With ``run.mode: incremental`` only the records of bronze batches delivered since the last
    run are standardised and merged in (see :func:`_incremental_records`); the stage falls
    back to a full run when there is no earlier state, a bronze table is new, or the settings
    changed (:func:`standardise_fingerprint`).

    Returns:
        Metrics for the run log: ``mode``, ``records`` (rows standardised),
        ``records_by_source``, counts of rejected values per flag (``email_invalid``,
        ``phone_invalid``, ``birth_date_invalid``, ``address_invalid``), ``missing_bronze``.
    """
    lh = Lakehouse(cfg.lakehouse)
    fp = standardise_fingerprint(cfg)
    versions: dict[str, int] = {}
    for source, entity, _ecfg in person_entities(cfg):
        table = bronze_table_name(source, entity)
        v = lh.version(spark, "bronze", table)
        if v is not None:
            versions[table] = v
    mode, why = "full", "run.mode is full"
    marks: dict[str, Watermark] = {}
    if cfg.run.mode == "incremental":
        for table in versions:
            mark = get_watermark(spark, lh, STATE_CONSUMER, f"bronze.{table}")
            if mark is not None and mark.fingerprint == fp:
                marks[table] = mark
        if not lh.exists(spark, "silver", TABLE):
            why = "no person_records yet"
        elif set(marks) != set(versions):
            why = "no earlier state for " + ", ".join(sorted(set(versions) - set(marks)))
        else:
            mode, why = "incremental", ""
    if why and cfg.run.mode == "incremental":
        logger.info("standardise: full run (%s)", why)

    entities: dict[str, int] = {}
    new_batches: dict[str, int] = {}
    if mode == "incremental":
        records, new_batches = _incremental_records(spark, cfg, run_id, versions, marks)
    else:
        records, entities = build_person_records(spark, cfg, run_id, versions)
    records = records.persist()
    try:
        stats = (
            records.groupBy("source", "entity")
            .agg(
                F.count(F.lit(1)).alias("records"),
                F.sum(F.when(~F.col("email_valid"), 1).otherwise(0)).alias("email_invalid"),
                F.sum(F.when(~F.col("phone_valid"), 1).otherwise(0)).alias("phone_invalid"),
                F.sum(F.when(~F.col("birth_date_valid"), 1).otherwise(0)).alias(
                    "birth_date_invalid"
                ),
                F.sum(F.when(~F.col("address_valid"), 1).otherwise(0)).alias("address_invalid"),
            )
            .collect()
        )
        if mode == "full":
            write_minimal_change(records, lh, "silver", TABLE, KEY, run_id)
        elif stats:
            lh.merge(
                records,
                "silver",
                TABLE,
                on=list(KEY),
                update_condition=_changed_condition(records.schema),
                run_id=run_id,
            )
    finally:
        records.unpersist()
    set_watermarks(
        spark, lh, STATE_CONSUMER, {f"bronze.{t}": v for t, v in versions.items()}, fp, run_id
    )
    by_source = {f"{r['source']}:{r['entity']}": int(r["records"]) for r in stats}
    metrics: dict[str, Any] = {
        "mode": mode,
        "records": sum(by_source.values()),
        "records_by_source": by_source,
        "missing_bronze": sorted(k for k, v in entities.items() if v < 0),
    }
    if mode == "incremental":
        metrics["new_batches"] = new_batches
    for flag in ("email_invalid", "phone_invalid", "birth_date_invalid", "address_invalid"):
        metrics[flag] = int(sum(int(r[flag] or 0) for r in stats))
    logger.info(
        "standardise (%s): %s person records from %s", mode, metrics["records"], sorted(by_source)
    )
    return metrics
