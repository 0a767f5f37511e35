"""Corrupted copies of generated demo files lose no row.

A tiny demo data set is generated (``unification.synthetic``, 30 persons), and four of its files,
one per format and encoding (e-commerce customers: CSV UTF-8 ``,``; store members: CSV latin-1
``;``; CRM contacts: JSON lines; store tickets: Parquet), are delivered again in damaged copies
next to the originals, through the demo's own source contracts. Every copy is either accepted,
with every one of its records in bronze or in ``_quarantine`` with a reason (row numbers
1..rows read, each exactly once; rows read = the records the test itself put in the file), or
rejected as a whole with an error naming the file, and then nothing of it is written.
"""

from __future__ import annotations

import csv
import io
import random
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from unification.config import SourceConfig, load_config
from unification.errors import ContractError
from unification.ingest import run_ingest
from unification.lakehouse import Lakehouse

REPO = Path(__file__).resolve().parents[1]
N_PERSONS = 30
KEEP = {
    "ecommerce": ["customers"],
    "stores": ["members", "tickets"],
    "crm": ["contacts"],
}


@dataclass
class Copy:
    """A damaged copy: its file, and what must happen to it."""

    path: Path
    outcome: str  # accepted | rejected
    records: int | None = None  # records the test put in it (accepted copies)
    reason: str = ""  # part of the rejection reason
    min_quarantined: int = 0


# --------------------------------------------------------------------------- CSV damage
def _read_csv(data: bytes, encoding: str, sep: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline=""), delimiter=sep))


def _write_csv(records: list[list[str]], encoding: str, sep: str, nl: str = "\n") -> bytes:
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=sep, lineterminator=nl).writerows(records)
    return buf.getvalue().encode(encoding, "replace")


def _csv_copies(src: Path, encoding: str, sep: str, key: str, dates: list[str]) -> list[Copy]:
    """Damaged copies of a CSV file; ``dates`` are date/timestamp columns to spoil."""
    data = src.read_bytes()
    header, *rows = _read_csv(data, encoding, sep)
    n = len(rows)
    col = {name: i for i, name in enumerate(header)}
    out: list[Copy] = []
    stem = src.name.replace("0001", "")

    def put(name: str, content: bytes, copy: Copy) -> None:
        path = src.with_name(stem.replace(".csv", f"{name}.csv"))
        path.write_bytes(content)
        copy.path = path
        out.append(copy)

    bom = b"\xef\xbb\xbf" if encoding == "utf-8" else b""
    put(
        "9001",
        bom + _write_csv([header, *rows], encoding, sep, nl="\r\n"),
        Copy(src, "accepted", n),
    )

    damaged = [list(r) for r in rows]
    damaged[0][col[key]] = ""  # missing key value
    damaged[1][col[dates[0]]] = "08/26/1972 25:61"  # a foreign date format
    damaged[2][col[dates[-1]]] = "yesterday"
    damaged[3] = damaged[3] + ["one field too many"]
    damaged[4] = damaged[4][:3]  # too few fields
    damaged.insert(6, list(damaged[5]))  # duplicate key
    damaged.insert(8, list(header))  # concatenated exports: the header again
    content = _write_csv([header, *damaged], encoding, sep)
    cut = content.rstrip(b"\n")
    cut = cut[: cut.rfind(sep.encode()) + 3]  # last line cut short (2 characters of a field)
    put("9002", cut, Copy(src, "accepted", n + 2, min_quarantined=7))

    extra = [[*header, "Loyalty Tier"]] + [[*r, f"tier{i % 3}"] for i, r in enumerate(rows)]
    order = list(range(len(extra[0])))
    random.Random(3).shuffle(order)
    put(
        "9003",
        _write_csv([[r[i] for i in order] for r in extra], encoding, sep),
        Copy(src, "accepted", n),
    )

    other = "latin-1" if encoding == "utf-8" else "utf-8"
    put(
        "9004",
        _write_csv([header, *rows], other, sep),
        Copy(
            src,
            "rejected",
            reason="cannot decode as utf-8" if encoding == "utf-8" else "valid UTF-8",
        ),
    )
    wrong = ";" if sep == "," else ","
    put(
        "9005",
        _write_csv([header, *rows], encoding, wrong),
        Copy(src, "rejected", reason="wrong separator?"),
    )
    whole = _write_csv([header, *rows], encoding, sep)
    middle = len(whole) // 2
    while encoding == "utf-8" and 0x80 <= whole[middle] <= 0xBF:  # not inside a character
        middle -= 1
    half = whole[:middle]
    records_in_half = len(_read_csv(half, encoding, sep)) - 1
    put("9006", half, Copy(src, "accepted", records_in_half))
    return out


# --------------------------------------------------------------------------- JSON damage
def _json_copies(src: Path) -> list[Copy]:
    lines = src.read_bytes().decode("utf-8").splitlines()
    n = len(lines)
    out: list[Copy] = []

    def put(name: str, content: bytes, copy: Copy) -> None:
        path = src.with_name(src.name.replace("0001", name))
        path.write_bytes(content)
        copy.path = path
        out.append(copy)

    damaged = list(lines)
    damaged[0] = damaged[0].replace('"contactId":', '"contact_id":')  # key missing
    damaged[1] = damaged[1].replace('"lastModifiedDate":"', '"lastModifiedDate":"x')
    damaged.insert(2, "this is not JSON")
    damaged[3] = damaged[3] + " " + damaged[3]  # two records on one line
    damaged[-1] = damaged[-1][: len(damaged[-1]) // 2]  # truncated last line
    put(
        "9001",
        b"\xef\xbb\xbf" + "\r\n".join(damaged).encode("utf-8"),
        Copy(src, "accepted", n + 1, min_quarantined=5),
    )
    put(
        "9002",
        ("\n".join(lines) + "\n").replace("Madame", "Mme à").encode("latin-1", "replace"),
        Copy(src, "rejected", reason="cannot decode as utf-8"),
    )
    return out


# --------------------------------------------------------------------------- Parquet damage
def _parquet_copies(src: Path) -> list[Copy]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    n = table.num_rows
    out: list[Copy] = []

    def put(name: str, content: bytes, copy: Copy) -> None:
        path = src.with_name(src.name.replace("0001", name))
        path.write_bytes(content)
        copy.path = path
        out.append(copy)

    data = src.read_bytes()
    put("9001", data[: len(data) // 2], Copy(src, "rejected", reason="not a readable Parquet"))

    amounts = [str(v) for v in table.column("total_amount").to_pylist()]
    amounts[0] = amounts[0].replace(".", ",")  # decimal comma
    ids = table.column("ticket_id").to_pylist()
    ids[1] = None
    spoiled = (
        table.set_column(
            table.schema.get_field_index("total_amount"), "total_amount", pa.array(amounts)
        )
        .set_column(table.schema.get_field_index("ticket_id"), "ticket_id", pa.array(ids))
        .append_column("till", pa.array([f"T{i % 4}" for i in range(n)]))
    )
    buf = io.BytesIO()
    pq.write_table(spoiled, buf)
    put("9002", buf.getvalue(), Copy(src, "accepted", n, min_quarantined=2))
    return out


# --------------------------------------------------------------------------- the run
@pytest.fixture(scope="module")
def corrupted(
    _spark_session: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    from unification.synthetic import generate

    root = tmp_path_factory.mktemp("corrupted_demo")
    data = root / "data"
    generate(data, n_persons=N_PERSONS, seed=5)
    conf = root / "c.yml"
    shutil.copytree(REPO / "conf", root / "conf")  # the contracts as they are now
    conf.write_text(
        f"extends: {root / 'conf' / 'demo.yml'}\n"
        f"sources_dir: {root / 'conf' / 'sources'}\n"
        f"models_dir: {root / 'conf' / 'models'}\n"
        f"data_root: {data}\n"
        f"lakehouse:\n  root: {root / 'lakehouse'}\n",
        encoding="utf-8",
    )
    cfg = load_config(conf)
    cfg.sources = [
        SourceConfig(
            name=s.name, entities={k: v for k, v in s.entities.items() if k in KEEP[s.name]}
        )
        for s in cfg.sources
        if s.name in KEEP
    ]
    builders: list[Callable[[], list[Copy]]] = [
        lambda: _csv_copies(
            data / "ecommerce" / "customers_part0001.csv",
            "utf-8",
            ",",
            "customer_id",
            ["birth_date", "updated_at"],
        ),
        lambda: _csv_copies(
            data / "stores" / "members_part0001.csv",
            "latin-1",
            ";",
            "NUM_CARTE",
            ["DATE_NAISSANCE", "DATE_MAJ"],
        ),
        lambda: _json_copies(data / "crm" / "contacts_part0001.jsonl"),
        lambda: _parquet_copies(data / "stores" / "tickets_part0001.parquet"),
    ]
    copies = [c for build in builders for c in build()]
    with pytest.raises(ContractError) as err:
        run_ingest(_spark_session, cfg, "run-corrupt")

    import deltalake

    lh = Lakehouse(cfg.lakehouse)

    def rows(name: str, columns: list[str]) -> list[dict[str, Any]]:
        dt = deltalake.DeltaTable(lh.path("bronze", name))
        return dt.to_pyarrow_table(columns=columns).to_pylist()

    bronze = [
        r
        for s, entities in KEEP.items()
        for e in entities
        for r in rows(f"{s}_{e}", ["_batch_id", "_row_number"])
    ]
    yield {
        "copies": copies,
        "error": str(err.value),
        "batches": rows("_batches", ["source_file", "batch_id", "status", "reason", "rows_read"]),
        "batch_counts": rows("_batches", ["source_file", "rows_accepted", "rows_quarantined"]),
        "bronze": bronze,
        "quarantine": rows("_quarantine", ["batch_id", "row_number", "reason", "reason_kind"]),
    }


def test_every_copy_is_accounted_for(corrupted: dict[str, Any]) -> None:
    batches = {b["source_file"]: b for b in corrupted["batches"]}
    counts = {b["source_file"]: b for b in corrupted["batch_counts"]}
    problems = []
    for copy in corrupted["copies"]:
        path = str(copy.path.resolve())
        batch = batches.get(path)
        if batch is None:
            problems.append(f"{copy.path.name}: not recorded")
            continue
        bid = batch["batch_id"]
        written = [r["_row_number"] for r in corrupted["bronze"] if r["_batch_id"] == bid]
        quarantined = [q for q in corrupted["quarantine"] if q["batch_id"] == bid]
        if copy.outcome == "rejected":
            if batch["status"] != "rejected" or copy.reason not in (batch["reason"] or ""):
                problems.append(f"{copy.path.name}: expected rejected, got {batch}")
            if written or quarantined:
                problems.append(f"{copy.path.name}: rejected but rows were written")
            if path not in corrupted["error"]:
                problems.append(f"{copy.path.name}: not named in the error")
            continue
        if batch["status"] != "succeeded":
            problems.append(f"{copy.path.name}: expected accepted, got {batch}")
            continue
        numbers = sorted(written + [q["row_number"] for q in quarantined])
        if batch["rows_read"] != copy.records:
            problems.append(f"{copy.path.name}: rows read {batch['rows_read']} != {copy.records}")
        if numbers != list(range(1, (copy.records or 0) + 1)):
            problems.append(f"{copy.path.name}: rows lost or doubled")
        c = counts[path]
        if (c["rows_accepted"], c["rows_quarantined"]) != (len(written), len(quarantined)):
            problems.append(f"{copy.path.name}: recorded counts differ from the tables")
        if len(quarantined) < copy.min_quarantined:
            problems.append(f"{copy.path.name}: {len(quarantined)} quarantined")
        if not all(q["reason"] and q["reason_kind"] for q in quarantined):
            problems.append(f"{copy.path.name}: quarantined row without a reason")
    assert not problems, "\n".join(problems)


def test_originals_are_ingested_whole(corrupted: dict[str, Any]) -> None:
    originals = [b for b in corrupted["batches"] if "part0001" in b["source_file"]]
    assert len(originals) == 4
    assert all(b["status"] == "succeeded" for b in originals)
