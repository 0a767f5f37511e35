"""Run ids and the run log (``ops.run_log``).

Grain: one row per (``run_id``, ``stage``) attempt; key (``run_id``, ``stage``, ``started_at``).
Each row keeps the stage status (``running`` is never written: a row is appended when the
stage ends, ``succeeded`` or ``failed``), timings, and a JSON of counts and quality metrics.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from unification.lakehouse import Lakehouse

logger = logging.getLogger(__name__)

RUN_LOG_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("stage", T.StringType(), False),
        T.StructField("status", T.StringType(), False),
        T.StructField("started_at", T.TimestampType(), False),
        T.StructField("ended_at", T.TimestampType(), False),
        T.StructField("seconds", T.DoubleType(), False),
        T.StructField("metrics_json", T.StringType(), True),
        T.StructField("error", T.StringType(), True),
    ]
)


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


def append_run_log(
    spark: SparkSession,
    lakehouse: Lakehouse,
    rows: list[tuple[str, str, str, datetime, datetime, float, str | None, str | None]],
) -> None:
    """Append raw rows to ``ops.run_log``."""
    df = spark.createDataFrame(rows, RUN_LOG_SCHEMA)
    lakehouse.write(df, "ops", "run_log", mode="append")


@contextmanager
def stage_run(
    spark: SparkSession, lakehouse: Lakehouse, run_id: str, stage: str
) -> Iterator[StageRecord]:
    """Time a stage and log it to ``ops.run_log`` as succeeded or failed.

    Examples:
        ```py
        with stage_run(spark, lh, run_id, "ingest") as rec:
            rec.metrics.update(run_ingest(spark, cfg, run_id))
        ```
    """
    rec = StageRecord(run_id=run_id, stage=stage)
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    t0 = time.perf_counter()
    status, error = "succeeded", None
    try:
        yield rec
    except BaseException as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        raise
    finally:
        ended = datetime.now(timezone.utc).replace(tzinfo=None)
        seconds = time.perf_counter() - t0
        rec.metrics.setdefault("seconds", round(seconds, 2))
        try:
            append_run_log(
                spark,
                lakehouse,
                [
                    (
                        run_id,
                        stage,
                        status,
                        started,
                        ended,
                        seconds,
                        json.dumps(rec.metrics, default=_json_default, sort_keys=True),
                        error,
                    )
                ],
            )
        except Exception:  # pragma: no cover - never hide the stage's own error
            logger.exception("could not write the run log for %s/%s", run_id, stage)
