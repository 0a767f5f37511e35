"""Named exceptions raised across the library."""

from __future__ import annotations


class UnificationError(Exception):
    """Base class of every error this library raises on purpose."""


class ConfigError(UnificationError, ValueError):
    """A configuration file is missing, unparsable or invalid (the message names file and key)."""


class ContractError(UnificationError, ValueError):
    """A source file breaks its contract as a whole (missing required column, unreadable...)."""


class ReconciliationError(UnificationError):
    """Counts do not reconcile: rows read != rows accepted + rows quarantined."""


class DataFrameMissingColumnError(UnificationError, ValueError):
    """A DataFrame handed to a stage lacks columns the stage needs."""


class GuardrailError(UnificationError):
    """A run would exceed a configured safety bound (e.g. too many comparisons)."""


class ConcurrentRunError(UnificationError):
    """Another pipeline run holds the lakehouse lock."""
