"""Survive stage: golden profiles with survivorship, provenance, consent and contactability.

Tables written: ``silver.consent_events`` (key ``event_key``, see :mod:`.consent`) and
``gold.golden_profiles`` (key ``customer_id``, see :mod:`.profiles`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Submodules are imported lazily: ``unification.config`` imports ``.settings`` while it is
# itself being imported, and the stage modules import ``unification.config``.
_EXPORTS: dict[str, str] = {
    "CHANNELS": "consent",
    "build_consent_events": "consent",
    "consent_rows": "consent",
    "dedupe_events": "consent",
    "keep_newer_consent": "consent",
    "latest_consent": "consent",
    "GOLDEN_PROFILES": "profiles",
    "attach_customer_id": "profiles",
    "conform": "profiles",
    "flatten_consent": "profiles",
    "golden_profiles": "profiles",
    "run_survive": "profiles",
    "with_contactability": "profiles",
    "survive_attributes": "rules",
    "unit_order": "rules",
    "SURVIVING_ATTRIBUTES": "settings",
    "AttributeGroup": "settings",
    "AttributeRule": "settings",
    "SurvivorshipSettings": "settings",
}

__all__ = [
    "AttributeGroup",
    "AttributeRule",
    "CHANNELS",
    "GOLDEN_PROFILES",
    "SURVIVING_ATTRIBUTES",
    "SurvivorshipSettings",
    "attach_customer_id",
    "build_consent_events",
    "conform",
    "consent_rows",
    "dedupe_events",
    "flatten_consent",
    "golden_profiles",
    "keep_newer_consent",
    "latest_consent",
    "run_survive",
    "survive_attributes",
    "unit_order",
    "with_contactability",
]

if TYPE_CHECKING:
    from unification.survivorship.consent import (
        CHANNELS,
        build_consent_events,
        consent_rows,
        dedupe_events,
        keep_newer_consent,
        latest_consent,
    )
    from unification.survivorship.profiles import (
        GOLDEN_PROFILES,
        attach_customer_id,
        conform,
        flatten_consent,
        golden_profiles,
        run_survive,
        with_contactability,
    )
    from unification.survivorship.rules import survive_attributes, unit_order
    from unification.survivorship.settings import (
        SURVIVING_ATTRIBUTES,
        AttributeGroup,
        AttributeRule,
        SurvivorshipSettings,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
