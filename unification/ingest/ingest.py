"""Bronze ingestion: delivered files -> ``bronze.<source>_<entity>``, ``bronze._quarantine`` and
``bronze._batches`` (grain and key of each: :mod:`unification.ingest.tables`).

For each declared entity, :func:`ingest_entity`:

1. lists the files matching the entity's ``path`` glob and checksums them (sha256 = batch id);
   a batch already recorded in ``_batches`` is skipped (re-delivery is a no-op, whatever the
   file name), as is a second file with the same content in the same run;
2. inspects each new file on the driver: encoding, header against the contract, and an
   independent record count; a file that cannot be ingested as a whole is *rejected*;
3. reads all new files of the entity in one Spark pass (one scan per file, unioned), every value
   as text, types them, and classifies each row as accepted or quarantined with a reason;
4. computes per-file counts in one aggregation and reconciles them: records counted on the
   driver = rows parsed = rows accepted + rows quarantined; a file that does not reconcile is
   written nowhere;
5. appends accepted rows to bronze and rejected rows to ``_quarantine`` (one commit each, for
   the batches these tables do not hold yet); :func:`run_ingest` then records every batch of
   the run in ``_batches``, last.

A crash between writes is repaired by re-running: a batch found in a table is not written to
it again, and batches are only recorded once their rows are in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import reduce
from typing import TYPE_CHECKING, Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification.errors import ConfigError, ContractError, ReconciliationError
from unification.ingest import tables
from unification.ingest.contract import (
    SINGLE_BYTE,
    CsvDialect,
    csv_dialect,
    json_codec,
    match_columns,
    validate_contract,
)
from unification.ingest.files import (
    FileDigest,
    FileProblem,
    check_declared_encoding,
    count_json_lines,
    count_physical_rows,
    digest,
    find_files,
    inspect_csv,
    inspect_parquet,
)
from unification.ingest.readers import read_csv, read_jsonl, read_parquet
from unification.ingest.rows import REASON_KINDS, classify_rows
from unification.lakehouse import Lakehouse

if TYPE_CHECKING:
    from unification.config import AppConfig, EntityConfig
    from unification.ingest.settings import IngestSettings

logger = logging.getLogger(__name__)

#: Status of a file in a run. ``ingested`` and ``rejected`` are recorded in ``_batches``
#: (as ``succeeded`` / ``rejected``); the others are not.
FILE_STATUSES = ("ingested", "skipped", "rejected", "previously_rejected", "unreconciled")

_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "int": T.IntegerType(),
    "long": T.LongType(),
    "double": T.DoubleType(),
    "boolean": T.BooleanType(),
    "date": T.DateType(),
    "timestamp": T.TimestampType(),
}
_META_TYPES: dict[str, T.DataType] = {
    "_source": T.StringType(),
    "_entity": T.StringType(),
    "_batch_id": T.StringType(),
    "_source_file": T.StringType(),
    "_row_number": T.LongType(),
    "_ingested_at": T.TimestampType(),
    "_row_hash": T.StringType(),
    "_run_id": T.StringType(),
}


@dataclass
class FileReport:
    """What happened to one delivered file in a run."""

    path: str
    batch_id: str
    bytes: int
    status: str = "ingested"
    rows_read: int | None = None
    rows_accepted: int = 0
    rows_quarantined: int = 0
    rows_suppressed: int = 0  # rows of erased persons (privacy suppression list), not written
    reason: str | None = None
    quarantine_kinds: dict[str, int] = field(default_factory=dict)


@dataclass
class EntityReport:
    """Outcome of ingesting one entity."""

    source: str
    entity: str
    files: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def table(self) -> str:
        """The entity's bronze table name."""
        return tables.bronze_table(self.source, self.entity)

    def with_status(self, status: str) -> list[FileReport]:
        """The files that ended with ``status``."""
        return [f for f in self.files if f.status == status]

    def metrics(self) -> dict[str, Any]:
        """Counts for the run log."""
        done = self.with_status("ingested")
        kinds = {k: sum(f.quarantine_kinds.get(k, 0) for f in done) for k in REASON_KINDS}
        return {
            "files_found": len(self.files),
            "files_ingested": len(done),
            "files_skipped": len(self.with_status("skipped")),
            "files_rejected": len(self.with_status("rejected")),
            "files_previously_rejected": len(self.with_status("previously_rejected")),
            "files_unreconciled": len(self.with_status("unreconciled")),
            "rows_read": sum(f.rows_read or 0 for f in done),
            "rows_accepted": sum(f.rows_accepted for f in done),
            "rows_quarantined": sum(f.rows_quarantined for f in done),
            "rows_suppressed": sum(f.rows_suppressed for f in done),
            "quarantine_reasons": {k: v for k, v in kinds.items() if v},
            "seconds": round(self.seconds, 2),
        }


@dataclass
class _Pending:
    """A new file about to be read by Spark."""

    idx: int
    report: FileReport
    expected: int | None  # independent record count
    names: tuple[str, ...] = ()  # bronze name per delivered column (CSV / Parquet)
    delivered: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    header: tuple[str, ...] | None = None
    truncated: bool = False
    offsets: dict[int, int] = field(default_factory=dict)  # partition -> first row number - 1
    json_keys: tuple[str, ...] = ()


# --------------------------------------------------------------------------- public API
def bronze_schema(entity: EntityConfig, settings: IngestSettings) -> T.StructType:
    """Schema of an entity's bronze table without extra columns: contract columns typed as
    declared, then the meta columns."""
    decimal = T.DecimalType(settings.decimal_precision, settings.decimal_scale)
    fields = [
        T.StructField(c.name, decimal if c.type == "decimal" else _TYPES[c.type], True)
        for c in entity.columns
    ]
    fields += [T.StructField(n, t, True) for n, t in _META_TYPES.items()]
    return T.StructType(fields)


def run_ingest(spark: SparkSession, cfg: AppConfig, run_id: str) -> dict[str, Any]:
    """Ingest every declared entity of every source into bronze.

    Files that break their contract as a whole are rejected (recorded in ``_batches``, nothing
    else written) and the run carries on; at the end it raises :class:`ContractError` listing
    them unless ``ingest.fail_on_rejected_file`` is false. A file whose counts do not reconcile
    is written nowhere and makes the run raise :class:`ReconciliationError` at the end.

    Args:
        spark: the session.
        cfg: the run configuration (sources, ``data_root``, lakehouse, ``ingest`` settings).
        run_id: id of this run, recorded on every row and commit.

    Returns:
        Counts for the run log: files found / ingested / skipped / rejected, rows read /
        accepted / quarantined, quarantine reasons, and the same per ``source.entity``.

    Raises:
        ReconciliationError: some file's counts did not reconcile (it was not written).
        ContractError: some file was rejected in this run (``fail_on_rejected_file``).
    """
    started = time.perf_counter()
    lakehouse = Lakehouse(cfg.lakehouse)
    known = tables.load_known_batches(spark, lakehouse)
    ingested_at = datetime.now(timezone.utc)
    reports: list[EntityReport] = []
    try:
        for source, name, _ in cfg.entities():
            report = ingest_entity(
                spark,
                cfg,
                source.name,
                name,
                run_id,
                known_batches=known,
                ingested_at=ingested_at,
                lakehouse=lakehouse,
                record=False,
            )
            reports.append(report)
    finally:
        # batches are recorded last, once their rows are written: also when a later entity
        # fails, so that a re-run does not parse the finished ones again
        records = [r for report in reports for r in batch_records(report, run_id, ingested_at)]
        tables.record_batches(spark, lakehouse, records, known, run_id)
        _remember(known, reports)
    metrics = summarise(reports)
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    logger.info(
        "ingest: %d file(s) ingested, %d skipped, %d rejected; rows read %d = accepted %d + "
        "quarantined %d + suppressed %d (%.1fs)",
        metrics["files_ingested"],
        metrics["files_skipped"],
        metrics["files_rejected"],
        metrics["rows_read"],
        metrics["rows_accepted"],
        metrics["rows_quarantined"],
        metrics["rows_suppressed"],
        metrics["seconds"],
    )
    raise_for_problems(reports, fail_on_rejected=cfg.ingest.fail_on_rejected_file)
    return metrics


def _remember(known: dict[tuple[str, str, str], str], reports: Sequence[EntityReport]) -> None:
    for report in reports:
        for f in report.files:
            if f.status in ("ingested", "rejected"):
                status = "succeeded" if f.status == "ingested" else "rejected"
                known[(report.source, report.entity, f.batch_id)] = status


def summarise(reports: Sequence[EntityReport]) -> dict[str, Any]:
    """Add up entity metrics; per-entity metrics under ``entities``, rejected files listed."""
    per = {f"{r.source}.{r.entity}": r.metrics() for r in reports}
    total: dict[str, Any] = {}
    for m in per.values():
        for key, value in m.items():
            if isinstance(value, int):
                total[key] = total.get(key, 0) + value
    reasons: dict[str, int] = {}
    for m in per.values():
        for k, v in m["quarantine_reasons"].items():
            reasons[k] = reasons.get(k, 0) + v
    total.setdefault("files_found", 0)
    for key in ("files_ingested", "files_skipped", "files_rejected", "rows_read"):
        total.setdefault(key, 0)
    total.setdefault("rows_accepted", 0)
    total.setdefault("rows_quarantined", 0)
    total.setdefault("rows_suppressed", 0)
    total["quarantine_reasons"] = reasons
    total["rejected_files"] = [
        {"file": f.path, "entity": f"{r.source}.{r.entity}", "reason": f.reason}
        for r in reports
        for f in r.with_status("rejected")
    ]
    total["entities"] = per
    return total


def raise_for_problems(reports: Sequence[EntityReport], *, fail_on_rejected: bool = True) -> None:
    """Raise for files that did not reconcile, then (optionally) for files rejected in this run.

    Raises:
        ReconciliationError: naming each file and its numbers.
        ContractError: naming each rejected file and why.
    """
    unreconciled = [(r, f) for r in reports for f in r.with_status("unreconciled")]
    rejected = [(r, f) for r in reports for f in r.with_status("rejected")]
    if unreconciled:
        lines = [f"  {f.path} ({r.source}.{r.entity}): {f.reason}" for r, f in unreconciled]
        more = f"; {len(rejected)} file(s) also rejected" if rejected else ""
        raise ReconciliationError(
            f"{len(unreconciled)} file(s) do not reconcile and were not written{more}:\n"
            + "\n".join(lines)
        )
    if rejected and fail_on_rejected:
        lines = [f"  {f.path} ({r.source}.{r.entity}): {f.reason}" for r, f in rejected]
        raise ContractError(
            f"{len(rejected)} file(s) rejected (recorded in bronze._batches; the other files "
            "were ingested):\n" + "\n".join(lines)
        )
    for r, f in rejected:
        logger.warning("%s.%s: rejected %s: %s", r.source, r.entity, f.path, f.reason)


def ingest_entity(
    spark: SparkSession,
    cfg: AppConfig,
    source: str,
    entity_name: str,
    run_id: str,
    *,
    paths: Sequence[str] | None = None,
    known_batches: dict[tuple[str, str, str], str] | None = None,
    ingested_at: datetime | None = None,
    lakehouse: Lakehouse | None = None,
    record: bool = True,
) -> EntityReport:
    """Ingest the new files of one entity (see the module docstring for the steps).

    Never raises for bad files: rejections and reconciliation failures are in the report (use
    :func:`raise_for_problems`).

    Args:
        spark: the session.
        cfg: the run configuration.
        source: source name.
        entity_name: entity name within the source.
        run_id: id of this run.
        paths: files to ingest (default: the entity's glob under ``cfg.data_root``).
        known_batches: batches already recorded (default: read from ``bronze._batches``).
        ingested_at: timestamp recorded on the rows (default: now).
        lakehouse: the lakehouse (default: from ``cfg.lakehouse``).
        record: record the batches in ``_batches`` (and in ``known_batches``) at the end;
            :func:`run_ingest` records all entities' batches in one commit instead.

    Returns:
        What happened to each file.
    """
    started = time.perf_counter()
    entity = cfg.source(source).entities[entity_name]
    validate_contract(source, entity_name, entity)
    settings = cfg.ingest
    lh = lakehouse or Lakehouse(cfg.lakehouse)
    known = known_batches if known_batches is not None else tables.load_known_batches(spark, lh)
    at = ingested_at or datetime.now(timezone.utc)
    files = list(paths) if paths is not None else find_files(cfg.data_root, entity.path)
    report = EntityReport(source, entity_name)
    if not files:
        logger.warning("%s.%s: no file matches %s", source, entity_name, entity.path)

    dialect = _dialect(spark, source, entity_name, entity) if entity.format == "csv" else None
    codec = _json_codec(source, entity_name, entity) if entity.format == "json" else "utf-8"
    first_seen: dict[str, str] = {}
    pending: list[_Pending] = []
    for path in files:
        check_utf8 = dialect is not None and dialect.encoding in SINGLE_BYTE
        dig = digest(path, check_utf8=check_utf8)
        file_report = FileReport(path, dig.sha256, dig.size)
        report.files.append(file_report)
        status = known.get((source, entity_name, dig.sha256))
        if status == "succeeded":
            file_report.status, file_report.reason = "skipped", "already ingested (same checksum)"
            continue
        if status == "rejected" and not settings.retry_rejected:
            file_report.status = "previously_rejected"
            file_report.reason = "rejected by an earlier run (same checksum); see bronze._batches"
            logger.warning("%s.%s: skipping previously rejected %s", source, entity_name, path)
            continue
        if dig.sha256 in first_seen:
            file_report.status = "skipped"
            file_report.reason = f"same content as {first_seen[dig.sha256]}"
            continue
        first_seen[dig.sha256] = path
        try:
            item = _inspect(dig, entity, dialect, codec, settings, file_report, len(pending))
        except FileProblem as exc:
            file_report.status, file_report.reason = "rejected", str(exc)
            # rows read of a rejected file: its records when counted, else its physical lines
            file_report.rows_read = (
                exc.rows
                if exc.rows is not None
                else count_physical_rows(path, entity.format == "csv" and _has_header(dialect))
            )
            logger.warning("%s.%s: rejected %s: %s", source, entity_name, path, exc)
            continue
        if item is not None:
            pending.append(item)

    ctx = _Context(spark, lh, source, entity_name, entity, settings, run_id, at, cfg)
    if pending:
        _read_classify_write(ctx, pending, dialect)
    # every declared entity has a bronze table after ingest, if only an empty one
    empty = spark.createDataFrame([], bronze_schema(entity, settings))
    tables.ensure_empty_table(lh, empty, report.table, run_id)
    if record:
        tables.record_batches(spark, lh, batch_records(report, run_id, at), known, run_id)
        _remember(known, [report])
    report.seconds = time.perf_counter() - started
    m = report.metrics()
    logger.info(
        "%s.%s: %d file(s) ingested (%d rows: %d accepted, %d quarantined), %d skipped, "
        "%d rejected (%.1fs)",
        source,
        entity_name,
        m["files_ingested"],
        m["rows_read"],
        m["rows_accepted"],
        m["rows_quarantined"],
        m["files_skipped"],
        m["files_rejected"],
        report.seconds,
    )
    return report


# --------------------------------------------------------------------------- internals
@dataclass(frozen=True)
class _Context:
    spark: SparkSession
    lakehouse: Lakehouse
    source: str
    entity_name: str
    entity: EntityConfig
    settings: IngestSettings
    run_id: str
    ingested_at: datetime
    cfg: AppConfig | None = None  # for the privacy suppression hook (None: not checked)

    @property
    def decimal_type(self) -> str:
        return f"decimal({self.settings.decimal_precision},{self.settings.decimal_scale})"


def _dialect(spark: SparkSession, source: str, name: str, entity: EntityConfig) -> CsvDialect:
    legacy = str(spark.conf.get("spark.sql.legacy.javaCharsets", "false")).lower() == "true"
    try:
        return csv_dialect(entity.options, legacy_java_charsets=legacy)
    except ValueError as exc:
        raise ConfigError(f"sources {source}: entities.{name}.options: {exc}") from exc


def _has_header(dialect: CsvDialect | None) -> bool:
    return dialect is not None and dialect.header


def _json_codec(source: str, name: str, entity: EntityConfig) -> str:
    try:
        return json_codec(entity.options)
    except ValueError as exc:
        raise ConfigError(f"sources {source}: entities.{name}.options: {exc}") from exc


def _inspect(
    dig: FileDigest,
    entity: EntityConfig,
    dialect: CsvDialect | None,
    codec: str,
    settings: IngestSettings,
    report: FileReport,
    idx: int,
) -> _Pending | None:
    """Driver-side checks of a new file; None when there is nothing for Spark to read.

    Raises:
        FileProblem: the file is rejected as a whole.
    """
    if dig.size == 0:
        if settings.reject_empty_files:
            raise FileProblem("empty file (0 bytes)")
        report.rows_read, report.reason = 0, "empty file (0 bytes)"
        return None
    verify = settings.verify_row_count
    if entity.format == "csv":
        assert dialect is not None
        if dialect.spark_charset is None:
            raise FileProblem(
                f"encoding {dialect.encoding} is not supported by Spark's CSV reader (supported: "
                "UTF-8, ISO-8859-1, US-ASCII, UTF-16, UTF-32); set spark.sql.legacy.javaCharsets"
                "=true to allow it"
            )
        check_declared_encoding(dig, dialect.encoding)
        facts = inspect_csv(dig.path, dialect, verify)
        if facts.header is not None:
            match = match_columns(facts.header, entity, sep=dialect.sep)
            if match.error:
                raise FileProblem(match.error, rows=facts.rows)
            names, extras = match.targets, match.extras
        else:
            names, extras = tuple(c.name for c in entity.columns), ()
        item = _Pending(
            idx,
            report,
            facts.rows,
            names=names,
            delivered=facts.header or names,
            extras=extras,
            header=facts.header,
            truncated=facts.truncated,
        )
    elif entity.format == "json":
        if codec != "utf-8":
            raise FileProblem(f"JSON lines must be UTF-8 (RFC 8259); declared encoding {codec}")
        item = _Pending(idx, report, count_json_lines(dig.path, codec) if verify else None)
    else:
        delivered, rows = inspect_parquet(dig.path)
        match = match_columns(delivered, entity)
        if match.error:
            raise FileProblem(match.error, rows=rows)
        item = _Pending(
            idx, report, rows, names=match.targets, delivered=delivered, extras=match.extras
        )
    if item.expected == 0:
        report.rows_read = 0
        if entity.format == "csv":
            report.reason = "no data rows (header only)"
        return None
    return item


def _read(ctx: _Context, item: _Pending, dialect: CsvDialect | None) -> DataFrame:
    spark, path = ctx.spark, item.report.path
    if ctx.entity.format == "csv":
        assert dialect is not None
        truncated = item.expected - 1 if item.truncated and item.expected else None
        return read_csv(
            spark, path, item.idx, item.names, dialect, header=item.header, truncated_row=truncated
        )
    if ctx.entity.format == "json":
        return read_jsonl(spark, path, item.idx)
    return read_parquet(spark, path, item.idx, item.delivered, item.names)


def _read_classify_write(
    ctx: _Context, pending: list[_Pending], dialect: CsvDialect | None
) -> None:
    frames = [_read(ctx, item, dialect) for item in pending]
    raw = reduce(lambda a, b: a.unionByName(b), frames)
    rows = raw.transform(classify_rows(ctx.entity, ctx.decimal_type))
    rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        t0 = time.perf_counter()
        _count_and_reconcile(ctx, rows, pending)
        logger.debug(
            "%s.%s: counted in %.1fs", ctx.source, ctx.entity_name, time.perf_counter() - t0
        )
        good = [p for p in pending if p.report.status == "ingested"]
        if good:
            # privacy hook: rows of erased persons (ops.suppression) reach neither bronze nor
            # the quarantine; counted per file as rows_suppressed (read = accepted +
            # quarantined + suppressed). See unification/privacy/suppression.py.
            from unification.privacy.suppression import drop_suppressed

            rows = drop_suppressed(
                ctx.cfg, ctx.lakehouse, ctx.source, ctx.entity_name, ctx.entity, rows, good
            )
            _write(ctx, rows, good)
    finally:
        rows.unpersist()


def _count_and_reconcile(ctx: _Context, rows: DataFrame, pending: list[_Pending]) -> None:
    """One aggregation per entity; fills each file's counts, offsets and status."""
    accepted = F.col("_reason") == F.lit("")
    aggs: list[Column] = [
        F.count(F.lit(1)).alias("n"),
        F.max("_idx").alias("max_idx"),
        F.sum(F.when(accepted, 1).otherwise(0)).alias("accepted"),
        F.sum(F.when(~accepted, 1).otherwise(0)).alias("quarantined"),
    ]
    aggs += [F.sum(F.when(F.col("_kind") == k, 1).otherwise(0)).alias(k) for k in REASON_KINDS]
    is_json = ctx.entity.format == "json"
    if is_json:
        # field names of the readable records only (a malformed line may still parse partly)
        readable = F.coalesce(F.col("_kind"), F.lit("")) != F.lit("malformed")
        names = F.when(readable, F.array_sort(F.map_keys("_raw")))
        aggs.append(F.collect_set(names).alias("keys"))
    stats = rows.groupBy("_file_idx", "_pid").agg(*aggs).collect()
    by_file: dict[int, list[Any]] = {}
    for s in stats:
        by_file.setdefault(int(s["_file_idx"]), []).append(s)
    for item in pending:
        parts = sorted(by_file.get(item.idx, []), key=lambda s: int(s["_pid"]))
        n = acc = quar = 0
        kinds = dict.fromkeys(REASON_KINDS, 0)
        numbered = True
        keys: set[str] = set()
        for s in parts:
            item.offsets[int(s["_pid"])] = n
            n += int(s["n"])
            acc += int(s["accepted"])
            quar += int(s["quarantined"])
            numbered &= int(s["max_idx"]) + 1 == int(s["n"])
            for k in REASON_KINDS:
                kinds[k] += int(s[k])
            if is_json:
                keys.update(k for ks in s["keys"] for k in ks)
        rep = item.report
        expected = item.expected if item.expected is not None else n
        rep.rows_read, rep.rows_accepted, rep.rows_quarantined = expected, acc, quar
        rep.quarantine_kinds = {k: v for k, v in kinds.items() if v}
        if is_json and n:
            ordered = [c.name for c in ctx.entity.columns if c.name in keys]
            ordered += sorted(keys - set(ordered))
            item.json_keys = tuple(ordered)
            match = match_columns(ordered, ctx.entity, case_sensitive=True)
            if match.error:
                bad = kinds["malformed"]
                note = f"; {bad} of {n} records are malformed JSON" if bad else ""
                rep.status, rep.reason = "rejected", f"{match.error}{note}"
                rep.rows_accepted = rep.rows_quarantined = 0
                continue
        if expected != n:
            rep.status = "unreconciled"
            rep.reason = (
                f"rows read {expected} (counted in the file) != rows parsed by Spark {n} "
                f"(accepted {acc} + quarantined {quar})"
            )
        elif acc + quar != expected:
            rep.status = "unreconciled"
            rep.reason = f"rows read {expected} != rows accepted {acc} + rows quarantined {quar}"
        elif not numbered:
            rep.status = "unreconciled"
            rep.reason = "row numbering is not contiguous (file split unexpectedly)"
        if rep.status == "unreconciled":
            logger.error("%s: %s", rep.path, rep.reason)


def _lookup(mapping: dict[int, Any], key: Column, value_type: str) -> Column:
    """Look ``key`` up in a literal map built from ``mapping`` (long keys)."""
    pairs: list[Column] = []
    for k, v in mapping.items():
        pairs.extend([F.lit(k).cast("long"), F.lit(v)])
    return F.try_element_at(F.create_map(*pairs), key.cast("long")).cast(value_type)


def _row_number(good: list[_Pending], pid_col: str, pos_col: str) -> Column:
    """1-based row number in the file from (partition, index in partition) columns."""
    offsets = {(p.idx << 32) + pid: off for p in good for pid, off in p.offsets.items()}
    key = F.shiftleft(F.col("_file_idx").cast("long"), 32) + F.col(pid_col)
    return _lookup(offsets, key, "long") + F.col(pos_col) + F.lit(1)


def _extras(ctx: _Context, good: list[_Pending]) -> list[tuple[str, str]]:
    """(map key, bronze column) of the extra delivered columns of the files being written."""
    if ctx.entity.format == "json":
        keys: list[str] = []
        for p in good:
            keys += [k for k in p.json_keys if k not in keys]
        match = match_columns(keys, ctx.entity, case_sensitive=True)
        return [(k, t) for k, t in zip(keys, match.targets, strict=True) if t in match.extras]
    out: list[tuple[str, str]] = []
    for p in good:
        out += [(e, e) for e in p.extras if (e, e) not in out]
    return out


def _write(ctx: _Context, rows: DataFrame, good: list[_Pending]) -> None:
    lh = ctx.lakehouse
    ids = [p.idx for p in good]
    batch_ids = [p.report.batch_id for p in good]
    batch = _lookup({p.idx: p.report.batch_id for p in good}, F.col("_file_idx"), "string")
    path = _lookup({p.idx: p.report.path for p in good}, F.col("_file_idx"), "string")
    in_good = F.col("_file_idx").isin(ids)
    accepted = F.col("_reason") == F.lit("")
    table = tables.bronze_table(ctx.source, ctx.entity_name)
    n_accepted = sum(p.report.rows_accepted for p in good)
    n_quarantined = sum(p.report.rows_quarantined for p in good)

    if n_accepted:
        sorted_raw = F.array_sort(F.map_entries("_raw"))  # no map rebuild: never raises
        bronze = rows.filter(in_good & accepted).select(
            *[F.col(c.name) for c in ctx.entity.columns],
            *[F.try_element_at("_raw", F.lit(k)).alias(name) for k, name in _extras(ctx, good)],
            F.lit(ctx.source).alias("_source"),
            F.lit(ctx.entity_name).alias("_entity"),
            batch.alias("_batch_id"),
            path.alias("_source_file"),
            _row_number(good, "_pid", "_idx").alias("_row_number"),
            F.lit(ctx.ingested_at).cast("timestamp").alias("_ingested_at"),
            F.sha2(F.to_json(sorted_raw), 256).alias("_row_hash"),
            F.lit(ctx.run_id).alias("_run_id"),
        )
        t0 = time.perf_counter()
        tables.append_new_batches(
            lh,
            bronze,
            table,
            batch_column="_batch_id",
            batch_ids=batch_ids,
            run_id=ctx.run_id,
            evolve_schema=True,
        )
        logger.debug("%s: bronze written in %.1fs", table, time.perf_counter() - t0)

    if n_quarantined:
        row_number = _row_number(good, "_pid", "_idx")
        first_row = _row_number(good, "_dup_pid", "_dup_idx")
        reason = F.when(
            F.col("_kind") == F.lit("duplicate_key"),
            F.concat(
                F.col("_reason"), F.lit(" (first at row "), first_row.cast("string"), F.lit(")")
            ),
        ).otherwise(F.col("_reason"))
        quarantine = rows.filter(in_good & ~accepted).select(
            F.lit(ctx.source).alias("source"),
            F.lit(ctx.entity_name).alias("entity"),
            batch.alias("batch_id"),
            path.alias("source_file"),
            row_number.alias("row_number"),
            F.coalesce(F.col("_raw_text"), F.to_json("_raw")).alias("raw"),
            reason.alias("reason"),
            F.col("_kind").alias("reason_kind"),
            F.lit(ctx.run_id).alias("run_id"),
            F.lit(ctx.ingested_at).cast("timestamp").alias("quarantined_at"),
        )
        tables.append_new_batches(
            lh,
            quarantine,
            tables.QUARANTINE_TABLE,
            batch_column="batch_id",
            batch_ids=batch_ids,
            run_id=ctx.run_id,
            scope={"source": ctx.source, "entity": ctx.entity_name},
        )


def batch_records(
    report: EntityReport, run_id: str, ingested_at: datetime
) -> list[tuple[object, ...]]:
    """``_batches`` records of the files of ``report`` that were ingested or rejected."""
    return [
        tables.batch_record(
            report.source,
            report.entity,
            f.batch_id,
            f.path,
            f.bytes,
            f.rows_read,
            f.rows_accepted,
            f.rows_quarantined,
            f.status == "ingested",
            f.reason,
            run_id,
            ingested_at,
        )
        for f in report.files
        if f.status in ("ingested", "rejected")
    ]
