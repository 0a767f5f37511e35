"""Driver-side inspection of delivered files: checksum, encoding, header and an independent row
count.

Everything here reads the file with plain Python, independently of Spark's parsers, so that a
parser that silently drops or merges records is caught by the reconciliation
``rows read = rows accepted + rows quarantined``:

* CSV: records counted by Python's :mod:`csv` with the same dialect (quotes, separators and
  newlines inside quoted fields), blank lines excluded, header excluded;
* JSON lines: non-blank lines;
* Parquet: ``num_rows`` of the file footer.

Files must be readable by the driver as local paths (a local folder, ``/dbfs/...`` or
``/Volumes/...`` on Databricks).
"""

from __future__ import annotations

import codecs
import csv
import glob
import hashlib
import io
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from unification.ingest.contract import SINGLE_BYTE, CsvDialect

_CHUNK = 1 << 20
#: Bytes that are C1 control characters in latin-1: never text, but letters in windows-1252.
_C1 = re.compile(rb"[\x80-\x9f]")
#: Encodings where bytes 0x80-0x9f are control characters.
_C1_CONTROL_CODECS = {"iso8859-1", "iso8859-15"}
#: What a blank physical line may hold (rows read of a rejected file).
_BLANK_BYTES = b" \t\r\n\x0b\x0c\x00"
#: Whitespace as Java's regex ``\s`` (what Spark's side uses to drop blank lines).
_JAVA_WS = " \t\n\x0b\f\r"


class FileProblem(Exception):
    """A file cannot be ingested as a whole; the message is the reason recorded in _batches.

    Attributes:
        rows: the file's data records when they could be counted before the problem was found
            (None: :func:`count_physical_rows` gives the rows read of the rejected file).
    """

    def __init__(self, message: str, rows: int | None = None) -> None:
        super().__init__(message)
        self.rows = rows


@dataclass(frozen=True)
class FileDigest:
    """Checksum and size of a file."""

    path: str
    sha256: str
    size: int
    utf8_with_non_ascii: bool  # only computed for single-byte encodings
    c1_controls: bool = False  # holds bytes 0x80-0x9f (only computed for single-byte encodings)


@dataclass(frozen=True)
class CsvFacts:
    """What the driver learnt about a CSV file."""

    header: tuple[str, ...] | None  # None when the contract says header: false
    rows: int | None  # data records, None when not verified
    truncated: bool  # the file ends inside a quoted field


def find_files(data_root: str, pattern: str) -> list[str]:
    """Absolute paths of the files matching ``pattern`` (relative to ``data_root``), sorted."""
    full = pattern if os.path.isabs(pattern) else os.path.join(data_root, pattern)
    return sorted(os.path.abspath(p) for p in glob.glob(full, recursive=True) if os.path.isfile(p))


def digest(path: str, check_utf8: bool = False) -> FileDigest:
    """sha256 and size of a file; with ``check_utf8`` (a single-byte encoding is declared), also
    whether it is non-ASCII valid UTF-8 and whether it holds C1 control bytes (0x80-0x9f)."""
    sha = hashlib.sha256()
    size = 0
    decoder = codecs.getincrementaldecoder("utf-8")() if check_utf8 else None
    non_ascii = c1 = False
    valid = True
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
            if decoder is not None and not chunk.isascii():
                non_ascii = True
                c1 = c1 or _C1.search(chunk) is not None
            if decoder is not None and valid:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    valid = False
    if decoder is not None and valid:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            valid = False
    return FileDigest(path, sha.hexdigest(), size, bool(decoder and valid and non_ascii), c1)


def _decode_error(path: str, codec: str, exc: UnicodeDecodeError) -> FileProblem:
    """Locate a decoding error in the file (byte offset and line) for a clear message."""
    data = open(path, "rb").read()
    try:
        data.decode(codec)
        offset, bad = exc.start, exc.object[exc.start : exc.start + 1]
    except UnicodeDecodeError as full:
        offset, bad = full.start, data[full.start : full.start + 1]
    line = data[:offset].count(b"\n") + 1
    hint = " (latin-1 / ISO-8859-1?)" if codec.startswith("utf") else ""
    return FileProblem(
        f"cannot decode as {codec}: byte 0x{bad.hex()} at offset {offset} (line {line}): "
        f"wrong encoding? declare options.encoding{hint}"
    )


def check_declared_encoding(dig: FileDigest, codec: str) -> None:
    """Reject a file whose bytes contradict its declared single-byte encoding (it would decode
    as mojibake): a UTF-8 file, or a windows-1252 file declared latin-1.

    Raises:
        FileProblem: the file is valid UTF-8 with non-ASCII characters but declared ``codec``,
            or holds C1 control bytes (0x80-0x9f) but is declared latin-1 / latin-9.
    """
    if codec in SINGLE_BYTE and dig.utf8_with_non_ascii:
        raise FileProblem(
            f"declared encoding {codec} but the file is valid UTF-8 with non-ASCII characters: "
            "wrong encoding? (declare options.encoding: UTF-8)"
        )
    if codec in _C1_CONTROL_CODECS and dig.c1_controls:
        raise FileProblem(
            f"declared encoding {codec} but the file holds bytes 0x80-0x9f, control characters "
            "in that encoding: windows-1252? (declare options.encoding: windows-1252, with "
            "spark.sql.legacy.javaCharsets=true)"
        )


def _text(path: str, codec: str) -> io.TextIOWrapper:
    # utf-8-sig drops a leading byte order mark, as the header must not carry it
    enc = "utf-8-sig" if codec == "utf-8" else codec
    return open(path, encoding=enc, errors="strict", newline="")


@contextmanager
def _large_fields() -> Iterator[None]:
    old = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def inspect_csv(path: str, dialect: CsvDialect, verify: bool) -> CsvFacts:
    """Read a CSV file's header and (with ``verify``) count its data records strictly decoded.

    Raises:
        FileProblem: the file cannot be decoded with the declared encoding, or has no header.
    """
    kwargs = dialect.python_kwargs
    try:
        with _large_fields(), _text(path, dialect.encoding) as fh:
            if not verify:
                header = next(csv.reader(fh, **kwargs), None)  # type: ignore[arg-type]
                if dialect.header and header is None:
                    raise FileProblem("no header line")
                _check_header(tuple(header) if dialect.header and header else None)
                return CsvFacts(tuple(header) if dialect.header and header else None, None, False)
            pending: list[str] = []
            last: list[str] = []

            def lines() -> Iterator[str]:
                for line in fh:
                    pending.append(line)
                    yield line

            reader = csv.reader(lines(), **kwargs)  # type: ignore[arg-type]
            found: tuple[str, ...] | None = None
            rows = 0
            for record in reader:
                last = pending[:]
                pending.clear()
                if not record:  # blank line
                    continue
                if dialect.header and found is None:
                    found = tuple(record)
                    continue
                if dialect.comment and record[0].startswith(dialect.comment):
                    continue
                rows += 1
    except UnicodeDecodeError as exc:
        raise _decode_error(path, dialect.encoding, exc) from exc
    if dialect.header and found is None:
        raise FileProblem("no header line")
    _check_header(found)
    truncated = rows > 0 and _ends_inside_quotes("".join(last), kwargs)
    return CsvFacts(found, rows, truncated)


def _check_header(header: tuple[str, ...] | None) -> None:
    if header is not None and not any(name.strip().lstrip("\ufeff") for name in header):
        raise FileProblem("no header line: the first non-empty line holds only blanks")


def _ends_inside_quotes(record_text: str, kwargs: dict[str, object]) -> bool:
    """Whether the last record of a file stops inside a quoted field (file cut short)."""
    try:
        list(csv.reader(io.StringIO(record_text), strict=True, **kwargs))  # type: ignore[arg-type]
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def count_json_lines(path: str, codec: str) -> int:
    """Number of non-blank lines of a JSON lines file, strictly decoded.

    Raises:
        FileProblem: the file cannot be decoded.
    """
    try:
        with _text(path, codec) as fh:
            return sum(1 for line in fh if line.strip(_JAVA_WS))
    except UnicodeDecodeError as exc:
        raise _decode_error(path, codec, exc) from exc


def inspect_parquet(path: str) -> tuple[tuple[str, ...], int]:
    """Column names and row count of a Parquet file, from its footer.

    Raises:
        FileProblem: the file is not readable Parquet.
    """
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path)
        return tuple(meta.schema_arrow.names), int(meta.metadata.num_rows)
    except Exception as exc:  # any reader error means "not Parquet"
        raise FileProblem(f"not a readable Parquet file: {exc}") from exc


def count_physical_rows(path: str, header: bool) -> int:
    """Rows read of a file rejected before its records could be counted (it does not decode or
    parse): its non-blank physical lines (bytes split at ``\\n``, lines holding only whitespace
    or NUL bytes ignored), minus the header line when ``header``.
    """
    lines = 0
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            parts = (tail + chunk).split(b"\n")
            tail = parts.pop()
            lines += sum(1 for p in parts if p.strip(_BLANK_BYTES))
    if tail.strip(_BLANK_BYTES):
        lines += 1
    return max(lines - 1, 0) if header else lines
