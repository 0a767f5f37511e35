"""Concurrent runs on one lakehouse: a second run refuses with a clear message, or waits with
``--wait``; it never interleaves its writes with the first one's.

The lock tests use separate processes (the lock is an ``fcntl`` lock, held per open file, and
released by the kernel when its holder dies, SIGKILL included) but no Spark. The slow test runs
the real CLI three times at once on one lakehouse.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from unification.config import AppConfig
from unification.errors import ConcurrentRunError
from unification.pipeline import run_lock

REPO = Path(__file__).resolve().parents[1]

#: A process that takes the run lock of the lakehouse at argv[1], writes argv[2] once it holds
#: it, then sleeps argv[3] seconds. argv[4] == "wait" makes it queue instead of refusing.
HOLDER = """
import sys, time
from pathlib import Path
from unification.config import AppConfig, LakehouseConfig
from unification.errors import ConcurrentRunError
from unification.pipeline import run_lock
cfg = AppConfig(config_path="x.yml", lakehouse=LakehouseConfig(root=sys.argv[1]))
try:
    with run_lock(cfg, wait=sys.argv[4] == "wait"):
        Path(sys.argv[2]).write_text("locked")
        time.sleep(float(sys.argv[3]))
except ConcurrentRunError as exc:
    print(exc, file=sys.stderr)
    sys.exit(3)
"""


def _holder(cfg: AppConfig, marker: Path, seconds: float, wait: bool) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLDER,
            cfg.lakehouse.root,
            str(marker),
            str(seconds),
            "wait" if wait else "nowait",
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_second_process_refuses_with_a_clear_message(app_config: AppConfig, tmp_path: Path) -> None:
    with run_lock(app_config):
        proc = _holder(app_config, tmp_path / "m", 0, wait=False)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert "another pipeline run holds" in err and "--wait" in err
    assert f"pid={os.getpid()}" in err  # names the holder
    assert not (tmp_path / "m").exists()


def test_waiting_process_runs_after_the_first_one(app_config: AppConfig, tmp_path: Path) -> None:
    marker = tmp_path / "m"
    with run_lock(app_config):
        proc = _holder(app_config, marker, 0, wait=True)
        time.sleep(1.5)
        assert proc.poll() is None and not marker.exists()  # queued, not running
    proc.communicate(timeout=60)
    assert proc.returncode == 0 and marker.exists()


def test_sigkill_releases_the_lock(app_config: AppConfig, tmp_path: Path) -> None:
    marker = tmp_path / "m"
    proc = _holder(app_config, marker, 600, wait=False)
    _wait_for(marker, proc)
    with pytest.raises(ConcurrentRunError, match=f"pid={proc.pid}"):
        with run_lock(app_config):
            pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    with run_lock(app_config):  # the kernel released the dead holder's lock
        pass


# --------------------------------------------------------------------------- real CLI runs
CSV = "customer_id,email\n" + "".join(f"{i},c{i}@x.fr\n" for i in range(1, 6))


def _cli(conf: Path, *args: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "unification.cli", "ingest", "--conf", str(conf), *args],
            cwd=conf.parent,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
def test_concurrent_cli_runs_refuse_or_queue_and_never_interleave(tmp_path: Path) -> None:
    from unification.config import load_config

    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "shop.yml").write_text(
        "name: shop\nentities:\n  customers:\n    path: shop/*.csv\n    format: csv\n"
        "    key: [customer_id]\n    columns:\n"
        "      - {name: customer_id, required: true}\n      - {name: email}\n",
        encoding="utf-8",
    )
    (tmp_path / "data" / "shop").mkdir(parents=True)
    (tmp_path / "data" / "shop" / "customers_1.csv").write_text(CSV, encoding="utf-8")
    conf = tmp_path / "run.yml"
    conf.write_text(
        f"sources_dir: {tmp_path / 'sources'}\ndata_root: {tmp_path / 'data'}\n"
        f"models_dir: {REPO / 'conf' / 'models'}\n"
        f"lakehouse:\n  root: {tmp_path / 'lakehouse'}\n"
        "spark:\n  driver_memory: 1g\n  shuffle_partitions: 2\n",
        encoding="utf-8",
    )
    cfg = load_config(conf)
    logs = [tmp_path / f"cli{i}.log" for i in range(3)]
    with run_lock(cfg):  # a run is in progress
        refusing = _cli(conf, log=logs[0])
        queued = [_cli(conf, "--wait", log=logs[1]), _cli(conf, "--wait", log=logs[2])]
        assert refusing.wait(timeout=600) == 2
        assert all(p.poll() is None for p in queued), "a --wait run did not wait"
    assert all(p.wait(timeout=600) == 0 for p in queued), [log.read_text() for log in logs]
    refusal = logs[0].read_text()
    assert "another pipeline run holds" in refusal and "--wait" in refusal

    import deltalake

    lake = tmp_path / "lakehouse"
    run_log = deltalake.DeltaTable(str(lake / "ops" / "run_log")).to_pyarrow_table().to_pylist()
    runs: list[dict[str, Any]] = sorted(run_log, key=lambda r: r["started_at"])
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    assert runs[0]["run_id"] != runs[1]["run_id"]
    assert runs[1]["started_at"] >= runs[0]["ended_at"], "the runs overlapped"
    batches = deltalake.DeltaTable(str(lake / "bronze" / "_batches")).to_pyarrow_table()
    assert batches.num_rows == 1  # the second run found the batch done
    bronze = deltalake.DeltaTable(str(lake / "bronze" / "shop_customers")).to_pyarrow_table()
    assert sorted(bronze.column("customer_id").to_pylist()) == [str(i) for i in range(1, 6)]
