"""The Databricks Asset Bundle is structurally valid: every task points at something real."""

from __future__ import annotations

from pathlib import Path

import yaml

from unification.config import load_config

REPO = Path(__file__).resolve().parents[1]


def _jobs() -> dict:
    bundle = yaml.safe_load((REPO / "databricks.yml").read_text())
    assert bundle["bundle"]["name"]
    jobs: dict = {}
    for pattern in bundle["include"]:
        for f in sorted(REPO.glob(pattern)):
            jobs.update(yaml.safe_load(f.read_text())["resources"]["jobs"])
    assert jobs, "no job in resources/"
    return jobs


def test_bundle_targets_and_variables() -> None:
    bundle = yaml.safe_load((REPO / "databricks.yml").read_text())
    assert {"dev", "prod"} <= set(bundle["targets"])
    assert {"catalog", "schema_suffix"} <= set(bundle["variables"])


def test_every_task_points_at_an_existing_entrypoint_or_notebook() -> None:
    resources = REPO / "resources"
    for job in _jobs().values():
        assert job["schedule"]["quartz_cron_expression"]
        keys = {t["task_key"] for t in job["tasks"]}
        for task in job["tasks"]:
            for dep in task.get("depends_on", []):
                assert dep["task_key"] in keys, dep
            if "spark_python_task" in task:
                target = (resources / task["spark_python_task"]["python_file"]).resolve()
                assert target.is_file(), target
                source = target.read_text()
                assert "def main(" in source and '__name__ == "__main__"' in source
                params = task["spark_python_task"]["parameters"]
                assert "--catalog" in params and "${var.catalog}" in params
            elif "notebook_task" in task:
                target = (resources / task["notebook_task"]["notebook_path"]).resolve()
                assert target.is_file(), target
                assert target.read_text().startswith("# Databricks notebook source")
            else:
                raise AssertionError(f"task {task['task_key']} has no known task type")


def test_every_stage_has_a_task() -> None:
    from unification.pipeline import STAGE_NAMES

    tasks = {t["task_key"] for job in _jobs().values() for t in job["tasks"]}
    assert set(STAGE_NAMES) <= tasks


def test_databricks_conf_is_valid() -> None:
    cfg = load_config(REPO / "conf" / "databricks.yml")
    assert cfg.lakehouse.catalog == "main"


def _substituted(params: list[str]) -> list[str]:
    """Task parameters with the bundle variables at their defaults and a job run id."""
    bundle = yaml.safe_load((REPO / "databricks.yml").read_text())
    out = []
    for p in params:
        for name, var in bundle["variables"].items():
            p = p.replace("${var." + name + "}", str(var.get("default", "")))
        out.append(p.replace("{{job.run_id}}", "123456"))
    return out


def test_tasks_share_the_job_run_id_and_parse() -> None:
    """One job run = one run id in the run log (the report task reports every stage), and
    every task's parameters are accepted by its entrypoint's parser."""
    import argparse

    from unification.entrypoint import parse_args
    from unification.pipeline import STAGE_NAMES
    from unification.privacy.entrypoint import base_parser

    bundle = yaml.safe_load((REPO / "databricks.yml").read_text())
    assert bundle["variables"]["run_mode"]["default"] in ("incremental", "full")
    stage_jobs = {f"{name}.py" for name in ("run_pipeline", *STAGE_NAMES)}
    for job in _jobs().values():
        for task in job["tasks"]:
            if "spark_python_task" not in task:
                continue
            params = _substituted(task["spark_python_task"]["parameters"])
            entry = Path(task["spark_python_task"]["python_file"]).name
            if entry in stage_jobs:
                args = parse_args(entry, params)
                assert args.mode in ("incremental", "full"), task["task_key"]
            else:
                args, unknown = base_parser(entry).parse_known_args(params)
                assert not unknown, (task["task_key"], unknown)
            assert isinstance(args, argparse.Namespace) and args.run_id == "123456"
            assert args.catalog == "main"
