"""Property-based tests (hypothesis): arbitrary Unicode, empty strings, very long values and
nulls never crash the standardisers, the ingest typing, the contract parser or the file
inspection.

Spark properties evaluate a whole generated batch of values in one DataFrame (one Spark job per
example) and keep ``max_examples`` small; the pure-Python properties run many examples.
"""

from __future__ import annotations

import re
import string
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification.config import ColumnSpec, EntityConfig
from unification.errors import ConfigError
from unification.ingest.contract import (
    csv_dialect,
    json_codec,
    match_columns,
    sanitise_name,
    validate_contract,
)
from unification.ingest.files import (
    FileProblem,
    count_json_lines,
    count_physical_rows,
    digest,
    inspect_csv,
)
from unification.schemas import BRONZE_META_COLUMNS
from unification.standardise import columns as C
from unification.standardise.settings import StandardiseSettings

# --------------------------------------------------------------------------- strategies
#: Any character a decoded file can hold (lone surrogates cannot come out of a decoder).
CHARS = st.characters(blacklist_categories=("Cs",))
NASTY = [
    "",
    " ",
    "\t\n\r",
    "\x00",
    "\u200b",  # zero-width space
    "\ufeff",
    "ﬁ",
    "İ",
    "ß",
    "Ǆ",
    "👩‍👩‍👧",
    "مرحبا",
    "１２３",
    "٣٤٥",
    "+",
    "@",
    "@@",
    "a@b",
    "00",
    "0" * 40,
    "9" * 400,
    "+33 6 12 34 56 78",
    "mailto:<A@B.FR>",
    "31/02/1990",
    "9999-99-99",
    "-1",
    "1e400",
    "NaN",
    "'; DROP TABLE x; --",
    "\\",
    "(",
    "[",
    "$1",
    "é" * 5000,
]
TEXT = st.one_of(
    st.none(),
    st.text(CHARS, max_size=40),
    st.text(string.printable, max_size=40),
    st.sampled_from(NASTY),
    st.text(CHARS, min_size=2000, max_size=4000),  # very long values
)
BATCH = st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=40)
SPARK_SETTINGS = settings(
    max_examples=3,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PY_SETTINGS = settings(max_examples=300, deadline=None, database=None)

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


# --------------------------------------------------------------------------- standardisers
def _standardise(spark: SparkSession, values: list[tuple[str | None, str | None]]) -> list[Any]:
    """Every Column -> Column cleaner over the values, in one select and one Spark job."""
    s = StandardiseSettings()
    n = s.names
    df = spark.createDataFrame(values, "v string, w string")
    v, w = F.col("v"), F.col("w")
    out = df.select(
        "v",
        "w",
        C.blank_to_null(v).alias("blank_to_null"),
        C.fold(v).alias("fold"),
        C.null_placeholders(v, s.placeholder_values, s.placeholder_patterns).alias("placeholder"),
        C.strip_titles(v, n.titles).alias("strip_titles"),
        C.title_gender(v, n.female_titles, n.male_titles).alias("title_gender"),
        C.clean_name(v, n.titles, n.particles).alias("clean_name"),
        C.name_key(v, n.titles).alias("name_key"),
        C.name_core_key(v, n.particles, n.titles).alias("name_core_key"),
        C.clean_gender(v).alias("gender"),
        C.email_raw(v).alias("email_raw"),
        C.normalise_email(v, s.email).alias("email"),
        C.phone_e164(v, F.lit("FR"), "possible").alias("phone"),
        C.parse_phone(v, w, "valid").alias("phone_struct"),
        C.parse_date(v, s.birth_date.formats).alias("date"),
        C.plausible_birth_date(
            C.parse_date(v, s.birth_date.formats), s.birth_date, F.lit(date(2026, 1, 1))
        ).alias("birth_date"),
        C.afnor_text(v).alias("afnor"),
        C.clean_address_line(v, s.address).alias("address"),
        C.clean_city(v, s.address).alias("city"),
        C.clean_country(v, s.country_aliases).alias("country"),
        C.clean_postal_code(v, F.lit("FR"), s.address).alias("postal_code"),
        C.clean_postal_code(v, C.clean_country(w, s.country_aliases), s.address).alias("pc2"),
        C.postal_code_is_valid(
            C.clean_postal_code(v, F.lit("FR"), s.address), F.lit("FR"), s.address
        ).alias("postal_code_ok"),
        C.clean_identifier(v).alias("identifier"),
    )
    return out.collect()


def _check_standardised(values: list[tuple[str | None, str | None]], rows: list[Any]) -> None:
    assert len(rows) == len(values)
    for r in rows:
        v = r["v"]
        if v is None or not v.strip():
            for name in ("blank_to_null", "clean_name", "name_key", "email", "phone", "date"):
                assert r[name] is None, (name, v)
            for name in ("address", "city", "country", "postal_code", "identifier"):
                assert r[name] is None, (name, v)
        if r["fold"] is not None:
            assert r["fold"].isascii() or r["fold"] == v
        assert r["phone"] is None or _E164.match(r["phone"]), r["phone"]
        assert r["country"] is None or re.fullmatch(r"[A-Z]{2}", r["country"])
        assert r["identifier"] is None or re.fullmatch(r"[0-9A-Z]+", r["identifier"])
        assert r["afnor"] is None or re.fullmatch(r" ?[A-Z0-9]+( [A-Z0-9]+)* ?", r["afnor"])
        assert r["email"] is None or "@" in r["email"]
        assert r["name_key"] is None or r["name_key"] == r["name_key"].lower()
        assert r["gender"] in (None, "F", "M")
        if r["birth_date"] is not None:
            assert r["birth_date"] == r["date"]


def test_standardisers_on_nasty_values(spark: SparkSession) -> None:
    # ANSI mode (Spark 4's default) makes a failing cast raise instead of giving null
    values = [(v, w) for v in [*NASTY, None] for w in ("FR", None)]
    spark.conf.set("spark.sql.ansi.enabled", "true")
    try:
        _check_standardised(values, _standardise(spark, values))
    finally:
        spark.conf.unset("spark.sql.ansi.enabled")


@SPARK_SETTINGS
@given(values=BATCH)
def test_standardisers_never_crash(_spark_session: SparkSession, values: list[Any]) -> None:
    _check_standardised(values, _standardise(_spark_session, values))


# --------------------------------------------------------------------------- ingest typing
TYPED = [
    ColumnSpec(name="s", type="string", required=True),
    ColumnSpec(name="i", type="int"),
    ColumnSpec(name="l", type="long"),
    ColumnSpec(name="d", type="double"),
    ColumnSpec(name="m", type="decimal"),
    ColumnSpec(name="b", type="boolean"),
    ColumnSpec(name="dt", type="date", format="dd/MM/yyyy|yyyyMMdd"),
    ColumnSpec(name="ts", type="timestamp", format="dd/MM/yyyy HH:mm:ss"),
    ColumnSpec(name="iso", type="timestamp"),
]


@SPARK_SETTINGS
@given(values=st.lists(st.lists(TEXT, min_size=len(TYPED), max_size=len(TYPED)), max_size=30))
def test_ingest_typing_never_crashes(_spark_session: SparkSession, values: list[Any]) -> None:
    from unification.ingest.readers import RAW_MAP
    from unification.ingest.rows import classify_rows

    entity = EntityConfig(path="x", format="csv", key=["s"], columns=TYPED)
    rows = [
        (0, 0, i, None, None, {c.name: v for c, v in zip(TYPED, vals, strict=True)})
        for i, vals in enumerate(values)
    ]
    schema = T.StructType(
        [
            T.StructField("_file_idx", T.IntegerType()),
            T.StructField("_pid", T.LongType()),
            T.StructField("_idx", T.LongType()),
            T.StructField("_malformed", T.StringType()),
            T.StructField("_raw_text", T.StringType()),
            T.StructField("_raw", RAW_MAP),
        ]
    )
    df = _spark_session.createDataFrame(rows, schema)
    out = df.transform(classify_rows(entity)).select("_idx", "_reason", "_kind").collect()
    assert len(out) == len(values)
    for r in out:
        vals = values[r["_idx"]]
        assert (r["_reason"] == "") == (r["_kind"] is None)
        if vals[0] is None or not vals[0].strip():
            assert r["_kind"] == "missing_value"


# --------------------------------------------------------------------------- contract parser
NAME = st.one_of(st.text(CHARS, max_size=30), st.sampled_from(NASTY[:20]), st.just("email"))
COLUMNS = [
    ColumnSpec(name="id", type="int", required=True),
    ColumnSpec(name="email", required=True),
    ColumnSpec(name="city"),
    ColumnSpec(name="Loyalty_Tier"),
]
_SAFE = re.compile(r"[A-Za-z][0-9A-Za-z_]*")


@PY_SETTINGS
@given(name=st.text(CHARS, max_size=60), position=st.integers(1, 10_000))
def test_sanitise_name_gives_a_delta_safe_name(name: str, position: int) -> None:
    clean = sanitise_name(name, position)
    assert _SAFE.fullmatch(clean), clean


@PY_SETTINGS
@given(
    delivered=st.lists(NAME, max_size=12),
    allow_extra=st.booleans(),
    sep=st.sampled_from([",", ";", "\t", "|", None]),
    case_sensitive=st.booleans(),
)
def test_match_columns_never_crashes_and_names_are_unique(
    delivered: list[str], allow_extra: bool, sep: str | None, case_sensitive: bool
) -> None:
    entity = EntityConfig(
        path="x", format="csv", key=["id"], columns=COLUMNS, allow_extra_columns=allow_extra
    )
    m = match_columns(delivered, entity, sep=sep, case_sensitive=case_sensitive)
    assert len(m.targets) == len(delivered)
    if m.error is None:
        lowered = [t.lower() for t in m.targets]
        assert len(set(lowered)) == len(lowered), m.targets  # Delta names are case-insensitive
        assert {"id", "email"} <= set(m.targets)
        meta = {c.lower() for c in BRONZE_META_COLUMNS}
        for t in m.extras:
            assert _SAFE.fullmatch(t) and t.lower() not in meta, t
        if not allow_extra:
            assert not m.extras
    else:
        assert m.error.strip()


OPTION_KEYS = st.sampled_from(
    ["sep", "delimiter", "quote", "escape", "header", "encoding", "charset", "comment", "x"]
)


@PY_SETTINGS
@given(options=st.dictionaries(OPTION_KEYS, st.text(CHARS, max_size=12), max_size=6))
def test_dialect_options_parse_or_raise_value_error(options: dict[str, str]) -> None:
    try:
        d = csv_dialect(options)
    except ValueError:
        pass
    else:
        assert len(d.sep) == len(d.quote) == len(d.escape) == 1
    try:
        json_codec(options)
    except ValueError:
        pass


@PY_SETTINGS
@given(names=st.lists(st.text(CHARS, min_size=1, max_size=20), min_size=1, max_size=5, unique=True))
def test_contract_validation_raises_only_config_errors(names: list[str]) -> None:
    entity = EntityConfig(path="x", format="csv", columns=[ColumnSpec(name=n) for n in names])
    try:
        validate_contract("src", "ent", entity)
    except ConfigError as exc:
        assert "src" in str(exc)


@PY_SETTINGS
@given(
    yaml_text=st.one_of(
        st.text(CHARS, max_size=300), st.sampled_from(["", "[]", "a: [", "name: x\nentities: 3"])
    )
)
def test_source_file_parser_raises_only_config_errors(yaml_text: str) -> None:
    from unification.config import load_source

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "src.yml"
        path.write_text(yaml_text, encoding="utf-8")
        try:
            load_source(path)
        except ConfigError as exc:
            assert str(path) in str(exc)


# --------------------------------------------------------------------------- file inspection
CONTENT = st.one_of(
    st.binary(max_size=400),
    st.text(CHARS, max_size=200).map(lambda t: t.encode("utf-8")),
    st.lists(
        st.lists(st.text(CHARS.filter(lambda c: c not in "\r\n"), max_size=8), max_size=4),
        max_size=6,
    ).map(lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8")),
    st.text(string.printable, max_size=300).map(lambda t: t.encode("latin-1")),
)


@PY_SETTINGS
@given(
    content=CONTENT,
    options=st.sampled_from(
        [{}, {"sep": ";", "encoding": "latin-1"}, {"escape": "\\"}, {"header": "false"}]
    ),
)
def test_file_inspection_rejects_or_counts(content: bytes, options: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.csv"
        path.write_bytes(content)
        dialect = csv_dialect(options)
        dig = digest(str(path), check_utf8=True)
        assert dig.size == len(content)
        try:
            facts = inspect_csv(str(path), dialect, verify=True)
        except FileProblem as exc:
            assert str(exc)
        else:
            assert facts.rows is not None and facts.rows >= 0
        try:
            assert count_json_lines(str(path), "utf-8") >= 0
        except FileProblem as exc:
            assert "cannot decode" in str(exc)
        physical = count_physical_rows(str(path), header=True)
        assert 0 <= physical <= content.count(b"\n") + 1
