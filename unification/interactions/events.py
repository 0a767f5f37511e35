"""Bronze rows -> typed event rows, one ``events:`` mapping at a time.

A mapping (:class:`unification.config.EventMapping`) gives, for one entity of one source, the
target fields of its kind as Spark SQL expressions over the bronze columns, the ``links`` that
tie a row to a person record (``{"<source>:<entity>": "<expr giving its source_id>"}``) and an
optional ``when`` filter. :func:`mapped_events` evaluates them; :func:`latest_delivery` keeps
the most recent delivery of each key (bronze is append-only: a re-delivered or corrected row
appears again in a later batch).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification.config import EventMapping
from unification.errors import ConfigError
from unification.interactions.schemas import KIND_FIELDS, REQUIRED_FIELDS

logger = logging.getLogger(__name__)

#: Bronze technical columns that order deliveries (latest first).
DELIVERY_ORDER: tuple[str, ...] = ("_ingested_at", "_batch_id", "_row_number")


def validate_mapping(source: str, entity: str, mapping: EventMapping) -> list[str]:
    """Check a mapping's fields against its kind.

    Returns:
        The mapped fields that the kind does not know (they are ignored, with a warning).

    Raises:
        ConfigError: when a required field is missing or a link name is malformed.
    """
    where = f"sources/{source}: entities.{entity}.events[kind={mapping.kind}]"
    known = KIND_FIELDS[mapping.kind]
    missing = [f for f in REQUIRED_FIELDS[mapping.kind] if f not in mapping.fields]
    if mapping.kind == "order_line" and not {"line_id", "product_id"} & set(mapping.fields):
        missing.append("line_id (or product_id)")
    if missing:
        raise ConfigError(f"{where}: fields: missing required field(s) {missing}")
    for name in mapping.links:
        if name.count(":") != 1 or not all(name.split(":")):
            raise ConfigError(f"{where}: links: {name!r} must be '<source>:<entity>'")
    unknown = sorted(set(mapping.fields) - set(known))
    if unknown:
        logger.warning("%s: ignoring unknown field(s) %s (known: %s)", where, unknown, list(known))
    return unknown


def link_record_key(links: dict[str, str]) -> Column:
    """The person ``record_key`` an event links to: the first non-empty link, in order.

    ``{"ecommerce:customers": "customer_no"}`` gives ``ecommerce:customers:<customer_no>``.
    """
    keys = []
    for name, expr in links.items():
        value = F.trim(F.expr(expr).cast("string"))
        keys.append(F.when(value != "", F.concat(F.lit(f"{name}:"), value)))
    if not keys:
        return F.lit(None).cast("string")
    return keys[0] if len(keys) == 1 else F.coalesce(*keys)


def mapped_events(bronze: DataFrame, source: str, entity: str, mapping: EventMapping) -> DataFrame:
    """Evaluate one mapping over its bronze table.

    Args:
        bronze: the bronze table ``<source>_<entity>``.
        source: source system name.
        entity: entity name.
        mapping: the ``events:`` mapping.

    Returns:
        One row per bronze row that passes ``when``, with ``source``, ``entity``, ``kind``,
        every field of the kind (typed; null when not mapped), ``link_record_key`` and the
        bronze delivery-order columns that exist.
    """
    validate_mapping(source, entity, mapping)
    try:
        cols: list[Column] = [
            F.lit(source).alias("source"),
            F.lit(entity).alias("entity"),
            F.lit(mapping.kind).alias("kind"),
        ]
        for name, dtype in KIND_FIELDS[mapping.kind].items():
            expr = mapping.fields.get(name)
            value = (F.expr(expr) if expr is not None else F.lit(None)).cast(dtype)
            if isinstance(dtype, T.StringType):
                value = F.when(F.trim(value) != "", F.trim(value))
            cols.append(value.alias(name))
        cols.append(link_record_key(mapping.links).alias("link_record_key"))
        cols.extend(F.col(c) for c in DELIVERY_ORDER if c in bronze.columns)
        df = bronze.filter(F.expr(mapping.when)) if mapping.when else bronze
        return df.select(*cols)
    except AnalysisException as exc:  # includes ParseException
        where = f"sources/{source}: entities.{entity}.events[kind={mapping.kind}]"
        raise ConfigError(
            f"{where}: an expression does not fit bronze.{source}_{entity}: {exc}"
        ) from exc


def latest_delivery(keys: Sequence[str]) -> Callable[[DataFrame], DataFrame]:
    """Keep one row per ``keys``: the latest delivery (``_ingested_at``, ``_batch_id``,
    ``_row_number``, all descending; missing columns are skipped).

    Examples:
        ```py
        orders.transform(latest_delivery(["order_key"]))
        ```
    """

    def _(df: DataFrame) -> DataFrame:
        order = [F.col(c).desc_nulls_last() for c in DELIVERY_ORDER if c in df.columns]
        if not order:
            order = [F.lit(1)]
        w = Window.partitionBy(*keys).orderBy(*order)
        return df.withColumn("_rn", F.row_number().over(w)).filter("_rn = 1").drop("_rn")

    return _


def drop_delivery_columns(df: DataFrame) -> DataFrame:
    """Drop the bronze delivery-order columns."""
    return df.drop(*DELIVERY_ORDER)
