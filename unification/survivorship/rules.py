"""Survivorship rules: which record's value of each attribute survives into the golden profile.

Everything here is a pure ``DataFrame -> DataFrame`` transform (or a factory returning one),
written with window functions partitioned by ``customer_id``: nothing is collected to the
driver.

Ranking of the records of one customer for one unit (an attribute, or a group of attributes
that survive together), best first:

1. records that have a value (any value member non-null): non-null beats null, always;
2. records that have every ``required`` member of a group (a full address beats a city alone);
3. records whose ``valid_flag`` is not false (a valid address beats a rejected one);
4. the unit's rule:

   * ``most_recent``: nothing more (the tie-breakers below *are* the rule);
   * ``source_priority``: position of the record's source in the ordered list (unlisted last);
   * ``most_frequent``: number of the customer's records holding the same value (for a group,
     the same tuple of value members);
   * ``most_complete``: number of non-null value members, then total length of their text;

5. ties: the source's own ``updated_at``, newest first (null last), then ``record_key``
   ascending, so the result never depends on ingestion order or partitioning.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification.errors import DataFrameMissingColumnError
from unification.survivorship.settings import SURVIVING_ATTRIBUTES, Unit

Transform = Callable[[DataFrame], DataFrame]

#: Columns a record frame needs besides the attributes.
RECORD_META: tuple[str, ...] = ("customer_id", "record_key", "source", "source_id", "updated_at")

#: Type of one provenance entry (``provenance`` map values).
PROVENANCE = T.StructType(
    [
        T.StructField("source", T.StringType(), True),
        T.StructField("source_id", T.StringType(), True),
        T.StructField("record_key", T.StringType(), True),
        T.StructField("as_of", T.TimestampType(), True),
        T.StructField("rule", T.StringType(), True),
    ]
)


def require_columns(df: DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise :class:`DataFrameMissingColumnError` when ``df`` lacks some of ``columns``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataFrameMissingColumnError(f"{what}: missing column(s) {missing}")


def _any(cols: Sequence[Column]) -> Column:
    return reduce(operator.or_, cols)


def _all(cols: Sequence[Column]) -> Column:
    return reduce(operator.and_, cols)


def has_value(unit: Unit) -> Column:
    """True when a record holds a value for the unit (any value member non-null)."""
    return _any([F.col(a).isNotNull() for a in unit.value_attributes])


def frequency(unit: Unit) -> Column:
    """Number of the customer's records holding the same value (tuple) for ``unit``."""
    return F.count(F.lit(1)).over(Window.partitionBy("customer_id", *unit.value_attributes))


def unit_order(unit: Unit, frequency_col: str | None = None) -> list[Column]:
    """Sort expressions ranking a customer's records for ``unit``, best first.

    Args:
        unit: the unit and its rule.
        frequency_col: for ``most_frequent``, a column holding :func:`frequency` (a window
            function cannot sit inside another window's ordering).
    """
    order: list[Column] = [has_value(unit).desc()]
    if unit.required:
        order.append(_all([F.col(a).isNotNull() for a in unit.required]).desc())
    if unit.valid_flag:
        order.append(F.coalesce(F.col(unit.valid_flag), F.lit(True)).desc())
    if unit.rule == "source_priority":
        position = F.array_position(F.array(*[F.lit(s) for s in unit.sources]), F.col("source"))
        order.append(F.when(position == 0, F.lit(len(unit.sources) + 1)).otherwise(position).asc())
    elif unit.rule == "most_frequent":
        if frequency_col is None:
            raise ValueError("most_frequent needs frequency_col")
        order.append(F.col(frequency_col).desc())
    elif unit.rule == "most_complete":
        values = unit.value_attributes
        filled = reduce(operator.add, [F.col(a).isNotNull().cast("int") for a in values])
        length = reduce(
            operator.add,
            [F.coalesce(F.length(F.col(a).cast("string")), F.lit(0)) for a in values],
        )
        order.extend([filled.desc(), length.desc()])
    order.extend([F.col("updated_at").desc_nulls_last(), F.col("record_key").asc()])
    return order


def provenance_of_record(rule: str) -> Column:
    """The provenance struct of the current record (``source``, ids, ``as_of``, rule)."""
    return F.struct(
        F.col("source").alias("source"),
        F.col("source_id").cast("string").alias("source_id"),
        F.col("record_key").alias("record_key"),
        F.col("updated_at").alias("as_of"),
        F.lit(rule).alias("rule"),
    )


def survive_attributes(units: Sequence[Unit]) -> Transform:
    """Factory: records of customers -> one row per ``customer_id`` with surviving attributes.

    Args:
        units: survivorship units, e.g. ``cfg.survivorship.units()``; together they must cover
            :data:`SURVIVING_ATTRIBUTES`.

    Returns:
        A transform from a frame with :data:`RECORD_META` columns and every surviving attribute
        (one row per person record) to a frame with ``customer_id``, the attributes,
        ``provenance`` (map attribute -> struct<source, source_id, record_key, as_of, rule>,
        an entry only where some record of the customer had a value for the attribute's unit),
        ``record_count``, ``sources`` (sorted distinct), ``updated_at`` (max) and
        ``_record_keys`` (sorted record keys of the customer, a working column).

    Examples:
        ```py
        profiles = records.transform(survive_attributes(cfg.survivorship.units()))
        ```
    """
    units = list(units)
    covered = [a for u in units for a in u.attributes]
    if sorted(covered) != sorted(SURVIVING_ATTRIBUTES):
        raise ValueError(f"units must cover {list(SURVIVING_ATTRIBUTES)} once; got {covered}")

    def _survive(records: DataFrame) -> DataFrame:
        require_columns(records, [*RECORD_META, *SURVIVING_ATTRIBUTES], "person records")
        ranked = records.select(*RECORD_META, *SURVIVING_ATTRIBUTES)
        for i, unit in enumerate(units):
            freq = None
            if unit.rule == "most_frequent":
                freq = f"_f{i}"
                ranked = ranked.withColumn(freq, frequency(unit))
            window = Window.partitionBy("customer_id").orderBy(*unit_order(unit, freq))
            ranked = ranked.withColumn(f"_rn{i}", F.row_number().over(window))
        aggs = [
            F.first(
                F.when(
                    (F.col(f"_rn{i}") == 1) & has_value(unit),
                    F.struct(
                        *[F.col(a) for a in unit.attributes],
                        provenance_of_record(unit.rule).alias("_prov"),
                    ),
                ),
                ignorenulls=True,
            ).alias(f"_u{i}")
            for i, unit in enumerate(units)
        ]
        grouped = ranked.groupBy("customer_id").agg(
            *aggs,
            F.count(F.lit(1)).alias("record_count"),
            F.array_sort(F.collect_set("source")).alias("sources"),
            F.max("updated_at").alias("updated_at"),
            F.array_sort(F.collect_list("record_key")).alias("_record_keys"),
        )
        unit_of = {a: i for i, u in enumerate(units) for a in u.attributes}
        provenance = F.map_filter(
            F.create_map(
                *[
                    item
                    for a in SURVIVING_ATTRIBUTES
                    for item in (F.lit(a), F.col(f"_u{unit_of[a]}._prov"))
                ]
            ),
            lambda _k, v: v.isNotNull(),
        )
        return grouped.select(
            "customer_id",
            *[F.col(f"_u{unit_of[a]}.{a}").alias(a) for a in SURVIVING_ATTRIBUTES],
            provenance.alias("provenance"),
            "record_count",
            "sources",
            "updated_at",
            "_record_keys",
        )

    return _survive
