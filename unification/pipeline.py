"""The pipeline: stages in order, each logged to ``ops.run_log`` under one ``run_id``.

A full run is every stage of :data:`STAGES` in order; any stage can run alone on what the
previous ones wrote (``unify <stage>``). Runs on one local lakehouse are serialised by a lock
file: a second run refuses with a clear message (or waits with ``wait=True``).

Examples:
    ```py
    spark = build_session(cfg)
    results = run_pipeline(spark, cfg)            # every stage
    run_stage(spark, cfg, "match", run_id)        # one stage
    ```
"""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from unification.config import AppConfig
from unification.errors import ConcurrentRunError
from unification.lakehouse import Lakehouse, lakehouse_lock_path
from unification.runlog import new_run_id, stage_run

logger = logging.getLogger(__name__)

StageFn = Callable[[SparkSession, AppConfig, str], dict[str, Any]]


@dataclass(frozen=True)
class Stage:
    """A pipeline stage: a name, the ``module:function`` implementing it, and a summary."""

    name: str
    target: str
    summary: str

    def function(self) -> StageFn:
        """Import and return the stage function (imports are lazy: no Spark at import)."""
        module_name, func_name = self.target.split(":")
        module = importlib.import_module(module_name)
        fn: StageFn = getattr(module, func_name)
        return fn


STAGES: tuple[Stage, ...] = (
    Stage("ingest", "unification.ingest:run_ingest", "source extracts -> bronze"),
    Stage("standardise", "unification.standardise:run_standardise", "bronze -> person records"),
    Stage("match", "unification.matching:run_match", "Splink pairs and clusters"),
    Stage("identify", "unification.identity:run_identify", "stable customer ids"),
    Stage("survive", "unification.survivorship:run_survive", "golden profiles and consent"),
    Stage("interactions", "unification.interactions:run_interactions", "orders and timeline"),
    Stage("features", "unification.pipeline:_run_features_as_of_config", "RFM, CLV, lifecycle"),
    Stage("report", "unification.publish.report:run_report", "HTML run report"),
)
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)


def _run_features_as_of_config(spark: SparkSession, cfg: AppConfig, run_id: str) -> dict[str, Any]:
    from unification.features import run_features

    as_of = date.fromisoformat(cfg.run.as_of) if cfg.run.as_of else None
    return run_features(spark, cfg, run_id, as_of=as_of)


def get_stage(name: str) -> Stage:
    """The stage called ``name``; ``ValueError`` listing valid names otherwise."""
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise ValueError(f"unknown stage {name!r}; stages are {list(STAGE_NAMES)}")


@dataclass
class StageResult:
    """What one stage reported."""

    stage: str
    seconds: float
    metrics: dict[str, Any] = field(default_factory=dict)


@contextmanager
def run_lock(cfg: AppConfig, *, wait: bool = False) -> Iterator[None]:
    """Hold the lakehouse run lock (local lakehouses only; a catalog relies on Delta's OCC).

    Raises:
        ConcurrentRunError: another run holds the lock and ``wait`` is False.
    """
    if cfg.lakehouse.catalog is not None:
        yield
        return
    path = Path(lakehouse_lock_path(cfg.lakehouse))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        flags = fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(handle.fileno(), flags)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ConcurrentRunError(
                f"another pipeline run holds {path} ({holder}); wait for it to finish "
                "or pass --wait to queue behind it"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid={os.getpid()} since={time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def run_stage(spark: SparkSession, cfg: AppConfig, name: str, run_id: str) -> StageResult:
    """Run one stage and log it to ``ops.run_log`` (succeeded or failed)."""
    stage = get_stage(name)
    fn = stage.function()
    lakehouse = Lakehouse(cfg.lakehouse)
    t0 = time.perf_counter()
    with stage_run(spark, lakehouse, run_id, name) as record:
        metrics = fn(spark, cfg, run_id) or {}
        record.metrics.update(metrics)
    return StageResult(name, time.perf_counter() - t0, dict(record.metrics))


def run_pipeline(
    spark: SparkSession,
    cfg: AppConfig,
    *,
    stages: Sequence[str] | None = None,
    run_id: str | None = None,
    wait: bool = False,
    on_stage_start: Callable[[str], None] | None = None,
    on_stage_end: Callable[[StageResult], None] | None = None,
) -> list[StageResult]:
    """Run ``stages`` (default: all) in pipeline order under one run id and the run lock.

    Stops at the first failing stage (which is logged as failed) and re-raises its error;
    each stage writes its tables in Delta transactions, so tables stay consistent and the next
    run recovers.
    """
    names = list(stages) if stages else list(STAGE_NAMES)
    for name in names:
        get_stage(name)
    ordered = [n for n in STAGE_NAMES if n in names]
    run_id = run_id or new_run_id()
    results: list[StageResult] = []
    with run_lock(cfg, wait=wait):
        logger.info("run %s: stages %s", run_id, ordered)
        for name in ordered:
            if on_stage_start:
                on_stage_start(name)
            result = run_stage(spark, cfg, name, run_id)
            results.append(result)
            if on_stage_end:
                on_stage_end(result)
    return results
