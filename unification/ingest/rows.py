"""Row-level contract enforcement: typing with ``try_cast`` semantics and quarantine reasons.

:func:`parse_value` turns a raw text value into the declared type (null when it cannot).
:func:`classify_rows` adds, to rows in the reader layout, the typed contract columns and a
``_reason`` (empty string = accepted). A row is quarantined when:

* it cannot be read (``_malformed``: wrong number of CSV fields, broken quoting, repeated
  header, truncated last row, invalid JSON);
* a required (or key) column is null or blank: ``missing required column value: email``;
* a non-blank value does not parse as the declared type:
  ``cannot parse 'abc' as int in column qty``;
* its key repeats the key of an earlier valid row of the same file:
  ``duplicate key customer_id=123 in file`` (the first occurrence is kept).
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from unification.config import ColumnSpec, EntityConfig

#: ``_kind`` values, in priority order.
REASON_KINDS: tuple[str, ...] = ("malformed", "missing_value", "bad_type", "duplicate_key")
_SHOWN_CHARS = 60
_ISO_DATE = r"^\d{4}-\d{1,2}-\d{1,2}([T ].*)?$"
_ISO_TIMESTAMP = r"^\d{4}-\d{1,2}-\d{1,2}"


def raw_value(name: str) -> Column:
    """The raw text of bronze column ``name`` (null when the file does not deliver it)."""
    return F.try_element_at(F.col("_raw"), F.lit(name))


def shown(value: Column) -> Column:
    """A value as quoted in a reason, cut to 60 characters."""
    return F.when(
        F.length(value) > _SHOWN_CHARS,
        F.concat(F.substring(value, 1, _SHOWN_CHARS - 3), F.lit("...")),
    ).otherwise(value)


def formats(spec: ColumnSpec) -> list[str]:
    """The datetime patterns of a column: ``format`` may list alternatives separated by ``|``."""
    if not spec.format:
        return []
    return [f.strip() for f in spec.format.split("|") if f.strip()]


def parse_value(raw: Column, spec: ColumnSpec, decimal_type: str = "decimal(38,10)") -> Column:
    """Parse a raw text value as ``spec.type``; null when blank or unparseable (never raises).

    * ``int``/``long``: an optional ``.0`` fraction is accepted (``"2.0"`` -> 2);
    * ``double``/``decimal``/``boolean``: Spark's cast (booleans: true/false, t/f, yes/no, 1/0);
    * ``date``/``timestamp``: each pattern of ``format`` in turn, then ISO 8601
      (``yyyy-MM-dd[ HH:mm:ss]``, which is also how typed Parquet values arrive).

    Args:
        raw: the text value.
        spec: the contract column.
        decimal_type: Spark type of ``decimal`` columns.

    Returns:
        A column of the declared type.
    """
    text = F.trim(raw)
    kind = spec.type
    if kind == "string":
        return raw
    if kind in ("int", "long"):
        return F.regexp_replace(text, r"^([+-]?\d+)\.0*$", "$1").try_cast(kind)
    if kind == "double":
        return text.try_cast("double")
    if kind == "decimal":
        return text.try_cast(decimal_type)
    if kind == "boolean":
        return text.try_cast("boolean")
    if kind == "date":
        attempts = [F.to_date(F.try_to_timestamp(text, F.lit(f))) for f in formats(spec)]
        attempts.append(F.when(text.rlike(_ISO_DATE), text.try_cast("date")))
        return F.coalesce(*attempts) if len(attempts) > 1 else attempts[0]
    if kind == "timestamp":
        attempts = [F.try_to_timestamp(text, F.lit(f)) for f in formats(spec)]
        attempts.append(F.when(text.rlike(_ISO_TIMESTAMP), text.try_cast("timestamp")))
        return F.coalesce(*attempts) if len(attempts) > 1 else attempts[0]
    raise ValueError(f"unsupported column type {kind!r}")


def _is_blank(raw: Column) -> Column:
    return raw.isNull() | (F.trim(raw) == F.lit(""))


def _any(conds: list[Column]) -> Column:
    out = F.lit(False)
    for c in conds:
        out = out | c
    return out


def classify_rows(
    entity: EntityConfig, decimal_type: str = "decimal(38,10)"
) -> Callable[[DataFrame], DataFrame]:
    """Transform factory: type the contract columns and decide each row's fate.

    Input: rows in the reader layout (:data:`unification.ingest.readers.RAW_COLUMNS`).
    Output adds the typed contract columns (named as in the contract), ``_reason`` (``""`` when
    the row is accepted, else every problem joined by ``"; "``), ``_kind`` (the first kind of
    problem, see :data:`REASON_KINDS`), ``_dup_pid`` / ``_dup_idx`` (position of the first row
    with the same key, for duplicates) and keeps ``_raw_text`` only for quarantined rows.

    Duplicate keys are looked for only among rows that are otherwise valid, so the first valid
    occurrence of a key is the one kept. Needs a shuffle only when the entity has a key.

    Args:
        entity: the contract.
        decimal_type: Spark type of ``decimal`` columns.

    Returns:
        A ``DataFrame -> DataFrame`` function.
    """
    required = {c.name for c in entity.columns if c.required or c.name in entity.key}

    def _transform(df: DataFrame) -> DataFrame:
        typed = df.select(
            *[c for c in df.columns],
            *[
                parse_value(raw_value(c.name), c, decimal_type).alias(c.name)
                for c in entity.columns
            ],
        )
        reasons: list[Column] = []
        missing: list[Column] = []
        bad: list[Column] = []
        for spec in entity.columns:
            raw = raw_value(spec.name)
            if spec.name in required:
                cond = _is_blank(raw)
                missing.append(cond)
                reasons.append(F.when(cond, F.lit(f"missing required column value: {spec.name}")))
            if spec.type != "string":
                cond = ~_is_blank(raw) & F.col(spec.name).isNull()
                bad.append(cond)
                fmt = f" (format {spec.format})" if spec.format else ""
                message = F.concat(
                    F.lit("cannot parse '"),
                    shown(raw),
                    F.lit(f"' as {spec.type} in column {spec.name}{fmt}"),
                )
                reasons.append(F.when(cond, message))
        malformed = F.col("_malformed").isNotNull()
        reason = F.when(malformed, F.col("_malformed")).otherwise(
            F.concat_ws("; ", *reasons) if reasons else F.lit("")
        )
        kind = (
            F.when(malformed, F.lit("malformed"))
            .when(_any(missing), F.lit("missing_value"))
            .when(_any(bad), F.lit("bad_type"))
        )
        out = typed.withColumn("_reason", reason).withColumn("_kind", kind)
        # keep the raw line only where it may be needed, before the duplicate-key shuffle
        # (a duplicate's raw row is then its values as JSON)
        out = out.withColumn("_raw_text", F.when(F.col("_reason") != F.lit(""), F.col("_raw_text")))
        if entity.key:
            valid = F.col("_reason") == F.lit("")
            window = Window.partitionBy("_file_idx", valid, *entity.key).orderBy("_pid", "_idx")
            first = F.row_number().over(window) == 1
            dup = valid & ~first
            described = F.concat_ws(
                ", ", *[F.concat(F.lit(f"{k}="), shown(raw_value(k))) for k in entity.key]
            )
            out = (
                out.withColumn("_dup_pid", F.when(~first, F.first("_pid").over(window)))
                .withColumn("_dup_idx", F.when(~first, F.first("_idx").over(window)))
                .withColumn("_is_dup", dup)
                .withColumn(
                    "_reason",
                    F.when(
                        F.col("_is_dup"),
                        F.concat(F.lit("duplicate key "), described, F.lit(" in file")),
                    ).otherwise(F.col("_reason")),
                )
                .withColumn(
                    "_kind",
                    F.when(F.col("_is_dup"), F.lit("duplicate_key")).otherwise(F.col("_kind")),
                )
                .withColumn("_dup_pid", F.when(F.col("_is_dup"), F.col("_dup_pid")))
                .withColumn("_dup_idx", F.when(F.col("_is_dup"), F.col("_dup_idx")))
                .drop("_is_dup")
            )
        else:
            out = out.withColumn("_dup_pid", F.lit(None).cast("long")).withColumn(
                "_dup_idx", F.lit(None).cast("long")
            )
        return out.withColumn(
            "_raw_text", F.when(F.col("_reason") != F.lit(""), F.col("_raw_text"))
        ).drop("_malformed")

    return _transform
