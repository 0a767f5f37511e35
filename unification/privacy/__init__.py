"""Privacy and activation: erasure, suppression, exports, sync-back feed, retention.

Public API (imported lazily, so that :mod:`unification.config` can import
:mod:`unification.privacy.settings` without pulling Spark code in):

* :func:`erase` / :class:`ErasureRequest` (``unify erase``), :func:`drop_suppressed` (the
  ingestion hook), :func:`add_to_suppression`;
* :func:`run_export` / :func:`build_export` / :func:`segment_members` (``unify export``);
* :func:`run_sync_back` (``unify sync-back``);
* :func:`run_vacuum` (``unify vacuum``);
* :func:`redact`, :func:`install_log_redaction` (PII hygiene of logs).

See docs/PRIVACY.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unification.privacy.erase import ErasureRequest, ErasureResult, erase, resolve
    from unification.privacy.errors import PrivacyError
    from unification.privacy.export import build_export, run_export, segment_members
    from unification.privacy.hygiene import find_pii, install_log_redaction, redact
    from unification.privacy.suppression import add_to_suppression, drop_suppressed
    from unification.privacy.syncback import run_sync_back
    from unification.privacy.vacuum import run_vacuum

_EXPORTS: dict[str, str] = {
    "ErasureRequest": "erase",
    "ErasureResult": "erase",
    "erase": "erase",
    "resolve": "erase",
    "PrivacyError": "errors",
    "build_export": "export",
    "run_export": "export",
    "segment_members": "export",
    "find_pii": "hygiene",
    "install_log_redaction": "hygiene",
    "redact": "hygiene",
    "add_to_suppression": "suppression",
    "drop_suppressed": "suppression",
    "run_sync_back": "syncback",
    "run_vacuum": "vacuum",
}

__all__ = [
    "ErasureRequest",
    "ErasureResult",
    "PrivacyError",
    "add_to_suppression",
    "build_export",
    "drop_suppressed",
    "erase",
    "find_pii",
    "install_log_redaction",
    "redact",
    "resolve",
    "run_export",
    "run_sync_back",
    "run_vacuum",
    "segment_members",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
