"""Purge old table versions (Delta ``VACUUM``) and expired delivery files: ``unify vacuum``.

A Delta DELETE or MERGE writes new files without the erased rows, but the old files stay on
disk for time travel, and ``gold.golden_profiles``' change feed keeps before-images under
``_change_data/``. ``VACUUM ... RETAIN n HOURS`` deletes every data and change-feed file that
no version younger than ``n`` hours references. Run it after an erasure once the retention has
elapsed, or with ``--retain-hours 0 --force`` to purge at once (time travel and any reader
still on an old version then break). ``--set-retention`` first sets
``delta.deletedFileRetentionDuration`` and ``delta.logRetentionDuration`` on every table from
``privacy.retention``. Expired export and sync-back files (``privacy.retention.
export_retention_days``) are deleted too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import SparkSession

from unification.privacy.errors import PrivacyError

if TYPE_CHECKING:
    from unification.config import AppConfig
    from unification.lakehouse import Lakehouse, Layer

logger = logging.getLogger(__name__)

LAYERS: tuple[str, ...] = ("bronze", "silver", "gold", "ops")
SAFE_RETENTION_HOURS = 168.0  # Delta's default retention check


def list_tables(spark: SparkSession, lh: Lakehouse) -> list[tuple[Layer, str]]:
    """Every Delta table of the lakehouse, as (layer, table)."""
    out: list[tuple[Layer, str]] = []
    for layer in LAYERS:
        if lh.is_local:
            folder = Path(lh.cfg.root) / layer
            if not folder.is_dir():
                continue
            for child in sorted(folder.iterdir()):
                if child.is_dir() and (child / "_delta_log").is_dir():
                    out.append((layer, child.name))  # type: ignore[arg-type]
        else:
            schema = f"{lh.cfg.catalog}.{layer}{lh.cfg.schema_suffix}"
            try:
                tables = spark.catalog.listTables(schema)
            except Exception:  # the schema does not exist yet
                continue
            out += [(layer, t.name) for t in tables if not t.isTemporary]  # type: ignore[misc]
    return out


def _data_files(path: Path) -> int:
    return sum(
        1
        for p in path.rglob("*")
        if p.is_file() and "_delta_log" not in p.parts and p.suffix == ".parquet"
    )


def purge_exports(folder: Path, days: int, now: float | None = None) -> int:
    """Delete files under ``folder`` last modified more than ``days`` days ago."""
    if days <= 0 or not folder.is_dir():
        return 0
    limit = (now or time.time()) - days * 86400
    removed = 0
    for p in folder.rglob("*"):
        if p.is_file() and p.stat().st_mtime < limit:
            p.unlink()
            removed += 1
    return removed


def run_vacuum(
    spark: SparkSession,
    cfg: AppConfig,
    run_id: str,
    *,
    retain_hours: float | None = None,
    force: bool = False,
    set_retention: bool = False,
    exports: bool = True,
    layers: Sequence[str] | None = None,
) -> dict[str, Any]:
    """VACUUM every table of the lakehouse (and purge expired export files).

    Args:
        spark: the session.
        cfg: the run configuration (``privacy.retention``).
        run_id: recorded on the property changes.
        retain_hours: overrides ``privacy.retention.vacuum_retain_hours``.
        force: allow a retention below 168 hours (Delta's safety check is turned off for the
            duration of the command).
        set_retention: set ``delta.deletedFileRetentionDuration`` / ``delta.logRetentionDuration``
            on every table first.
        exports: also delete expired export and sync-back files.
        layers: only the tables of these layers (default: all four).

    Returns:
        ``tables``, ``retain_hours``, ``files_removed`` (local lakehouse), ``export_files_removed``.

    Raises:
        PrivacyError: a retention below 168 hours without ``force``.
    """
    from unification.lakehouse import Lakehouse
    from unification.privacy.export import exports_dir
    from unification.privacy.syncback import syncback_dir

    settings = cfg.privacy.retention
    hours = settings.vacuum_retain_hours if retain_hours is None else retain_hours
    if hours < SAFE_RETENTION_HOURS and not force:
        raise PrivacyError(
            f"a retention of {hours:g} hours is below Delta's safety default of 168 hours: "
            "readers of old versions break; pass --force to purge anyway"
        )
    lh = Lakehouse(cfg.lakehouse)
    tables = [t for t in list_tables(spark, lh) if layers is None or t[0] in layers]
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    previous = spark.conf.get(check, "true")
    if hours < SAFE_RETENTION_HOURS:
        spark.conf.set(check, "false")

    def one(item: tuple[Layer, str]) -> int:
        layer, table = item
        if set_retention:
            lh.set_properties(
                spark,
                layer,
                table,
                {
                    "delta.deletedFileRetentionDuration": settings.deleted_file_retention,
                    "delta.logRetentionDuration": settings.log_retention,
                },
            )
        before = _data_files(Path(lh.path(layer, table))) if lh.is_local else 0
        lh.delta_table(spark, layer, table).vacuum(hours)
        return before - _data_files(Path(lh.path(layer, table))) if lh.is_local else 0

    try:
        # tables are independent: a few at a time (most of the time is file listing)
        with ThreadPoolExecutor(max_workers=4) as pool:
            removed = sum(pool.map(one, tables))
    finally:
        spark.conf.set(check, previous or "true")
    export_removed = 0
    if exports:
        days = settings.export_retention_days
        export_removed = purge_exports(exports_dir(cfg), days)
        sb = syncback_dir(cfg)
        if not sb.is_relative_to(exports_dir(cfg)):
            export_removed += purge_exports(sb, days)
    metrics = {
        "tables": len(tables),
        "retain_hours": hours,
        "files_removed": removed,
        "export_files_removed": export_removed,
        "retention_set": set_retention,
    }
    logger.info("vacuum %s: %s", run_id, metrics)
    return metrics
