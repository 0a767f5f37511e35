"""Errors of the privacy and activation commands."""

from __future__ import annotations

from unification.errors import UnificationError


class PrivacyError(UnificationError, ValueError):
    """An erasure, export or sync-back request that cannot be carried out as given."""
