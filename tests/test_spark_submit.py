"""The pipeline under ``spark-submit`` against a real Spark standalone cluster on 127.0.0.1.

A master and one worker are started from the installed pyspark distribution, the whole
pipeline runs as ``jobs/run_pipeline.py`` with executors in their own JVM (so nothing may
depend on driver-local state), and both daemons are stopped afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _wait_for_port(port: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    home = _spark_home()
    env = dict(
        os.environ,
        SPARK_HOME=str(home),
        SPARK_LOCAL_IP="127.0.0.1",
        PYSPARK_PYTHON=sys.executable,
        SPARK_LOG_DIR=str(tmp_path_factory.mktemp("logs")),
    )
    port, ui = _free_port(), _free_port()
    logs = tmp_path_factory.mktemp("daemons")
    master = subprocess.Popen(
        [
            str(home / "bin" / "spark-class"),
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            str(ui),
        ],
        env=env,
        stdout=open(logs / "master.log", "w"),
        stderr=subprocess.STDOUT,
    )
    worker = None
    try:
        _wait_for_port(port)
        url = f"spark://127.0.0.1:{port}"
        worker = subprocess.Popen(
            [
                str(home / "bin" / "spark-class"),
                "org.apache.spark.deploy.worker.Worker",
                "--host",
                "127.0.0.1",
                "--cores",
                "2",
                "--memory",
                "3g",
                "--webui-port",
                str(_free_port()),
                "--work-dir",
                str(logs / "work"),
                url,
            ],
            env=env,
            stdout=open(logs / "worker.log", "w"),
            stderr=subprocess.STDOUT,
        )
        time.sleep(3)
        yield url, logs / "work"
    finally:
        for proc in (worker, master):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


def test_pipeline_under_spark_submit(standalone_cluster: tuple[str, Path], tmp_path: Path) -> None:
    master_url, work_dir = standalone_cluster
    from unification.spark import (
        DELTA_CATALOG,
        DELTA_EXTENSION,
        delta_maven_coordinates,
        splink_jar_path,
    )
    from unification.synthetic import generate

    data = tmp_path / "data"
    generate(data, n_persons=150, seed=7)
    conf = tmp_path / "cluster.yml"
    conf.write_text(
        f"extends: {REPO / 'conf' / 'base.yml'}\n"
        f"sources_dir: {REPO / 'conf' / 'sources'}\n"
        f"models_dir: {REPO / 'conf' / 'models'}\n"
        f"data_root: {data}\n"
        f"lakehouse:\n  root: {tmp_path / 'lakehouse'}\n"
        "spark:\n  shuffle_partitions: 4\n"
        f"run:\n  report_dir: {tmp_path / 'reports'}\n",
        encoding="utf-8",
    )
    home = _spark_home()
    env = dict(
        os.environ,
        SPARK_HOME=str(home),
        SPARK_LOCAL_IP="127.0.0.1",
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
    )
    cmd = [
        str(home / "bin" / "spark-submit"),
        "--master",
        master_url,
        "--deploy-mode",
        "client",
        "--packages",
        delta_maven_coordinates(),
        "--jars",
        splink_jar_path(),
        "--conf",
        f"spark.sql.extensions={DELTA_EXTENSION}",
        "--conf",
        f"spark.sql.catalog.spark_catalog={DELTA_CATALOG}",
        "--conf",
        "spark.sql.shuffle.partitions=4",
        "--conf",
        "spark.executor.memory=2g",
        "--conf",
        "spark.ui.enabled=false",
        str(REPO / "jobs" / "run_pipeline.py"),
        "--conf",
        str(conf),
    ]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]

    import deltalake

    lakehouse = tmp_path / "lakehouse"
    run_log = deltalake.DeltaTable(str(lakehouse / "ops" / "run_log")).to_pandas()
    assert set(run_log["status"]) == {"succeeded"}
    from unification.pipeline import STAGE_NAMES

    assert set(STAGE_NAMES) <= set(run_log["stage"])
    graph = deltalake.DeltaTable(str(lakehouse / "gold" / "identity_graph")).to_pandas()
    assert len(graph) > 0 and graph["customer_id"].notna().all()
    # the executors ran on the worker, not in the driver JVM
    executor_logs = list(work_dir.glob("app-*/*/stderr"))
    assert executor_logs, "no executor ran on the standalone worker"
