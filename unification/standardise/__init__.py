"""Standardise stage: bronze -> ``silver.person_records`` (canonical identity schema).

The cleaners are ``Column -> Column`` functions in :mod:`unification.standardise.columns`;
:func:`run_standardise` applies each source's ``person:`` mapping and writes the table.

Names are resolved lazily (PEP 562) so that ``unification.config`` can import
``unification.standardise.settings`` without importing the stage (which imports the config).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unification.standardise import columns
    from unification.standardise.records import (
        build_person_records,
        latest_per_record,
        mapped_frame,
        run_standardise,
        standardise_persons,
        to_person_records,
    )

_EXPORTS = {
    "build_person_records": "unification.standardise.records",
    "latest_per_record": "unification.standardise.records",
    "mapped_frame": "unification.standardise.records",
    "run_standardise": "unification.standardise.records",
    "standardise_persons": "unification.standardise.records",
    "to_person_records": "unification.standardise.records",
}

__all__ = [
    "build_person_records",
    "columns",
    "latest_per_record",
    "mapped_frame",
    "run_standardise",
    "standardise_persons",
    "to_person_records",
]


def __getattr__(name: str) -> Any:
    if name == "columns":
        return importlib.import_module("unification.standardise.columns")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'unification.standardise' has no attribute {name!r}")
