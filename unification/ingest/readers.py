"""Spark readers: one delivered file -> rows of raw string values in a common layout.

Every reader returns the columns of :data:`RAW_COLUMNS`:

* ``_file_idx`` (int): position of the file in the batch being ingested;
* ``_pid`` / ``_idx`` (long): partition of the file's scan and index inside it; the driver turns
  them into the 1-based ``_row_number`` once partition sizes are known (no shuffle is needed
  to number rows);
* ``_malformed`` (string): why the row cannot be read at all (null when it can);
* ``_raw_text`` (string): the raw line / record when the format has one (CSV corrupt rows,
  JSON lines), else null;
* ``_raw`` (map<string, string>): delivered values as text, keyed by bronze column name.

Nothing is inferred: every value is read as a string, and typing is left to
:mod:`unification.ingest.rows`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification.ingest.contract import CsvDialect

RAW_COLUMNS: tuple[str, ...] = ("_file_idx", "_pid", "_idx", "_malformed", "_raw_text", "_raw")
RAW_MAP = T.MapType(T.StringType(), T.StringType())
_INDEX_MASK = (1 << 33) - 1
_CORRUPT = "_corrupt"
_BOM = "\ufeff"


def spark_path(path: str) -> str:
    """``path`` with Hadoop glob characters escaped, so that Spark reads exactly that file."""
    return re.sub(r"([\\*?\[\]{}])", r"\\\1", path)


def _with_position(df: DataFrame) -> DataFrame:
    # monotonically_increasing_id = partition index << 33 | record index in the partition;
    # evaluated in the file's own scan, so the partition index is local to the file.
    df = df.withColumn("_mid", F.monotonically_increasing_id())
    return df.withColumn("_pid", F.shiftright("_mid", 33)).withColumn(
        "_idx", F.col("_mid").bitwiseAND(F.lit(_INDEX_MASK))
    )


def _raw_map(names: Sequence[str], values: Sequence[Column]) -> Column:
    pairs: list[Column] = []
    for name, value in zip(names, values, strict=True):
        pairs.extend([F.lit(name), value])
    return F.create_map(*pairs) if pairs else F.create_map().cast(RAW_MAP)


def read_csv(
    spark: SparkSession,
    path: str,
    file_idx: int,
    names: Sequence[str],
    dialect: CsvDialect,
    *,
    header: Sequence[str] | None = None,
    truncated_row: int | None = None,
) -> DataFrame:
    """Read one CSV file as strings, positionally, with a corrupt-record column.

    Args:
        spark: the session.
        path: the file.
        file_idx: its position in the batch.
        names: bronze name of each delivered column, in file order.
        dialect: separator, quote, escape, encoding, header.
        header: the delivered header (rows equal to it are flagged as repeated headers).
        truncated_row: 0-based index of a last record that ends inside a quoted field.

    Returns:
        Rows in the :data:`RAW_COLUMNS` layout. Rows with a wrong number of fields or broken
        quoting are flagged ``_malformed`` with the raw record in ``_raw_text``.
    """
    positional = [f"_c{i}" for i in range(len(names))]
    schema = T.StructType(
        [T.StructField(c, T.StringType()) for c in positional]
        + [T.StructField(_CORRUPT, T.StringType())]
    )
    reader = spark.read.options(**dialect.spark_options).options(
        sep=dialect.sep,
        quote=dialect.quote,
        escape=dialect.escape,
        header="true" if dialect.header else "false",
        encoding=dialect.spark_charset or "UTF-8",
        multiLine="true",  # quoted newlines; one task per file, which numbering relies on
        mode="PERMISSIVE",
        columnNameOfCorruptRecord=_CORRUPT,
        enforceSchema="true",  # positional: names come from the driver's header match
        inferSchema="false",
    )
    if dialect.comment:
        reader = reader.option("comment", dialect.comment)
    df = _with_position(reader.schema(schema).csv(spark_path(path)))
    values = [F.col(c) for c in positional]
    if not dialect.header and values:
        values[0] = F.regexp_replace(values[0], f"^{_BOM}", "")
    # the most specific reason first: a truncated last row also has too few fields
    reasons: list[tuple[Column, str]] = []
    if truncated_row is not None:
        reasons.append(
            (
                F.col("_idx") == F.lit(truncated_row),
                "truncated last row: the file ends inside a quoted field",
            )
        )
    if header:
        same = [
            F.lower(F.coalesce(F.trim(v), F.lit("")))
            == F.lit(h.strip().lstrip(_BOM).strip().lower())
            for v, h in zip(values, header, strict=True)
        ]
        cond = same[0]
        for s in same[1:]:
            cond = cond & s
        reasons.append((cond, "row repeats the header"))
    reasons.append(
        (
            F.col(_CORRUPT).isNotNull(),
            f"malformed CSV row: wrong number of fields (the header has {len(names)}) "
            "or broken quoting",
        )
    )
    malformed = F.when(reasons[0][0], F.lit(reasons[0][1]))
    for cond, text in reasons[1:]:
        malformed = malformed.when(cond, F.lit(text))
    return df.select(
        F.lit(file_idx).alias("_file_idx"),
        "_pid",
        "_idx",
        malformed.alias("_malformed"),
        F.col(_CORRUPT).alias("_raw_text"),
        _raw_map(names, values).alias("_raw"),
    )


def read_jsonl(spark: SparkSession, path: str, file_idx: int) -> DataFrame:
    """Read one JSON lines file (UTF-8): each non-blank line is a record.

    Values are kept as text (numbers as written, nested objects and arrays as JSON). A line that
    is not a JSON object, holds something after the object (a second object, a trailing comma,
    ``NaN``), or repeats a field name, is flagged ``_malformed``.

    Returns:
        Rows in the :data:`RAW_COLUMNS` layout, ``_raw_text`` holding the line.
    """
    lines = spark.read.text(spark_path(path)).select(
        F.regexp_replace("value", f"^{_BOM}", "").alias("_line")
    )
    lines = _with_position(lines.filter(~F.col("_line").rlike(r"^\s*$")))
    parsed = F.from_json("_line", RAW_MAP)  # type: ignore[arg-type]  # maps are supported
    df = lines.select("_pid", "_idx", "_line", parsed.alias("_raw"))
    # from_json stops after the first JSON value of the line: anything after it (a second
    # record, a trailing comma) would be dropped silently. Inside brackets, the line must be an
    # array of exactly one element, and the line must end with the object's closing brace.
    single = F.json_array_length(F.concat(F.lit("["), F.col("_line"), F.lit("]"))) == F.lit(1)
    ends = F.regexp_replace("_line", r"\s+$", "").endswith("}")
    malformed = (
        F.when(F.col("_raw").isNull(), F.lit("malformed JSON record: not a valid JSON object"))
        .when(
            ~F.coalesce(single & ends, F.lit(False)),
            F.lit(
                "malformed JSON record: not exactly one JSON object (content after it, "
                "several records on one line, a trailing comma, NaN?)"
            ),
        )
        .when(
            F.size(F.array_distinct(F.map_keys("_raw"))) != F.size("_raw"),
            F.lit("malformed JSON record: a field name is repeated"),
        )
    )
    return df.select(
        F.lit(file_idx).alias("_file_idx"),
        "_pid",
        "_idx",
        malformed.alias("_malformed"),
        F.col("_line").alias("_raw_text"),
        "_raw",
    )


def read_parquet(
    spark: SparkSession, path: str, file_idx: int, delivered: Sequence[str], names: Sequence[str]
) -> DataFrame:
    """Read one Parquet file; every column is cast to text for checking.

    Args:
        spark: the session.
        path: the file.
        file_idx: its position in the batch.
        delivered: the file's column names.
        names: the bronze name of each delivered column.

    Returns:
        Rows in the :data:`RAW_COLUMNS` layout, numbered by the file's own row index.
    """
    df = spark.read.parquet(spark_path(path))
    values = [df[f"`{c}`"].cast("string") for c in delivered]
    return df.select(
        F.lit(file_idx).alias("_file_idx"),
        F.lit(0).cast("long").alias("_pid"),
        F.col("_metadata.row_index").cast("long").alias("_idx"),
        F.lit(None).cast("string").alias("_malformed"),
        F.lit(None).cast("string").alias("_raw_text"),
        _raw_map(names, values).alias("_raw"),
    )
