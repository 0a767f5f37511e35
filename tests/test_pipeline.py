from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from unification.config import AppConfig
from unification.errors import ConcurrentRunError
from unification.pipeline import STAGE_NAMES, STAGES, get_stage, run_lock

REPO = Path(__file__).resolve().parents[1]


def test_every_stage_resolves_to_a_function() -> None:
    for stage in STAGES:
        assert callable(stage.function()), stage.name


def test_unknown_stage_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="ingest"):
        get_stage("nope")


def test_every_stage_has_a_job_entrypoint() -> None:
    for name in STAGE_NAMES:
        module = importlib.import_module(f"jobs.{name}")
        assert callable(module.main)


def test_second_run_refuses_while_first_holds_the_lock(app_config: AppConfig) -> None:
    with run_lock(app_config):
        with pytest.raises(ConcurrentRunError, match="another pipeline run"):
            with run_lock(app_config):
                pass
    with run_lock(app_config):  # released: a later run proceeds
        pass
