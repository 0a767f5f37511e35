"""Matching stage: Splink (Fellegi-Sunter) on ``silver.person_records``.

* :func:`train_model` (``unify train``) estimates the model and saves it as JSON with a
  training summary under ``models_dir``;
* :func:`run_match` (``unify match``) loads it, predicts, adds deterministic links and clusters
  (``silver.match_pairs``, ``silver.record_clusters``);
* :func:`evaluate` (``unify evaluate``) scores the clusters against a ground truth.

Names are resolved lazily (PEP 562) so that ``unification.config`` can import
``unification.matching.settings`` without importing the stage (which imports the config).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unification.matching.evaluation import cluster_metrics, evaluate
    from unification.matching.predict import run_match
    from unification.matching.training import train_model

_EXPORTS = {
    "cluster_metrics": "unification.matching.evaluation",
    "evaluate": "unification.matching.evaluation",
    "run_match": "unification.matching.predict",
    "train_model": "unification.matching.training",
}

__all__ = ["cluster_metrics", "evaluate", "run_match", "train_model"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'unification.matching' has no attribute {name!r}")
