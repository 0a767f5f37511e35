"""identity stage: stable customer ids, their history, the identity graph, human decisions.

Public API (imported lazily, so that ``unification.config`` can import
:mod:`unification.identity.settings` without pulling Spark code in):

* :func:`run_identify` (stage entry point), :func:`add_decision`, :func:`revoke_decision`,
  :func:`list_decisions`;
* the transforms doing the work, testable without tables: :func:`with_clusters`,
  :func:`apply_decisions`, :func:`plan_customer_ids`, :func:`history_events`,
  :func:`build_identity_graph`, and the pure-Python :func:`cut_component`.

See docs/IDENTITY.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unification.identity.components import apply_decisions, cut_component, with_clusters
    from unification.identity.decisions import (
        add_decision,
        decision_id,
        list_decisions,
        revoke_decision,
    )
    from unification.identity.errors import DecisionError, IdentityError
    from unification.identity.graph import build_identity_graph, link_confidence
    from unification.identity.ids import (
        customer_of_record,
        history_events,
        id_registry,
        new_customer_id,
        plan_customer_ids,
    )
    from unification.identity.stage import run_identify

_EXPORTS: dict[str, str] = {
    "run_identify": "stage",
    "add_decision": "decisions",
    "revoke_decision": "decisions",
    "list_decisions": "decisions",
    "decision_id": "decisions",
    "with_clusters": "components",
    "apply_decisions": "components",
    "cut_component": "components",
    "plan_customer_ids": "ids",
    "history_events": "ids",
    "id_registry": "ids",
    "new_customer_id": "ids",
    "customer_of_record": "ids",
    "build_identity_graph": "graph",
    "link_confidence": "graph",
    "IdentityError": "errors",
    "DecisionError": "errors",
}

__all__ = [
    "DecisionError",
    "IdentityError",
    "add_decision",
    "apply_decisions",
    "build_identity_graph",
    "customer_of_record",
    "cut_component",
    "decision_id",
    "history_events",
    "id_registry",
    "link_confidence",
    "list_decisions",
    "new_customer_id",
    "plan_customer_ids",
    "revoke_decision",
    "run_identify",
    "with_clusters",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
