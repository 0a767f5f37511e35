"""File-level contract checks (pure Python, no Spark): columns, names, encodings, CSV dialect.

A source entity's contract (:class:`~unification.config.EntityConfig`) declares its columns,
their types, which are required and the key. This module decides, from a file's delivered column
names alone, whether the file can be ingested at all (:func:`match_columns`) and how delivered
names map onto bronze column names. Row-level checks are in :mod:`unification.ingest.rows`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from unification.config import EntityConfig
from unification.errors import ConfigError
from unification.schemas import BRONZE_META_COLUMNS

#: Characters Delta refuses in column names (without column mapping).
_DELTA_INVALID = set(" ,;{}()\n\t=")

#: Charsets Spark's CSV reader accepts without ``spark.sql.legacy.javaCharsets``.
SPARK_CHARSETS: dict[str, str] = {
    "utf-8": "UTF-8",
    "iso8859-1": "ISO-8859-1",
    "ascii": "US-ASCII",
    "utf-16": "UTF-16",
    "utf-16-be": "UTF-16BE",
    "utf-16-le": "UTF-16LE",
    "utf-32": "UTF-32",
}
#: Java names of other common charsets (usable with ``spark.sql.legacy.javaCharsets=true``).
_JAVA_CHARSETS: dict[str, str] = {
    "cp1252": "windows-1252",
    "cp1250": "windows-1250",
    "iso8859-15": "ISO-8859-15",
    "mac-roman": "x-MacRoman",
}
#: Encodings where any byte sequence decodes (a UTF-8 file declared with them goes unnoticed).
SINGLE_BYTE = {"iso8859-1", "iso8859-15", "cp1252", "cp1250", "mac-roman"}


@dataclass(frozen=True)
class CsvDialect:
    """The CSV dialect of an entity: what both Spark and the independent row counter use."""

    sep: str = ","
    quote: str = '"'
    escape: str = '"'
    header: bool = True
    encoding: str = "utf-8"  # Python codec name
    spark_charset: str | None = "UTF-8"  # None: Spark cannot read this encoding
    comment: str | None = None
    spark_options: dict[str, str] = field(default_factory=dict)

    @property
    def python_kwargs(self) -> dict[str, object]:
        """Keyword arguments of :func:`csv.reader` mirroring Spark's parsing."""
        if self.escape == self.quote:
            return {"delimiter": self.sep, "quotechar": self.quote, "doublequote": True}
        return {
            "delimiter": self.sep,
            "quotechar": self.quote,
            "doublequote": False,
            "escapechar": self.escape,
        }


#: Options this module manages itself; anything else is passed to Spark's reader unchanged.
_MANAGED_OPTIONS = {
    "sep",
    "delimiter",
    "quote",
    "escape",
    "header",
    "encoding",
    "charset",
    "comment",
    "mode",
    "multiline",
    "columnnameofcorruptrecord",
    "enforceschema",
    "inferschema",
}


def python_codec(name: str) -> str:
    """Normalised Python codec name of an encoding (``latin-1`` -> ``iso8859-1``).

    Raises:
        ValueError: the encoding is unknown.
    """
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise ValueError(f"unknown encoding {name!r}") from exc


def spark_charset(codec: str, legacy_java_charsets: bool = False) -> str | None:
    """Name of ``codec`` for Spark's CSV reader, or None when Spark cannot read it."""
    if codec in SPARK_CHARSETS:
        return SPARK_CHARSETS[codec]
    if legacy_java_charsets:
        return _JAVA_CHARSETS.get(codec, codec.upper())
    return None


def csv_dialect(options: dict[str, str], legacy_java_charsets: bool = False) -> CsvDialect:
    """Read an entity's ``options`` into a :class:`CsvDialect`.

    ``escape`` defaults to the quote character (RFC 4180 doubled quotes), not Spark's backslash.

    Raises:
        ValueError: an option value is invalid (unknown encoding, multi-character separator).
    """
    low = {k.lower(): v for k, v in options.items()}
    sep = low.get("sep", low.get("delimiter", ","))
    if sep == "\\t":
        sep = "\t"
    quote = low.get("quote", '"')
    escape = low.get("escape", quote)
    for name, value in (("sep", sep), ("quote", quote), ("escape", escape)):
        if len(value) != 1:
            raise ValueError(f"options.{name} must be a single character, got {value!r}")
    header = low.get("header", "true").strip().lower() not in ("false", "0", "no")
    codec = python_codec(low.get("encoding", low.get("charset", "utf-8")))
    comment = low.get("comment") or None
    passthrough = {k: v for k, v in options.items() if k.lower() not in _MANAGED_OPTIONS}
    return CsvDialect(
        sep=sep,
        quote=quote,
        escape=escape,
        header=header,
        encoding=codec,
        spark_charset=spark_charset(codec, legacy_java_charsets),
        comment=comment,
        spark_options=passthrough,
    )


def json_codec(options: dict[str, str]) -> str:
    """Python codec of a JSON lines entity (must be UTF-8: RFC 8259)."""
    low = {k.lower(): v for k, v in options.items()}
    return python_codec(low.get("encoding", low.get("charset", "utf-8")))


def sanitise_name(name: str, position: int) -> str:
    """A Delta-safe column name for an extra delivered column (``"Customer Notes"`` ->
    ``"Customer_Notes"``; empty -> ``"col_<position>"``)."""
    clean = re.sub(r"[^0-9A-Za-z_]+", "_", name.strip()).strip("_")
    if not clean:
        return f"col_{position}"
    if clean[0].isdigit() or clean.startswith("_"):
        clean = f"c_{clean}"
    return clean


def _norm(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()


@dataclass(frozen=True)
class ColumnMatch:
    """How a file's delivered columns map onto an entity's bronze columns.

    Attributes:
        targets: bronze name of each delivered column, in delivered order.
        extras: bronze names of delivered columns that are not in the contract.
        missing_optional: contract columns absent from the file (filled with null).
        error: why the whole file is rejected, or None.
    """

    targets: tuple[str, ...]
    extras: tuple[str, ...]
    missing_optional: tuple[str, ...]
    error: str | None = None


def _separator_hint(delivered: Sequence[str], sep: str | None) -> str:
    if sep is None or len(delivered) != 1:
        return ""
    found = [c for c in (",", ";", "\t", "|") if c != sep and c in delivered[0]]
    if not found:
        return ""
    shown = "\\t" if found[0] == "\t" else found[0]
    declared = "\\t" if sep == "\t" else sep
    return (
        f" (the header has a single column; it contains {shown!r}: wrong separator? "
        f"declared {declared!r})"
    )


def match_columns(
    delivered: Sequence[str],
    entity: EntityConfig,
    *,
    sep: str | None = None,
    case_sensitive: bool = False,
) -> ColumnMatch:
    """Match a file's column names against the contract.

    Names match case-insensitively (exactly with ``case_sensitive``, as for JSON field names),
    ignoring surrounding blanks and a byte order mark; matched columns take the contract's
    spelling. Unknown columns are kept under a Delta-safe name unless
    the contract sets ``allow_extra_columns: false``.

    The file is rejected (``error`` set) when a required or key column is missing, a name is
    delivered twice, or extra columns are not allowed.

    Args:
        delivered: the file's column names, in order (CSV header, Parquet schema, JSON keys).
        entity: the contract.
        sep: the declared CSV separator, used to hint at a wrong separator.
        case_sensitive: match names exactly.

    Returns:
        The mapping, or the reason the file is rejected.
    """
    norm = (lambda n: n) if case_sensitive else _norm
    by_norm = {norm(c.name): c.name for c in entity.columns}
    seen: dict[str, int] = {}
    dupes: list[str] = []
    targets: list[str] = []
    extras: list[str] = []
    taken = {n.lower() for n in by_norm.values()} | {m.lower() for m in BRONZE_META_COLUMNS}
    for pos, raw in enumerate(delivered):
        key = norm(raw)
        if key in seen and key:
            dupes.append(raw.strip())
        seen[key] = pos
        if key in by_norm:
            targets.append(by_norm[key])
            continue
        name = sanitise_name(raw.lstrip("\ufeff"), pos + 1)
        base, n = name, 2
        while name.lower() in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name.lower())
        targets.append(name)
        extras.append(name)
    present = set(targets)
    required = [c.name for c in entity.columns if c.required or c.name in entity.key]
    missing_required = [c for c in required if c not in present]
    missing_optional = [c.name for c in entity.columns if c.name not in present]
    missing_optional = [c for c in missing_optional if c not in missing_required]
    error = None
    if dupes:
        error = f"duplicate column(s) {sorted(set(dupes))} in header"
    elif missing_required:
        error = f"missing required column(s) {missing_required}" + _separator_hint(delivered, sep)
        if case_sensitive:
            near = [d for d in delivered if _norm(d) in {_norm(m) for m in missing_required}]
            if near:
                error += f" (delivered {near}: field names are case-sensitive)"
    elif extras and not entity.allow_extra_columns:
        unknown = [delivered[i].strip() for i, t in enumerate(targets) if t in extras]
        error = f"unexpected column(s) {unknown} (the contract sets allow_extra_columns: false)"
    return ColumnMatch(tuple(targets), tuple(extras), tuple(missing_optional), error)


def validate_contract(source: str, entity_name: str, entity: EntityConfig) -> None:
    """Check that the contract's column names can be bronze column names.

    Raises:
        ConfigError: a column name holds a character Delta refuses or starts with ``_``.
    """
    for col in entity.columns:
        bad = sorted(set(col.name) & _DELTA_INVALID)
        if bad or col.name.startswith("_"):
            raise ConfigError(
                f"sources {source}: entities.{entity_name}.columns: column name {col.name!r} "
                "cannot be a bronze column (no leading '_', none of ' ,;{}()=' tab newline)"
            )
