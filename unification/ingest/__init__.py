"""Bronze ingestion stage: source files -> ``bronze.<source>_<entity>``, ``bronze._quarantine``,
``bronze._batches``.

Entry point: :func:`run_ingest` (``unify ingest``, ``jobs/ingest.py``). See docs/INGESTION.md.

Exports are resolved lazily: :mod:`unification.config` imports
:mod:`unification.ingest.settings`, and this package must not import the config module back
while it is being initialised.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unification.ingest.ingest import (
        EntityReport,
        FileReport,
        bronze_schema,
        ingest_entity,
        raise_for_problems,
        run_ingest,
        summarise,
    )

__all__ = [
    "EntityReport",
    "FileReport",
    "bronze_schema",
    "ingest_entity",
    "raise_for_problems",
    "run_ingest",
    "summarise",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("unification.ingest.ingest"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
