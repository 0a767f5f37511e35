"""The gold 360 view: ``gold.orders``, ``gold.order_lines`` and ``gold.interactions``.

Public API: :func:`run_interactions` (implemented in :mod:`unification.interactions.stage`).
Re-exports are resolved lazily so that importing :mod:`unification.config` (which imports this
package's settings) never imports Spark or the lakehouse helpers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unification.interactions.schemas import ORDER_LINES
    from unification.interactions.stage import run_interactions

__all__ = ["ORDER_LINES", "run_interactions"]


def __getattr__(name: str) -> Any:
    if name == "run_interactions":
        from unification.interactions.stage import run_interactions

        return run_interactions
    if name == "ORDER_LINES":
        from unification.interactions.schemas import ORDER_LINES

        return ORDER_LINES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
