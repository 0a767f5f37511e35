"""``silver.person_records`` -> the matching input (one row per record, matching keys).

Grain: one row per person record; key ``record_key`` (Splink's unique id).

The columns keep the canonical field names so that the YAML model reads naturally, but hold
matching keys rather than display values:

* ``first_name``, ``last_name``, ``birth_name``: folded ASCII, lower case, separators and
  spaces removed (``Jean-Pierre`` -> ``jeanpierre``, ``de La Tour`` -> ``delatour``);
  ``last_name_core`` drops leading particles (``fontaine``);
* ``landline``: the record's phone when it is not its mobile (E.164);
* ``email`` (already normalised), ``mobile`` (E.164), ``birth_date`` (date),
  ``gender``, ``address_line1``, ``postal_code``, ``city``, ``country`` as standardised;
* ``id_<name>`` for each extra identifier declared in the source mappings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from unification.standardise import columns as C
from unification.standardise.settings import StandardiseSettings

if TYPE_CHECKING:
    from unification.config import AppConfig

#: Standardised fields passed through unchanged.
PASSTHROUGH = (
    "source",
    "birth_date",
    "gender",
    "email",
    "mobile",
    "address_line1",
    "postal_code",
    "city",
    "country",
)


def identifier_names(cfg: AppConfig) -> list[str]:
    """Names of the extra identifiers declared in the source mappings (sorted)."""
    names: set[str] = set()
    for _src, _name, entity in cfg.entities():
        if entity.person is not None:
            names.update(entity.person.identifiers)
    return sorted(names)


def match_input(
    settings: StandardiseSettings, identifiers: Iterable[str] = ()
) -> Callable[[DataFrame], DataFrame]:
    """Factory of the transform ``person_records -> matching input``.

    Args:
        settings: the ``standardise:`` section (titles and particles of names).
        identifiers: identifier names turned into ``id_<name>`` columns.
    """
    n = settings.names
    ids = sorted(set(identifiers))

    def _(df: DataFrame) -> DataFrame:
        id_cols = [
            (
                F.col("identifiers").getItem(name)
                if "identifiers" in df.columns
                else F.lit(None).cast("string")
            ).alias(f"id_{name}")
            for name in ids
        ]
        phone = F.col("phone") if "phone" in df.columns else F.lit(None).cast("string")
        mobile = F.col("mobile") if "mobile" in df.columns else F.lit(None).cast("string")
        landline = F.when(phone != F.coalesce(mobile, F.lit("")), phone)
        return df.select(
            "record_key",
            *[F.col(c) if c in df.columns else F.lit(None).alias(c) for c in PASSTHROUGH],
            C.name_key(F.col("first_name"), n.titles).alias("first_name"),
            C.name_key(F.col("last_name"), n.titles).alias("last_name"),
            C.name_core_key(F.col("last_name"), n.particles, n.titles).alias("last_name_core"),
            C.name_key(F.col("birth_name"), n.titles).alias("birth_name"),
            landline.alias("landline"),
            *id_cols,
        )

    return _
