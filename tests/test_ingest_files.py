"""Driver-side ingestion checks (no Spark): contract matching, CSV dialect, file inspection."""

from __future__ import annotations

from pathlib import Path

import pytest

from unification.config import ColumnSpec, EntityConfig
from unification.errors import ConfigError
from unification.ingest.contract import (
    csv_dialect,
    match_columns,
    sanitise_name,
    spark_charset,
    validate_contract,
)
from unification.ingest.files import (
    FileProblem,
    check_declared_encoding,
    count_json_lines,
    digest,
    find_files,
    inspect_csv,
    inspect_parquet,
)


def _entity(allow_extra: bool = True) -> EntityConfig:
    return EntityConfig(
        path="x/*.csv",
        format="csv",
        key=["id"],
        columns=[
            ColumnSpec(name="id", type="int", required=True),
            ColumnSpec(name="email", required=True),
            ColumnSpec(name="city"),
        ],
        allow_extra_columns=allow_extra,
    )


def test_match_columns_is_case_insensitive_and_keeps_extras_under_safe_names() -> None:
    m = match_columns(["\ufeffID ", "Email", "Customer Notes", "_source"], _entity())
    assert m.error is None
    assert m.targets == ("id", "email", "Customer_Notes", "source")
    assert m.extras == ("Customer_Notes", "source")
    assert m.missing_optional == ("city",)


def test_match_columns_rejects_missing_required_with_separator_hint() -> None:
    m = match_columns(["id;email;city"], _entity(), sep=",")
    assert m.error is not None
    assert "missing required column(s) ['id', 'email']" in m.error
    assert "wrong separator" in m.error and "';'" in m.error


def test_match_columns_rejects_duplicates_and_unexpected_extras() -> None:
    dup = match_columns(["id", "email", "EMAIL"], _entity())
    assert dup.error is not None and "duplicate column" in dup.error
    strict = match_columns(["id", "email", "bonus"], _entity(allow_extra=False))
    assert strict.error is not None and "unexpected column(s) ['bonus']" in strict.error


def test_match_columns_json_is_case_sensitive() -> None:
    m = match_columns(["id", "Email"], _entity(), case_sensitive=True)
    assert m.error is not None
    assert "['email']" in m.error and "case-sensitive" in m.error


def test_sanitise_name_and_contract_validation() -> None:
    assert sanitise_name("  ", 3) == "col_3"
    assert sanitise_name("2nd phone", 1) == "c_2nd_phone"
    bad = EntityConfig(path="p", format="csv", columns=[ColumnSpec(name="first name")])
    with pytest.raises(ConfigError, match="first name"):
        validate_contract("shop", "customers", bad)


def test_csv_dialect_defaults_and_charsets() -> None:
    d = csv_dialect({"sep": ";", "encoding": "latin-1", "nullValue": "NULL"})
    assert (d.sep, d.quote, d.escape, d.header) == (";", '"', '"', True)
    assert d.encoding == "iso8859-1" and d.spark_charset == "ISO-8859-1"
    assert d.spark_options == {"nullValue": "NULL"}
    assert spark_charset("cp1252") is None
    assert spark_charset("cp1252", legacy_java_charsets=True) == "windows-1252"
    with pytest.raises(ValueError, match="single character"):
        csv_dialect({"sep": ";;"})


def test_inspect_csv_counts_records_not_lines(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text(
        '\ufeffid,email,city\n1,a@x,"Paris, 75"\n\n2,b@x,"two\nlines"\n3,"q ""x""",Lyon\n',
        encoding="utf-8",
    )
    facts = inspect_csv(str(f), csv_dialect({}), verify=True)
    assert facts.header == ("id", "email", "city")
    assert facts.rows == 3
    assert not facts.truncated


def test_inspect_csv_detects_truncated_last_row(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text('id,email,city\n1,a@x,Paris\n2,b@x,"Ly', encoding="utf-8")
    facts = inspect_csv(str(f), csv_dialect({}), verify=True)
    assert facts.rows == 2 and facts.truncated


def test_inspect_csv_header_only_and_no_header(tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_text("id,email,city\n", encoding="utf-8")
    assert inspect_csv(str(f), csv_dialect({}), verify=True).rows == 0
    blank = tmp_path / "blank.csv"
    blank.write_text("\n\n", encoding="utf-8")
    with pytest.raises(FileProblem, match="no header"):
        inspect_csv(str(blank), csv_dialect({}), verify=True)


def test_wrong_encoding_is_located(tmp_path: Path) -> None:
    f = tmp_path / "latin.csv"
    f.write_bytes("id,email,city\n1,a@x,Orléans\n".encode("latin-1"))
    with pytest.raises(FileProblem, match=r"cannot decode as utf-8: byte 0xe9 .*line 2"):
        inspect_csv(str(f), csv_dialect({}), verify=True)


def test_utf8_file_declared_latin1_is_rejected(tmp_path: Path) -> None:
    f = tmp_path / "utf8.csv"
    f.write_text("id;email;city\n1;a@x;Orléans\n", encoding="utf-8")
    dig = digest(str(f), check_utf8=True)
    assert dig.utf8_with_non_ascii
    with pytest.raises(FileProblem, match="valid UTF-8"):
        check_declared_encoding(dig, "iso8859-1")
    ascii_file = tmp_path / "ascii.csv"
    ascii_file.write_text("id;email;city\n1;a@x;Lyon\n", encoding="utf-8")
    check_declared_encoding(digest(str(ascii_file), check_utf8=True), "iso8859-1")


def test_digest_is_content_based(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(b"id\n1\n")
    b.write_bytes(b"id\n1\n")
    assert digest(str(a)).sha256 == digest(str(b)).sha256
    assert digest(str(a)).size == 5
    assert find_files(str(tmp_path), "*.csv") == [str(a), str(b)]


def test_count_json_lines_skips_blank_lines(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_text('\ufeff{"a": 1}\n\n  \n{"a": 2}\r\n{"a": 3}', encoding="utf-8")
    assert count_json_lines(str(f), "utf-8") == 3


def test_inspect_parquet_rejects_garbage(tmp_path: Path) -> None:
    f = tmp_path / "bad.parquet"
    f.write_bytes(b"not parquet at all")
    with pytest.raises(FileProblem, match="not a readable Parquet file"):
        inspect_parquet(str(f))


def test_settings_validate_decimal_type() -> None:
    from pydantic import ValidationError

    from unification.ingest.settings import IngestSettings

    assert IngestSettings().decimal_scale == 10
    with pytest.raises(ValidationError, match="decimal_scale"):
        IngestSettings(decimal_precision=10, decimal_scale=12)
