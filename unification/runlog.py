"""Run ids and the run log (``ops.run_log``).

Grain: one row per (``run_id``, ``stage``) attempt; key (``run_id``, ``stage``, ``started_at``).
Each row keeps the stage status, timings, and a JSON of counts and quality metrics.

A stage attempt is written twice, so that a run that dies leaves a trace:

1. when the stage starts, a row with status ``running`` is appended (``ended_at`` =
   ``started_at`` and ``seconds`` = 0 until it ends; ``metrics_json`` holds the host, process
   id and process start time of the driver, and a unique attempt id);
2. when the stage ends, that row is updated in place (one Delta ``UPDATE``) to ``succeeded`` or
   ``failed`` with its timings, metrics and error.

A driver killed in between (SIGKILL, lost node, out of memory) leaves its row ``running``. The
first stage of every later run calls :func:`mark_interrupted`, which turns such orphans into
``failed`` rows with the error ``interrupted: ...``: a ``running`` row of another run is an
orphan when its driver process is gone (same host: the process id is not alive, or is now
another process), or when it started more than :data:`STALE_AFTER` ago on another host.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification.lakehouse import Lakehouse, Layer

logger = logging.getLogger(__name__)

LAYER: Layer = "ops"
TABLE = "run_log"
RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"
#: A ``running`` row of a driver on another host is taken as interrupted after this long.
STALE_AFTER = timedelta(hours=24)
INTERRUPTED = "interrupted: the run stopped without finishing this stage"

RUN_LOG_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("stage", T.StringType(), False),
        T.StructField("status", T.StringType(), False),  # running | succeeded | failed
        T.StructField("started_at", T.TimestampType(), False),
        T.StructField("ended_at", T.TimestampType(), False),  # = started_at while running
        T.StructField("seconds", T.DoubleType(), False),
        T.StructField("metrics_json", T.StringType(), True),
        T.StructField("error", T.StringType(), True),
    ]
)

RunLogRow = tuple[str, str, str, datetime, datetime, float, str | None, str | None]

#: Run ids whose stages already looked for interrupted runs (once per run and lakehouse).
_checked: set[tuple[str, str]] = set()


def new_run_id() -> str:
    """A sortable, unique run id: ``YYYYmmddTHHMMSSZ-<8 hex>``."""
    now = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{uuid.uuid4().hex[:8]}"


@dataclass
class StageRecord:
    """What a stage reports: fill ``metrics`` inside the ``with`` block."""

    run_id: str
    stage: str
    metrics: dict[str, Any] = field(default_factory=dict)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _process_start(pid: int) -> str | None:
    """Start time of a process in clock ticks since boot (Linux ``/proc``), None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces: split after it
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def driver_identity() -> dict[str, Any]:
    """Host, process id and process start time of this driver (kept on ``running`` rows)."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "pid_start": _process_start(pid)}


def _process_alive(pid: int, pid_start: str | None) -> bool:
    """Whether process ``pid`` runs on this host and is the same process (not a reused id)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if pid_start is None:
        return True
    now_start = _process_start(pid)
    return now_start is None or now_start == pid_start


def append_run_log(spark: SparkSession, lakehouse: Lakehouse, rows: list[RunLogRow]) -> None:
    """Append raw rows to ``ops.run_log``."""
    df = spark.createDataFrame(rows, RUN_LOG_SCHEMA)
    lakehouse.write(df, LAYER, TABLE, mode="append")


def _finish(
    spark: SparkSession,
    lakehouse: Lakehouse,
    key: tuple[str, str, str | None],
    values: dict[str, Any],
) -> None:
    """Update the ``running`` row of attempt ``key`` = (run_id, stage, its ``metrics_json``,
    which holds a unique attempt id) with ``values`` (one Delta commit)."""
    run_id, stage, marker = key
    cond = (
        (F.col("run_id") == F.lit(run_id))
        & (F.col("stage") == F.lit(stage))
        & (F.col("status") == F.lit(RUNNING))
        & F.col("metrics_json").eqNullSafe(F.lit(marker))
    )
    types = {f.name: f.dataType for f in RUN_LOG_SCHEMA.fields}
    assignments: dict[str, str | Column] = {k: F.lit(v).cast(types[k]) for k, v in values.items()}
    spark.conf.set("spark.databricks.delta.commitInfo.userMetadata", run_id)
    try:
        lakehouse.delta_table(spark, LAYER, TABLE).update(condition=cond, set=assignments)
    finally:
        spark.conf.unset("spark.databricks.delta.commitInfo.userMetadata")


def interrupted_rows(
    spark: SparkSession, lakehouse: Lakehouse
) -> list[tuple[tuple[str, str, str | None], str]]:
    """``running`` rows whose driver is gone: ((run_id, stage, metrics_json), why).

    A row is an orphan when its driver ran on this host and that process is no longer alive
    (or its id now belongs to another process), or when it started more than
    :data:`STALE_AFTER` ago on another host (or gave no host). Rows of the current run are
    looked at too: a retried job may reuse the run id of the attempt that was killed.
    """
    log = lakehouse.read_or_none(spark, LAYER, TABLE)
    if log is None:
        return []
    rows = (
        log.filter(F.col("status") == RUNNING)
        .select("run_id", "stage", "started_at", "metrics_json")
        .collect()
    )
    host = socket.gethostname()
    now = _utcnow()
    out: list[tuple[tuple[str, str, str | None], str]] = []
    for r in rows:
        try:
            who = json.loads(r["metrics_json"] or "{}")
        except json.JSONDecodeError:
            who = {}
        pid = who.get("pid")
        if who.get("host") == host and isinstance(pid, int):
            if _process_alive(pid, who.get("pid_start")):
                continue
            why = f"{INTERRUPTED} (driver process {pid} on {host} is gone: killed or crashed)"
        elif r["started_at"] is not None and now - r["started_at"] > STALE_AFTER:
            why = (
                f"{INTERRUPTED} (no end recorded {STALE_AFTER} after it started; "
                f"driver on {who.get('host', 'an unknown host')})"
            )
        else:
            logger.warning(
                "run %s: stage %s is recorded as running on %s; left as is",
                r["run_id"],
                r["stage"],
                who.get("host", "an unknown host"),
            )
            continue
        out.append(((r["run_id"], r["stage"], r["metrics_json"]), why))
    return out


def mark_interrupted(spark: SparkSession, lakehouse: Lakehouse) -> list[tuple[str, str]]:
    """Record stages of runs that died without finishing (see :func:`interrupted_rows`) as
    ``failed``, with the reason in ``error``.

    Returns:
        The (run_id, stage) pairs marked.
    """
    marked: list[tuple[str, str]] = []
    for key, why in interrupted_rows(spark, lakehouse):
        run_id, stage, _ = key
        logger.warning("run %s: stage %s was interrupted; recorded as failed", run_id, stage)
        _finish(spark, lakehouse, key, {"status": FAILED, "error": why})
        marked.append((run_id, stage))
    return marked


def _lakehouse_id(lakehouse: Lakehouse) -> str:
    cfg = lakehouse.cfg
    if lakehouse.is_local:
        return os.path.abspath(cfg.root)
    return f"{cfg.catalog}.{cfg.schema_suffix}"


@contextmanager
def stage_run(
    spark: SparkSession, lakehouse: Lakehouse, run_id: str, stage: str
) -> Iterator[StageRecord]:
    """Time a stage and log it to ``ops.run_log``: ``running`` at the start, then
    ``succeeded`` or ``failed``.

    The first stage of each run also records earlier runs that died mid-stage as failed
    (:func:`mark_interrupted`). Run-log writes never hide the stage's own outcome: when one
    fails, it is logged and the stage goes on.

    Examples:
        ```py
        with stage_run(spark, lh, run_id, "ingest") as rec:
            rec.metrics.update(run_ingest(spark, cfg, run_id))
        ```
    """
    rec = StageRecord(run_id=run_id, stage=stage)
    key = (_lakehouse_id(lakehouse), run_id)
    if key not in _checked:
        _checked.add(key)
        try:
            mark_interrupted(spark, lakehouse)
        except Exception:  # pragma: no cover - bookkeeping must not stop the run
            logger.exception("could not look for interrupted runs in ops.run_log")
    started = _utcnow()
    t0 = time.perf_counter()
    running_logged = False
    who = json.dumps({**driver_identity(), "attempt": uuid.uuid4().hex}, sort_keys=True)
    try:
        append_run_log(
            spark, lakehouse, [(run_id, stage, RUNNING, started, started, 0.0, who, None)]
        )
        running_logged = True
    except Exception:  # pragma: no cover - never stop the stage for its log
        logger.exception("could not write the run log for %s/%s", run_id, stage)
    status, error = SUCCEEDED, None
    try:
        yield rec
    except BaseException as exc:
        status, error = FAILED, f"{type(exc).__name__}: {exc}"[:2000]
        raise
    finally:
        ended = _utcnow()
        seconds = time.perf_counter() - t0
        rec.metrics.setdefault("seconds", round(seconds, 2))
        metrics = json.dumps(rec.metrics, default=_json_default, sort_keys=True)
        try:
            if running_logged:
                _finish(
                    spark,
                    lakehouse,
                    (run_id, stage, who),
                    {
                        "status": status,
                        "ended_at": ended,
                        "seconds": seconds,
                        "metrics_json": metrics,
                        "error": error,
                    },
                )
            else:
                append_run_log(
                    spark,
                    lakehouse,
                    [(run_id, stage, status, started, ended, seconds, metrics, error)],
                )
        except Exception:  # pragma: no cover - never hide the stage's own error
            logger.exception("could not write the run log for %s/%s", run_id, stage)
