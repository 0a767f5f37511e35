"""The suppression list (``ops.suppression``) and the ingestion hook that enforces it.

An erasure adds the SHA-256 of every identifier of the erased person: record keys
(``source:entity:source_id``), normalised emails (the matching form of
``silver.person_records.email``) and E.164 phones. Nothing in clear.

:func:`drop_suppressed` is called by ingestion (:mod:`unification.ingest.ingest`) on the rows
of the new files of an entity, after they are classified and counted, before anything is
written: rows that carry a suppressed identifier go neither to bronze nor to the quarantine
(which would keep their raw text). They are counted per file as ``rows_suppressed``, so that
rows read = accepted + quarantined + suppressed. The identifiers of a row are computed with the
standardisation code itself (:func:`unification.standardise.records.standardise_persons`), so a
re-delivered row matches whatever its formatting:

* ``record``: the row's own person record key (entities with a ``person:`` mapping), or the
  person record its events link to (``events[].links``: an order, an email event of the
  erased person);
* ``email`` / ``phone``: the normalised email, E.164 phone and mobile of the row's person
  mapping.

Which kinds are compared is ``privacy.suppression.match_on``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.privacy.hashing import suppression_hash
from unification.privacy.tables import SUPPRESSION, SUPPRESSION_TABLE

if TYPE_CHECKING:
    from unification.config import AppConfig, EntityConfig
    from unification.lakehouse import Lakehouse

logger = logging.getLogger(__name__)

#: Columns that identify a row of the ingestion reader layout.
ROW_ID: tuple[str, ...] = ("_file_idx", "_pid", "_idx")
_NO_ID = "__unify_no_source_id__"


def read_suppression(spark: SparkSession, lh: Lakehouse) -> DataFrame | None:
    """``ops.suppression`` (``kind``, ``hash``), or None when nothing was ever suppressed."""
    layer, table = SUPPRESSION_TABLE
    return lh.read_or_none(spark, layer, table)


def add_to_suppression(
    spark: SparkSession,
    lh: Lakehouse,
    entries: Iterable[tuple[str, str, str | None]],
    *,
    run_id: str | None = None,
) -> int:
    """Insert (``kind``, ``hash``, ``request_id``) entries not in the list yet (one MERGE).

    Returns:
        The number of entries given (after de-duplication).
    """
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    unique: dict[tuple[str, str], str | None] = {}
    for kind, digest, request_id in entries:
        if digest:
            unique.setdefault((kind, digest), request_id)
    if not unique:
        return 0
    rows = [(k, h, r, now) for (k, h), r in sorted(unique.items())]
    df = spark.createDataFrame(rows, SUPPRESSION)
    layer, table = SUPPRESSION_TABLE
    if not lh.exists(spark, layer, table):
        lh.write(df, layer, table, mode="append", run_id=run_id)
        return len(rows)
    key = "spark.databricks.delta.commitInfo.userMetadata"
    if run_id:
        spark.conf.set(key, run_id)
    try:
        (
            lh.delta_table(spark, layer, table)
            .alias("t")
            .merge(df.alias("s"), "t.kind = s.kind AND t.hash = s.hash")
            .whenNotMatchedInsertAll()
            .execute()
        )
    finally:
        if run_id:
            spark.conf.unset(key)
    return len(rows)


def identifier_hashes(
    record_key: Column, email: Column, phone: Column, mobile: Column, kinds: Sequence[str]
) -> Column:
    """``array<struct<kind, hash>>`` of a person record's identifiers (nulls removed)."""
    candidates = []
    if "record" in kinds:
        candidates.append(("record", record_key))
    if "email" in kinds:
        candidates.append(("email", email))
    if "phone" in kinds:
        candidates += [("phone", phone), ("phone", mobile)]
    structs = [
        F.struct(F.lit(kind).alias("kind"), suppression_hash(col).alias("hash"))
        for kind, col in candidates
    ]
    if not structs:
        return F.array().cast("array<struct<kind:string,hash:string>>")
    return F.filter(F.array(*structs), lambda s: s["hash"].isNotNull())


def row_identifiers(
    cfg: AppConfig, source: str, entity_name: str, entity: EntityConfig, rows: DataFrame
) -> DataFrame:
    """(``_file_idx``, ``_pid``, ``_idx``, ``kind``, ``hash``) of each incoming row.

    ``rows`` are in the ingestion layout: the typed contract columns plus :data:`ROW_ID`.
    """
    from unification.interactions.events import link_record_key
    from unification.standardise import columns as C

    kinds = cfg.privacy.suppression.match_on
    row_id = [F.col(c) for c in ROW_ID]
    frames: list[DataFrame] = []
    record_keys: list[Column] = []
    if "record" in kinds:
        if entity.person is not None:
            sid = C.blank_to_null(F.expr(entity.person.source_id).cast("string"))
            record_keys.append(F.concat(F.lit(f"{source}:{entity_name}:"), sid))
        for mapping in entity.events:
            if mapping.links:
                record_keys.append(link_record_key(mapping.links))
    if record_keys:
        try:
            frames.append(
                rows.select(
                    *row_id,
                    F.explode(
                        F.array(
                            *[
                                F.struct(
                                    F.lit("record").alias("kind"),
                                    suppression_hash(k).alias("hash"),
                                )
                                for k in record_keys
                            ]
                        )
                    ).alias("_id"),
                ).select(*ROW_ID, "_id.kind", "_id.hash")
            )
        except AnalysisException as exc:
            logger.warning(
                "suppression: %s.%s: record keys not computable on incoming rows (%s)",
                source,
                entity_name,
                type(exc).__name__,
            )
    person = entity.person
    contact_fields = {"email", "phone", "mobile"} & set(person.fields if person else {})
    if person is not None and contact_fields and {"email", "phone"} & set(kinds):
        frames_person = _person_identifiers(cfg, source, entity_name, entity, rows, kinds)
        if frames_person is not None:
            frames.append(frames_person)
    if not frames:
        return rows.select(*ROW_ID, F.lit("").alias("kind"), F.lit("").alias("hash")).limit(0)
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out.where(F.col("hash").isNotNull())


def _person_identifiers(
    cfg: AppConfig,
    source: str,
    entity_name: str,
    entity: EntityConfig,
    rows: DataFrame,
    kinds: Sequence[str],
) -> DataFrame | None:
    """Normalised email / phones of each row, through the standardisation code itself."""
    from unification.standardise.records import mapped_frame, standardise_persons

    assert entity.person is not None
    # keep rows without a source id (they may still carry a suppressed email or phone)
    sid = f"coalesce(nullif(trim(CAST(({entity.person.source_id}) AS STRING)), ''), '{_NO_ID}')"
    mapping = entity.person.model_copy(update={"source_id": sid})
    tagged = rows.withColumn(
        "_batch_id", F.concat_ws(":", *[F.col(c).cast("string") for c in ROW_ID])
    )
    try:
        std = mapped_frame(tagged, source, entity_name, mapping).transform(
            standardise_persons(cfg.standardise)
        )
        ids = identifier_hashes(
            F.lit(None).cast("string"),
            F.col("email"),
            F.col("phone"),
            F.col("mobile"),
            [k for k in kinds if k != "record"],
        )
        parts = F.split(F.col("_batch_id"), ":")
        return std.select(
            *[
                parts.getItem(i).cast(rows.schema[c].dataType).alias(c)
                for i, c in enumerate(ROW_ID)
            ],
            F.explode(ids).alias("_id"),
        ).select(*ROW_ID, "_id.kind", "_id.hash")
    except AnalysisException as exc:
        logger.warning(
            "suppression: %s.%s: person mapping not computable on incoming rows (%s); "
            "only record keys are checked",
            source,
            entity_name,
            type(exc).__name__,
        )
        return None


def drop_suppressed(
    cfg: AppConfig | None,
    lh: Lakehouse,
    source: str,
    entity_name: str,
    entity: EntityConfig,
    rows: DataFrame,
    pending: Sequence[Any],
) -> DataFrame:
    """Ingestion hook: remove the rows of suppressed persons before bronze and quarantine.

    Args:
        cfg: the run configuration (None: nothing is checked).
        lh: the lakehouse.
        source: source name.
        entity_name: entity name.
        entity: its contract and mappings.
        rows: classified rows (ingestion layout, ``_reason`` = "" for accepted rows).
        pending: the files being written (objects with ``idx`` and ``report``); each
            report's ``rows_accepted`` / ``rows_quarantined`` are decreased and
            ``rows_suppressed`` set by the rows dropped from that file.

    Returns:
        ``rows`` without the suppressed ones (``rows`` itself when none is).
    """
    if cfg is None or not cfg.privacy.suppression.enabled:
        return rows
    spark = rows.sparkSession
    supp = read_suppression(spark, lh)
    if supp is None:
        return rows
    kinds = cfg.privacy.suppression.match_on
    wanted = F.broadcast(supp.where(F.col("kind").isin(*kinds)).select("kind", "hash").distinct())
    flagged = (
        row_identifiers(cfg, source, entity_name, entity, rows)
        .join(wanted, ["kind", "hash"], "left_semi")
        .select(*ROW_ID)
        .distinct()
        .withColumn("_suppressed", F.lit(True))
    )
    marked = rows.join(flagged, list(ROW_ID), "left")
    accepted = F.col("_reason") == F.lit("")
    counts = (
        marked.where(F.col("_suppressed"))
        .groupBy("_file_idx", F.when(~accepted, F.col("_kind")).alias("_kind"))
        .agg(F.count(F.lit(1)).alias("n"))
        .collect()
    )
    if not counts:
        return rows
    by_file: dict[int, dict[str | None, int]] = {}
    for r in counts:
        by_file.setdefault(int(r["_file_idx"]), {})[r["_kind"]] = int(r["n"])
    total = 0
    for item in pending:
        kinds_dropped = by_file.get(int(item.idx), {})
        acc = kinds_dropped.get(None, 0)
        quar = sum(n for k, n in kinds_dropped.items() if k is not None)
        report = item.report
        report.rows_accepted -= acc
        report.rows_quarantined -= quar
        for kind, n in kinds_dropped.items():
            if kind is not None and kind in report.quarantine_kinds:
                report.quarantine_kinds[kind] -= n
                if report.quarantine_kinds[kind] <= 0:
                    del report.quarantine_kinds[kind]
        report.rows_suppressed = getattr(report, "rows_suppressed", 0) + acc + quar
        total += acc + quar
    logger.info("%s.%s: %d row(s) of erased persons suppressed", source, entity_name, total)
    return marked.where(F.col("_suppressed").isNull()).drop("_suppressed")
