"""Marketing features: ``gold.customer_features`` and ``gold.lifecycle_transitions``.

Public API: :func:`run_features` (in :mod:`unification.features.stage`); the pure pieces live
in :mod:`~unification.features.clv` (BG/NBD and Gamma-Gamma), :mod:`~unification.features.rfm`,
:mod:`~unification.features.base`, :mod:`~unification.features.lifecycle` and
:mod:`~unification.features.propensity`. Re-exports are resolved lazily so that importing
:mod:`unification.config` (which imports this package's settings) never imports Spark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unification.features.stage import run_features

__all__ = ["run_features"]


def __getattr__(name: str) -> Any:
    if name == "run_features":
        from unification.features.stage import run_features

        return run_features
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
