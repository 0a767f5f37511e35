"""The bad-input catalogue (docs/RELIABILITY.md), each case through the real ingest stage.

Every case is one small file with its expected fate: *accepted* (bad rows quarantined with a
reason), *rejected* as a whole (a clear error naming the file and the problem, nothing written),
or *skipped* (a re-delivery). All cases live in one lakehouse and are ingested by one
``run_ingest`` call, a few entities (one per contract) holding many files each, so that Spark
reads each entity once. Then the module checks, for every file, the outcome, the reasons and the
reconciliation ``rows read = rows accepted + rows quarantined`` against the rows really present
in bronze and ``_quarantine``, and that rejected files change no table. A second delivery adds
rejected files and a renamed copy (no table changes), a third one evolves a schema.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from unification.config import AppConfig, ColumnSpec, EntityConfig, LakehouseConfig, SourceConfig
from unification.errors import ContractError
from unification.ingest import run_ingest
from unification.ingest.settings import IngestSettings
from unification.lakehouse import Lakehouse

SOURCE = "bad"

# --------------------------------------------------------------------------- contracts
CUSTOMERS = EntityConfig(
    path="customers/*",
    format="csv",
    key=["customer_id"],
    columns=[
        ColumnSpec(name="customer_id", required=True),
        ColumnSpec(name="email", required=True),
        ColumnSpec(name="city"),
        ColumnSpec(name="birth_date", type="date", format="dd/MM/yyyy"),
        ColumnSpec(name="score", type="double"),
        ColumnSpec(name="updated_at", type="timestamp", format="yyyy-MM-dd HH:mm:ss"),
    ],
)
MEMBERS = EntityConfig(
    path="members/*",
    format="csv",
    options={"sep": ";", "encoding": "ISO-8859-1"},
    key=["NUM_CARTE"],
    columns=[
        ColumnSpec(name="NUM_CARTE", required=True),
        ColumnSpec(name="NOM"),
        ColumnSpec(name="VILLE"),
        ColumnSpec(name="DATE_MAJ", type="timestamp", format="dd/MM/yyyy HH:mm:ss"),
    ],
)
EVENTS = EntityConfig(
    path="events/*",
    format="json",
    key=["event_id"],
    columns=[
        ColumnSpec(name="event_id", required=True),
        ColumnSpec(name="customer_id", required=True),
        ColumnSpec(name="qty", type="int"),
        ColumnSpec(name="ts", type="timestamp", format="yyyy-MM-dd'T'HH:mm:ss"),
    ],
)
TICKETS = EntityConfig(
    path="tickets/*",
    format="parquet",
    key=["ticket_id"],
    columns=[
        ColumnSpec(name="ticket_id", required=True),
        ColumnSpec(name="amount", type="double", required=True),
        ColumnSpec(name="qty", type="int"),
    ],
)
STRICT = EntityConfig(
    path="strict/*",
    format="csv",
    key=["id"],
    allow_extra_columns=False,
    columns=[ColumnSpec(name="id", required=True), ColumnSpec(name="email", required=True)],
)
ACCOUNTS = EntityConfig(
    path="accounts/*",
    format="csv",
    key=["account_id"],
    columns=[
        ColumnSpec(name="account_id", required=True),
        ColumnSpec(name="email", required=True),
        ColumnSpec(name="city"),
    ],
)
ENTITIES = {
    "customers": CUSTOMERS,
    "members": MEMBERS,
    "events": EVENTS,
    "tickets": TICKETS,
    "strict": STRICT,
    "accounts": ACCOUNTS,
}

# --------------------------------------------------------------------------- file builders
HEADER = "customer_id,email,city,birth_date,score,updated_at"


def _row(cid: str, city: str = "Lyon", birth: str = "15/01/1990", score: str = "1.5") -> str:
    return f"{cid},{cid}@x.fr,{city},{birth},{score},2024-01-02 10:00:00"


def _csv(*rows: str, header: str = HEADER, nl: str = "\n", end: bool = True) -> bytes:
    text = nl.join([header, *rows]) + (nl if end else "")
    return text.encode("utf-8")


def _parquet(columns: dict[str, list[Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf)
    return buf.getvalue()


GOOD = _csv(_row("g1"), _row("g2"), _row("g3"))
MEMBERS_LATIN1 = (
    "NUM_CARTE;NOM;VILLE;DATE_MAJ\n"
    "0042;Lefèvre;Orléans;03/06/2025 14:23:19\n"
    "0043;Müller;Besançon;04/06/2025 09:00:00\n"
)


@dataclass(frozen=True)
class Case:
    """One catalogue entry: a delivered file and what must happen to it."""

    id: str
    entity: str
    file: str
    content: bytes | Callable[[], bytes]
    outcome: str  # accepted | rejected | skipped
    accepted: int = 0
    quarantined: int = 0
    reasons: tuple[str, ...] = ()  # substrings of the quarantine reasons / the rejection
    rows_read: int | None = None  # of a rejected file (see docs/RELIABILITY.md)

    def data(self) -> bytes:
        return self.content() if callable(self.content) else self.content


CASES: list[Case] = [
    # ---- CSV, UTF-8, ','
    Case("clean file", "customers", "c01_clean.csv", GOOD, "accepted", 3),
    Case(
        "same file delivered twice under another name",
        "customers",
        "c02_clean_renamed.csv",
        GOOD,
        "skipped",
        reasons=("same content as",),
    ),
    Case(
        "UTF-8 byte order mark",
        "customers",
        "c03_bom.csv",
        b"\xef\xbb\xbf" + _csv(_row("bom1"), _row("bom2")),
        "accepted",
        2,
    ),
    Case(
        "Windows line endings (CRLF)",
        "customers",
        "c04_crlf.csv",
        _csv(_row("crlf1"), _row("crlf2"), nl="\r\n"),
        "accepted",
        2,
    ),
    Case(
        "quoted separators, quotes and newlines inside fields",
        "customers",
        "c05_quoted.csv",
        _csv(
            '"q1","q1@x.fr","Paris, 75",15/01/1990,1.5,2024-01-02 10:00:00',
            'q2,q2@x.fr,"Saint-Malo\nquai ""Est""",15/01/1990,,2024-01-02 10:00:00',
        ),
        "accepted",
        2,
    ),
    Case(
        "truncated last line, inside a quoted field",
        "customers",
        "c06_truncated_quote.csv",
        _csv(_row("tq1"), _row("tq2"), 'tq3,tq3@x.fr,"Ly', end=False),
        "accepted",
        2,
        1,
        ("truncated last row: the file ends inside a quoted field",),
    ),
    Case(
        "truncated last line, fields missing",
        "customers",
        "c07_truncated_fields.csv",
        _csv(_row("tf1"), _row("tf2"), "tf3,tf3@x.fr,Ly", end=False),
        "accepted",
        2,
        1,
        ("malformed CSV row: wrong number of fields (the header has 6)",),
    ),
    Case("empty file (0 bytes)", "customers", "c08_empty.csv", b"", "accepted"),
    Case("header only", "customers", "c09_header_only.csv", _csv(), "accepted"),
    Case(
        "blank lines only (no header)",
        "customers",
        "c10_blank.csv",
        b"\n\n  \n",
        "rejected",
        reasons=("no header line",),
        rows_read=0,
    ),
    Case(
        "missing required column",
        "customers",
        "c11_missing_required.csv",
        _csv("m1,Lyon", "m2,Nice", header="customer_id,city"),
        "rejected",
        reasons=("missing required column(s) ['email']",),
        rows_read=2,
    ),
    Case(
        "extra unknown columns",
        "customers",
        "c12_extra_columns.csv",
        _csv(_row("x1") + ",gold,hello", _row("x2") + ",,", header=HEADER + ",Loyalty Tier,note"),
        "accepted",
        2,
    ),
    Case(
        "columns reordered, names in another case",
        "customers",
        "c13_reordered.csv",
        _csv(
            "Lyon,r1@x.fr,r1,2024-01-02 10:00:00,15/01/1990,2",
            header=" CITY ,Email,Customer_ID,updated_at,birth_date,SCORE",
        ),
        "accepted",
        1,
    ),
    Case(
        "wrong types",
        "customers",
        "c14_wrong_types.csv",
        _csv(
            _row("w1"),
            _row("w2", score="abc"),
            _row("w3", score="1,5").replace("1,5", '"1,5"'),
            "w4,w4@x.fr,Lyon,15/01/1990,2,yesterday",
        ),
        "accepted",
        1,
        3,
        (
            "cannot parse 'abc' as double in column score",
            "cannot parse '1,5' as double in column score",
            "cannot parse 'yesterday' as timestamp in column updated_at",
        ),
    ),
    Case(
        "dates in a foreign format",
        "customers",
        "c15_foreign_dates.csv",
        _csv(
            _row("fd1", birth="1990-01-15"),  # ISO is always understood
            _row("fd2", birth="01/31/1990"),  # US month first
            _row("fd3", birth="15 janv. 1990"),
            _row("fd4", birth="1990/01/15"),
            _row("fd5", birth="31/02/1990"),  # impossible date
        ),
        "accepted",
        1,
        4,
        (
            "cannot parse '01/31/1990' as date in column birth_date (format dd/MM/yyyy)",
            "cannot parse '15 janv. 1990' as date",
            "cannot parse '1990/01/15' as date",
            "cannot parse '31/02/1990' as date",
        ),
    ),
    Case(
        "duplicate keys inside a file",
        "customers",
        "c16_duplicate_keys.csv",
        _csv(
            _row("dk1", score="bad"),  # invalid: does not hide the later valid row
            _row("dk1"),
            _row("dk2"),
            _row("dk1", city="Nice"),
        ),
        "accepted",
        2,
        2,
        ("duplicate key customer_id=dk1 in file (first at row 2)", "as double in column score"),
    ),
    Case(
        "missing required values",
        "customers",
        "c17_missing_values.csv",
        _csv(_row("mv1"), "mv2,,Lyon,,,", ",mv3@x.fr,Lyon,,,", " ,  ,Lyon,,,"),
        "accepted",
        1,
        3,
        (
            "missing required column value: email",
            "missing required column value: customer_id",
        ),
    ),
    Case(
        "rows with too many or too few fields",
        "customers",
        "c18_ragged.csv",
        _csv(_row("rg1"), _row("rg2") + ",extra", "rg3,rg3@x.fr", _row("rg4")),
        "accepted",
        2,
        2,
        ("malformed CSV row: wrong number of fields",),
    ),
    Case(
        "header repeated inside the file (concatenated exports)",
        "customers",
        "c19_repeated_header.csv",
        _csv(_row("rh1"), HEADER, _row("rh2")),
        "accepted",
        2,
        1,
        ("row repeats the header",),
    ),
    Case(
        "quote opened and never closed (swallows the rest of the file)",
        "customers",
        "c20_unclosed_quote.csv",
        _csv(_row("uq1"), 'uq2,uq2@x.fr,"Lyon,15/01/1990,1,x', _row("uq3"), _row("uq4")),
        "accepted",
        1,
        1,
        ("truncated last row",),
    ),
    Case(
        "blank lines between records, no final newline",
        "customers",
        "c21_blank_lines.csv",
        _csv("", _row("bl1"), "", "", _row("bl2"), end=False),
        "accepted",
        2,
    ),
    Case(
        "very long value (1 MB)",
        "customers",
        "c22_long_value.csv",
        lambda: _csv(_row("lv1", city="L" * 1_000_000), _row("lv2")),
        "accepted",
        2,
    ),
    Case(
        "NUL byte and control characters inside a field",
        "customers",
        "c23_nul.csv",
        _csv(_row("nul1", city="Ly\x00on\x07"), _row("nul2")),
        "accepted",
        2,
    ),
    Case(
        "latin-1 sent as UTF-8",
        "customers",
        "c24_latin1_as_utf8.csv",
        _csv(_row("l1"), _row("l2", city="Orléans")).decode("utf-8").encode("latin-1"),
        "rejected",
        reasons=("cannot decode as utf-8: byte 0xe9", "(line 3)", "wrong encoding?"),
        rows_read=2,
    ),
    Case(
        "UTF-16 sent as UTF-8",
        "customers",
        "c25_utf16.csv",
        _csv(_row("u1")).decode("utf-8").encode("utf-16"),
        "rejected",
        reasons=("cannot decode as utf-8",),
        rows_read=1,
    ),
    Case(
        "wrong separator",
        "customers",
        "c26_wrong_separator.csv",
        _csv(_row("s1").replace(",", ";"), header=HEADER.replace(",", ";")),
        "rejected",
        reasons=("missing required column(s)", "wrong separator? declared ','"),
        rows_read=1,
    ),
    Case(
        "file that does not parse at all (gzip bytes)",
        "customers",
        "c27_garbage.csv",
        lambda: gzip.compress(GOOD, mtime=0),
        "rejected",
        reasons=("cannot decode as utf-8",),
    ),
    # ---- CSV, latin-1, ';'
    Case(
        "latin-1 file", "members", "m01_latin1.csv", MEMBERS_LATIN1.encode("latin-1"), "accepted", 2
    ),
    Case(
        "UTF-8 sent as latin-1",
        "members",
        "m02_utf8_as_latin1.csv",
        MEMBERS_LATIN1.replace("0042", "0142").replace("0043", "0143").encode("utf-8"),
        "rejected",
        reasons=("declared encoding iso8859-1 but the file is valid UTF-8",),
        rows_read=2,
    ),
    Case(
        "windows-1252 sent as latin-1 (C1 control bytes)",
        "members",
        "m03_cp1252_as_latin1.csv",
        MEMBERS_LATIN1.replace("0042;Lefèvre", "0242;Lefèvre – Cœur")
        .replace("0043", "0243")
        .encode("cp1252"),
        "rejected",
        reasons=("windows-1252",),
        rows_read=2,
    ),
    Case(
        "UTF-8 byte order mark on a latin-1 file",
        "members",
        "m04_bom.csv",
        b"\xef\xbb\xbf" + MEMBERS_LATIN1.encode("ascii", "replace"),
        "rejected",
        reasons=("valid UTF-8",),
        rows_read=2,
    ),
    # ---- JSON lines
    Case(
        "clean JSON lines",
        "events",
        "e01_clean.jsonl",
        b'{"event_id": "e1", "customer_id": "c1", "qty": 1, "ts": "2024-01-02T10:00:00"}\n'
        b'{"event_id": "e2", "customer_id": "c2", "qty": "2", "ts": null}\n',
        "accepted",
        2,
    ),
    Case(
        "JSON lines with a byte order mark and CRLF",
        "events",
        "e02_bom_crlf.jsonl",
        b'\xef\xbb\xbf{"event_id": "eb1", "customer_id": "c1"}\r\n'
        b'{"event_id": "eb2", "customer_id": "c2"}\r\n',
        "accepted",
        2,
    ),
    Case(
        "JSON lines, truncated last line",
        "events",
        "e03_truncated.jsonl",
        b'{"event_id": "et1", "customer_id": "c1"}\n{"event_id": "et2", "custo',
        "accepted",
        1,
        1,
        ("malformed JSON record: not a valid JSON object",),
    ),
    Case(
        "JSON lines: wrong types, missing values, nested fields, duplicates, two records on a line",
        "events",
        "e04_rows.jsonl",
        b'{"event_id": "er1", "customer_id": "c1", "qty": "many"}\n'
        b'{"event_id": "er2", "qty": 1}\n'
        b'{"event_id": "er3", "customer_id": "c3", "ts": "02/01/2024 10:00"}\n'
        b'{"event_id": "er4", "customer_id": "c4", "channel": "web", "meta": {"a": [1, 2]}}\n'
        b'{"event_id": "er4", "customer_id": "c5"}\n'
        b'["not", "an", "object"]\n'
        b'{"event_id": "er6", "event_id": "er7", "customer_id": "c6"}\n'
        b'{"event_id": "er8", "customer_id": "c8"} {"event_id": "er9", "customer_id": "c9"}\n',
        "accepted",
        1,
        7,
        (
            "malformed JSON record: not exactly one JSON object",
            "cannot parse 'many' as int in column qty",
            "missing required column value: customer_id",
            "cannot parse '02/01/2024 10:00' as timestamp",
            "duplicate key event_id=er4 in file (first at row 4)",
            "malformed JSON record: not a valid JSON object",
            "malformed JSON record: a field name is repeated",
        ),
    ),
    Case(
        "JSON lines file that is not JSON (a CSV file)",
        "events",
        "e05_not_json.jsonl",
        GOOD,
        "rejected",
        reasons=("missing required column(s)", "4 of 4 records are malformed JSON"),
        rows_read=4,
    ),
    Case(
        "JSON array instead of JSON lines",
        "events",
        "e06_array.json",
        b'[\n  {"event_id": "ea1", "customer_id": "c1"},\n  {"event_id": "ea2"}\n]\n',
        "rejected",
        reasons=("missing required column(s)", "records are malformed JSON"),
        rows_read=4,
    ),
    Case(
        "JSON lines in latin-1",
        "events",
        "e07_latin1.jsonl",
        '{"event_id": "el1", "customer_id": "Orléans"}\n'.encode("latin-1"),
        "rejected",
        reasons=("cannot decode as utf-8",),
        rows_read=1,
    ),
    Case(
        "JSON lines without a required field in any record",
        "events",
        "e08_missing_field.jsonl",
        b'{"event_id": "em1", "Customer_ID": "c1"}\n',
        "rejected",
        reasons=("missing required column(s) ['customer_id']", "case-sensitive"),
        rows_read=1,
    ),
    Case("empty JSON lines file", "events", "e09_empty.jsonl", b"", "accepted"),
    # ---- Parquet
    Case(
        "clean Parquet",
        "tickets",
        "t01_clean.parquet",
        lambda: _parquet({"ticket_id": ["t1", "t2"], "amount": [1.5, 2.0], "qty": [1, 2]}),
        "accepted",
        2,
    ),
    Case(
        "Parquet with wrong types, a missing key value and an extra column",
        "tickets",
        "t02_types.parquet",
        lambda: _parquet(
            {
                "TICKET_ID": ["t3", "t4", None],
                "amount": ["3.5", "abc", "1"],
                "qty": [1.0, 2.5, 3.0],
                "store": ["S1", "S2", "S3"],
            }
        ),
        "accepted",
        1,
        2,
        ("cannot parse 'abc' as double in column amount", "missing required column value"),
    ),
    Case(
        "Parquet without a required column",
        "tickets",
        "t03_missing_required.parquet",
        lambda: _parquet({"ticket_id": ["t5"], "qty": [1]}),
        "rejected",
        reasons=("missing required column(s) ['amount']",),
        rows_read=1,
    ),
    Case(
        "Parquet file that does not parse (truncated)",
        "tickets",
        "t04_truncated.parquet",
        lambda: _parquet({"ticket_id": ["t6"], "amount": [1.0]})[:200],
        "rejected",
        reasons=("not a readable Parquet file",),
    ),
    Case(
        "Parquet with no rows",
        "tickets",
        "t05_no_rows.parquet",
        lambda: _parquet({"ticket_id": [], "amount": []}),
        "accepted",
    ),
    # ---- contract that forbids extra columns
    Case(
        "strict contract, clean", "strict", "s01_clean.csv", b"id,email\n1,a@x.fr\n", "accepted", 1
    ),
    Case(
        "strict contract, extra column",
        "strict",
        "s02_extra.csv",
        b"id,email,bonus\n2,b@x.fr,1\n",
        "rejected",
        reasons=("unexpected column(s) ['bonus']", "allow_extra_columns: false"),
        rows_read=1,
    ),
    # ---- schema evolution, first delivery
    Case(
        "schema v1",
        "accounts",
        "a01_v1.csv",
        b"account_id,email,city\na1,a1@x.fr,Lyon\na2,a2@x.fr,Nice\n",
        "accepted",
        2,
    ),
]

#: Second delivery: only rejected files and re-deliveries; must change no table but _batches.
SECOND: list[Case] = [
    Case(
        "same file delivered again in a later run, under another name",
        "customers",
        "c90_clean_again.csv",
        GOOD,
        "skipped",
        reasons=("already ingested",),
    ),
    Case(
        "missing required column (second run)",
        "customers",
        "c91_missing_required.csv",
        _csv("z1,Lyon", header="customer_id,city"),
        "rejected",
        reasons=("missing required column(s) ['email']",),
        rows_read=1,
    ),
    Case(
        "garbage Parquet (second run)",
        "tickets",
        "t90_garbage.parquet",
        b"PAR1 this is not parquet PAR1",
        "rejected",
        reasons=("not a readable Parquet file",),
    ),
]

#: Third delivery: the accounts source adds a column, then drops a required one.
THIRD: list[Case] = [
    Case(
        "source adds a column",
        "accounts",
        "a02_v2.csv",
        b"account_id,email,city,segment\na3,a3@x.fr,Pau,gold\n",
        "accepted",
        1,
    ),
    Case(
        "source drops a required column",
        "accounts",
        "a03_v3.csv",
        b"account_id,city,segment\na4,Pau,silver\n",
        "rejected",
        reasons=("missing required column(s) ['email']",),
        rows_read=1,
    ),
]

BRONZE_TABLES = [f"{SOURCE}_{e}" for e in ENTITIES]


def _physical_rows(data: bytes, header: bool) -> int:
    lines = [ln for ln in data.split(b"\n") if ln.strip(b" \t\r\n\x00")]
    return max(len(lines) - (1 if header else 0), 0)


# --------------------------------------------------------------------------- the runs
def _deliver(root: Path, cases: list[Case]) -> dict[str, Case]:
    by_path: dict[str, Case] = {}
    for case in cases:
        path = root / "data" / case.entity / case.file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.data())
        by_path[str(path.resolve())] = case
    return by_path


def _snapshot(lh: Lakehouse) -> dict[str, Any]:
    """Everything the checks need, read with delta-rs (no Spark job)."""
    import deltalake

    def table(name: str) -> deltalake.DeltaTable:
        return deltalake.DeltaTable(lh.path("bronze", name))

    def rows(name: str) -> list[dict[str, Any]]:
        return table(name).to_pyarrow_table().to_pylist()

    bronze: dict[str, list[dict[str, Any]]] = {}
    for name in BRONZE_TABLES:
        bronze[name] = [
            {k: (v[:100] if isinstance(v, str) else v) for k, v in r.items()}
            | {"_len_city": len(r.get("city") or "")}
            for r in rows(name)
        ]
    return {
        "batches": rows("_batches"),
        "quarantine": rows("_quarantine"),
        "bronze": bronze,
        "versions": {t: table(t).version() for t in [*BRONZE_TABLES, "_quarantine"]},
        "columns": {t: table(t).schema().to_arrow().names for t in BRONZE_TABLES},
    }


@pytest.fixture(scope="module")
def catalogue(
    _spark_session: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    spark = _spark_session
    root = tmp_path_factory.mktemp("bad_inputs")
    cfg = AppConfig(
        config_path=str(root / "test.yml"),
        data_root=str(root / "data"),
        sources_dir=str(root / "sources"),
        models_dir=str(root / "models"),
        lakehouse=LakehouseConfig(root=str(root / "lakehouse")),
        sources=[SourceConfig(name=SOURCE, entities=ENTITIES)],
        ingest=IngestSettings(),
    )
    lh = Lakehouse(cfg.lakehouse)
    out: dict[str, Any] = {"cfg": cfg, "root": root}

    first = _deliver(root, CASES)
    with pytest.raises(ContractError) as err:
        run_ingest(spark, cfg, "run-1")
    out["first"] = {"cases": first, "error": str(err.value), "snap": _snapshot(lh)}

    second = _deliver(root, SECOND)
    with pytest.raises(ContractError) as err:
        run_ingest(spark, cfg, "run-2")
    out["second"] = {"cases": second, "error": str(err.value), "snap": _snapshot(lh)}

    third = _deliver(root, THIRD)
    with pytest.raises(ContractError) as err:
        run_ingest(spark, cfg, "run-3")
    out["third"] = {"cases": third, "error": str(err.value), "snap": _snapshot(lh)}
    yield out


def _batch_of(snap: dict[str, Any], path: str) -> dict[str, Any] | None:
    found = [b for b in snap["batches"] if b["source_file"] == path]
    assert len(found) <= 1, path
    return found[0] if found else None


def _check(run: dict[str, Any], path: str, case: Case) -> None:
    snap = run["snap"]
    table = f"{SOURCE}_{case.entity}"
    batch = _batch_of(snap, path)
    if case.outcome == "skipped":
        assert batch is None, f"{case.id}: a re-delivery must not be recorded again"
        return
    assert batch is not None, f"{case.id}: no _batches record"
    bid = batch["batch_id"]
    in_bronze = sorted(r["_row_number"] for r in snap["bronze"][table] if r["_batch_id"] == bid)
    quarantined = [q for q in snap["quarantine"] if q["batch_id"] == bid]
    if case.outcome == "rejected":
        assert batch["status"] == "rejected", case.id
        for text in case.reasons:
            assert text in (batch["reason"] or ""), (case.id, batch["reason"])
        # the error raised names the file and the problem
        assert path in run["error"] and batch["reason"] in run["error"], case.id
        # nothing of a rejected file is written anywhere
        assert (in_bronze, quarantined) == ([], []), case.id
        assert (batch["rows_accepted"], batch["rows_quarantined"]) == (0, 0)
        expected = case.rows_read
        if expected is None:  # does not parse: rows read = non-blank physical lines
            expected = _physical_rows(case.data(), header=ENTITIES[case.entity].format == "csv")
        assert batch["rows_read"] == expected, (case.id, batch["rows_read"])
        return
    assert batch["status"] == "succeeded", (case.id, batch["reason"])
    suppressed = batch.get("rows_suppressed") or 0
    # reconciliation, from the counts recorded and from the rows really written
    assert batch["rows_read"] == batch["rows_accepted"] + batch["rows_quarantined"] + suppressed
    assert (batch["rows_accepted"], batch["rows_quarantined"]) == (
        case.accepted,
        case.quarantined,
    ), case.id
    assert len(in_bronze) == case.accepted, case.id
    numbers = sorted(in_bronze + [q["row_number"] for q in quarantined])
    assert numbers == list(range(1, batch["rows_read"] + 1)), f"{case.id}: rows lost or doubled"
    reasons = " | ".join(q["reason"] for q in quarantined)
    for text in case.reasons:
        assert text in reasons, (case.id, reasons)
    assert all(q["reason"] and q["reason_kind"] for q in quarantined), case.id


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_first_delivery(catalogue: dict[str, Any], case: Case) -> None:
    run = catalogue["first"]
    [path] = [p for p, c in run["cases"].items() if c is case]
    _check(run, path, case)


@pytest.mark.parametrize("case", SECOND, ids=[c.id for c in SECOND])
def test_second_delivery(catalogue: dict[str, Any], case: Case) -> None:
    run = catalogue["second"]
    [path] = [p for p, c in run["cases"].items() if c is case]
    _check(run, path, case)


def test_rejected_files_change_no_table(catalogue: dict[str, Any]) -> None:
    before, after = catalogue["first"]["snap"], catalogue["second"]["snap"]
    assert after["versions"] == before["versions"]
    new = [b for b in after["batches"] if b not in before["batches"]]
    assert sorted(b["status"] for b in new) == ["rejected", "rejected"]


def test_reconciliation_totals(catalogue: dict[str, Any]) -> None:
    snap = catalogue["third"]["snap"]
    done = [b for b in snap["batches"] if b["status"] == "succeeded"]
    read = sum(b["rows_read"] for b in done)
    assert read == sum(len(rows) for rows in snap["bronze"].values()) + len(snap["quarantine"])


def test_values_survive_the_bad_inputs(catalogue: dict[str, Any]) -> None:
    snap = catalogue["first"]["snap"]
    rows = {r["customer_id"]: r for r in snap["bronze"][f"{SOURCE}_customers"]}
    assert {"bom1", "bom2", "crlf1", "crlf2", "r1"} <= set(rows)  # header matched despite BOM
    assert rows["crlf2"]["updated_at"] is not None  # no stray '\r' in the last field
    assert rows["q1"]["city"] == "Paris, 75"
    assert rows["q2"]["city"] == 'Saint-Malo\nquai "Est"'
    assert rows["x1"]["Loyalty_Tier"] == "gold" and rows["x1"]["note"] == "hello"
    assert rows["r1"]["score"] == 2.0 and rows["r1"]["city"] == "Lyon"
    assert rows["dk1"]["city"] == "Lyon"  # the first valid occurrence is kept
    assert rows["fd1"]["birth_date"].isoformat() == "1990-01-15"
    assert rows["lv1"]["_len_city"] == 1_000_000
    assert rows["nul1"]["city"] == "Ly\x00on\x07"
    members = {r["NUM_CARTE"]: r for r in snap["bronze"][f"{SOURCE}_members"]}
    assert members["0042"]["VILLE"] == "Orléans" and members["0043"]["NOM"] == "Müller"
    events = {r["event_id"]: r for r in snap["bronze"][f"{SOURCE}_events"]}
    assert json.loads(events["er4"]["meta"]) == {"a": [1, 2]}
    assert events["er4"]["channel"] == "web"
    tickets = {r["ticket_id"]: r for r in snap["bronze"][f"{SOURCE}_tickets"]}
    assert tickets["t3"]["store"] == "S1" and tickets["t3"]["amount"] == 3.5


def test_contract_error_lists_every_rejected_file(catalogue: dict[str, Any]) -> None:
    run = catalogue["first"]
    rejected = [p for p, c in run["cases"].items() if c.outcome == "rejected"]
    assert f"{len(rejected)} file(s) rejected" in run["error"]
    for path in rejected:
        assert path in run["error"]


@pytest.mark.parametrize("case", THIRD, ids=[c.id for c in THIRD])
def test_schema_evolution(catalogue: dict[str, Any], case: Case) -> None:
    run = catalogue["third"]
    [path] = [p for p, c in run["cases"].items() if c is case]
    _check(run, path, case)


def test_added_column_is_kept_in_bronze(catalogue: dict[str, Any]) -> None:
    snap = catalogue["third"]["snap"]
    table = f"{SOURCE}_accounts"
    assert "segment" in snap["columns"][table]
    assert "segment" not in catalogue["first"]["snap"]["columns"][table]
    rows = {r["account_id"]: r for r in snap["bronze"][table]}
    assert sorted(rows) == ["a1", "a2", "a3"]
    assert rows["a3"]["segment"] == "gold" and rows["a1"]["segment"] is None
    assert "a03_v3.csv" in catalogue["third"]["error"]
