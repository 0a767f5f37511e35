"""The run log records a stage as ``running`` when it starts, and a later run records the
stages of runs that died (SIGKILL, lost driver) as failed."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any

import pytest
from pyspark.sql import SparkSession

from unification.lakehouse import Lakehouse
from unification.runlog import append_run_log, driver_identity, stage_run


def _log(lakehouse: Lakehouse) -> dict[tuple[str, str], list[dict[str, Any]]]:
    import deltalake

    rows = deltalake.DeltaTable(lakehouse.path("ops", "run_log")).to_pyarrow_table().to_pylist()
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((r["run_id"], r["stage"]), []).append(r)
    return out


def test_running_row_then_final_status_and_orphans_marked_failed(
    spark: SparkSession, lakehouse: Lakehouse
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its process id is free
    host = socket.gethostname()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    old = datetime(2020, 1, 1)

    def who(**kw: Any) -> str:
        return json.dumps(kw)

    append_run_log(
        spark,
        lakehouse,
        [
            ("r-dead", "match", "running", now, now, 0.0, who(host=host, pid=dead.pid), None),
            # a retried job may reuse the run id of the attempt that was killed
            ("r-new", "ingest", "running", old, old, 0.0, who(host=host, pid=dead.pid), None),
            ("r-alive", "train", "running", now, now, 0.0, json.dumps(driver_identity()), None),
            ("r-far-old", "survive", "running", old, old, 0.0, who(host="elsewhere", pid=1), None),
            ("r-far-new", "survive", "running", now, now, 0.0, who(host="elsewhere", pid=1), None),
            ("r-done", "ingest", "succeeded", old, old, 1.0, "{}", None),
        ],
    )

    with stage_run(spark, lakehouse, "r-new", "ingest") as rec:
        during = [r for r in _log(lakehouse)[("r-new", "ingest")] if r["status"] == "running"]
        rec.metrics["rows"] = 3
    with pytest.raises(RuntimeError, match="boom"):
        with stage_run(spark, lakehouse, "r-new", "match"):
            raise RuntimeError("boom")

    # while the stage runs, its row says so, with the driver that runs it
    assert [r["status"] for r in during] == ["running"]
    assert json.loads(during[0]["metrics_json"])["pid"] == driver_identity()["pid"]

    log = _log(lakehouse)
    killed, ingest = sorted(log.pop(("r-new", "ingest")), key=lambda r: r["started_at"])
    assert killed["status"] == "failed" and killed["error"].startswith("interrupted:")
    assert all(len(rows) == 1 for rows in log.values()), "one row per stage attempt"
    row = {k: v[0] for k, v in log.items()}
    assert ingest["status"] == "succeeded" and ingest["error"] is None
    assert json.loads(ingest["metrics_json"])["rows"] == 3
    assert ingest["ended_at"] >= ingest["started_at"] and ingest["seconds"] > 0
    failed = row[("r-new", "match")]
    assert failed["status"] == "failed" and failed["error"] == "RuntimeError: boom"

    # the dead driver's stage is failed, with why; live or recent remote ones are left alone
    gone = row[("r-dead", "match")]
    assert gone["status"] == "failed"
    assert gone["error"].startswith("interrupted:") and f"{dead.pid} on {host}" in gone["error"]
    assert row[("r-far-old", "survive")]["status"] == "failed"
    assert "elsewhere" in row[("r-far-old", "survive")]["error"]
    assert row[("r-alive", "train")]["status"] == "running"
    assert row[("r-far-new", "survive")]["status"] == "running"
    assert row[("r-done", "ingest")]["status"] == "succeeded"
