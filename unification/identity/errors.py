"""Errors of the identity stage, and a column check shared by its transforms."""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import DataFrame

from unification.errors import DataFrameMissingColumnError, UnificationError


class IdentityError(UnificationError):
    """The identity stage cannot run (missing input table, id collision...)."""


class DecisionError(IdentityError, ValueError):
    """A human decision is invalid: unknown or ambiguous record reference, bad kind..."""


def require_columns(df: DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`DataFrameMissingColumnError` naming ``what`` if ``df`` lacks ``columns``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataFrameMissingColumnError(
            f"{what} lacks column(s) {missing}; it has {sorted(df.columns)}"
        )
