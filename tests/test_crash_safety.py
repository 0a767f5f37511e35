"""Crash safety: a pipeline killed with SIGKILL, then run again, ends exactly like a clean run.

On a tiny generated data set (30 persons), the real CLI (``python -m unification.cli run``) is
started in its own process group and killed with SIGKILL (driver, JVM and Python workers at
once, as when a node is lost) from outside, at three points, each run picking up what the
previous one left:

1. inside ingestion: as soon as the first bronze table is committed, before ``_batches``;
2. inside matching: once the run log shows the ``match`` stage running;
3. during the gold writes: once ``identify`` has committed ``gold.customer_id_history`` and
   before it has written ``gold.identity_graph``.

A fourth run (in this process) then completes. Every table, bronze to gold (customer ids and
golden profiles included), must equal that of one uninterrupted run on a second lakehouse, run
ids and run timestamps aside; and the run log must show the three killed runs' stages as
failed (interrupted). Nothing is cleaned up in between: recovery rests on Delta's atomic
commits and on idempotent writes (batch-keyed appends, minimal-change MERGEs, deterministic ids).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from unification.config import load_config
from unification.pipeline import run_pipeline

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

N_PERSONS = 30
STAGES = ["ingest", "standardise", "match", "identify", "survive", "interactions", "features"]
#: Columns that record when or by which run a row was written, not what it says.
VOLATILE = {"_run_id", "run_id", "_ingested_at", "ingested_at", "quarantined_at", "at"}


def _conf(root: Path, data: Path, name: str) -> Path:
    """A run config on the test's own copy of ``conf/`` (a model retrained meanwhile in the
    working tree must not make the runs differ)."""
    if not (root / "conf").exists():
        shutil.copytree(REPO / "conf", root / "conf")
    conf = root / f"{name}.yml"
    conf.write_text(
        f"extends: {root / 'conf' / 'demo.yml'}\n"
        f"sources_dir: {root / 'conf' / 'sources'}\n"
        f"models_dir: {root / 'conf' / 'models'}\n"
        f"data_root: {data}\n"
        f"lakehouse:\n  root: {root / name}\n"
        f"run:\n  report_dir: {root / 'reports'}\n"
        "spark:\n  driver_memory: 1g\n  shuffle_partitions: 2\n"
        "matching:\n  engine: spark\n",  # long enough a match stage to be killed inside
        encoding="utf-8",
    )
    return conf


def _start(conf: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "unification.cli", "run", "--conf", str(conf)]
            + ["--stages", ",".join(STAGES)],
            cwd=conf.parent,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the JVM is killed with it
        )


def _kill_when(
    proc: subprocess.Popen[bytes], log: Path, ready: Callable[[], bool], timeout: float = 900
) -> None:
    """SIGKILL the process group of ``proc`` as soon as ``ready()``; reap it."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before its kill point:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the kill point was never reached")
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)  # reaped: its process id no longer runs
    assert proc.returncode == -signal.SIGKILL


def _version(table: Path) -> int:
    log = table / "_delta_log"
    versions = [int(p.stem) for p in log.glob("*.json")] if log.is_dir() else []
    return max(versions, default=-1)


def _running(lake: Path, stage: str) -> bool:
    import deltalake

    path = lake / "ops" / "run_log"
    if _version(path) < 0:
        return False
    rows = deltalake.DeltaTable(str(path)).to_pyarrow_table(columns=["stage", "status"])
    return any(r == {"stage": stage, "status": "running"} for r in rows.to_pylist())


def _norm(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    if isinstance(value, Decimal):
        return round(float(value), 6)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    return value


def _contents(lake: Path) -> dict[str, list[str]]:
    """Every table of a lakehouse (but the run log) as sorted rows, volatile columns aside."""
    import deltalake

    out: dict[str, list[str]] = {}
    for layer in ("bronze", "silver", "gold"):
        for table in sorted(p for p in (lake / layer).iterdir() if (p / "_delta_log").is_dir()):
            rows = deltalake.DeltaTable(str(table)).to_pyarrow_table().to_pylist()
            out[f"{layer}.{table.name}"] = sorted(
                json.dumps({k: _norm(v) for k, v in r.items() if k not in VOLATILE}, default=str)
                for r in rows
            )
    return out


def test_killed_runs_then_a_rerun_equal_a_clean_run(
    _spark_session: SparkSession, tmp_path: Path
) -> None:
    from unification.synthetic import generate

    spark = _spark_session
    data = tmp_path / "data"
    generate(data, n_persons=N_PERSONS, seed=21)
    crashed, clean = _conf(tmp_path, data, "crashed"), _conf(tmp_path, data, "clean")
    lake = tmp_path / "crashed"

    # 1. killed inside ingestion: a bronze table is committed, _batches is not
    log1 = tmp_path / "run1.log"
    _kill_when(
        _start(crashed, log1),
        log1,
        lambda: any(_version(t) >= 0 for t in (lake / "bronze").glob("*")),
    )
    assert _version(lake / "bronze" / "_batches") < 0, "ingestion had already finished"

    # 2. killed inside matching
    log2 = tmp_path / "run2.log"
    _kill_when(_start(crashed, log2), log2, lambda: _running(lake, "match"))
    assert _version(lake / "silver" / "record_clusters") < 0, "matching had already finished"

    # 3. killed between two gold writes of identify: id history written, identity graph not
    log3 = tmp_path / "run3.log"
    history, graph = lake / "gold" / "customer_id_history", lake / "gold" / "identity_graph"
    _kill_when(_start(crashed, log3), log3, lambda: _version(history) >= 1)
    assert _version(graph) == 0, "the identity graph was written before the kill"

    # 4. the rerun completes; then one clean run on another lakehouse
    run_pipeline(spark, load_config(crashed), stages=STAGES)
    run_pipeline(spark, load_config(clean), stages=STAGES)

    import deltalake

    run_log = deltalake.DeltaTable(str(lake / "ops" / "run_log")).to_pyarrow_table().to_pylist()
    failed = sorted(
        (r["started_at"], r["stage"], r["error"]) for r in run_log if r["status"] == "failed"
    )
    assert [stage for _, stage, _ in failed] == ["ingest", "match", "identify"]
    assert all(error.startswith("interrupted:") for _, _, error in failed)
    assert not [r for r in run_log if r["status"] == "running"]
    by_run: dict[str, list[str]] = {}
    for r in sorted(run_log, key=lambda r: r["started_at"]):
        by_run.setdefault(r["run_id"], []).append(f"{r['stage']}:{r['status']}")
    assert list(by_run.values()) == [
        ["ingest:failed"],
        ["ingest:succeeded", "standardise:succeeded", "match:failed"],
        [*[f"{s}:succeeded" for s in STAGES[:3]], "identify:failed"],
        [f"{s}:succeeded" for s in STAGES],
    ]

    got, want = _contents(lake), _contents(tmp_path / "clean")
    assert sorted(got) == sorted(want)
    assert {"gold.identity_graph", "gold.golden_profiles", "gold.customer_features"} <= set(want)
    different = [t for t in want if got[t] != want[t]]
    assert not different, {t: (len(got[t]), len(want[t])) for t in different}
