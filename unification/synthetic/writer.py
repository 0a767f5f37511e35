"""Writing the extracts (one part file per entity and chunk) and the ground truth.

Formats per entity (see ``docs/DATA.md`` and ``conf/sources/*.yml``):

=========================  =======================================
entity                     file
=========================  =======================================
ecommerce/customers        CSV, utf-8, ``,``
ecommerce/orders           CSV, utf-8, ``,``
ecommerce/order_lines      CSV, utf-8, ``,``
stores/members             CSV, latin-1, ``;``
stores/tickets             Parquet
stores/ticket_lines        Parquet
crm/contacts               JSON lines
crm/interactions           JSON lines
emailing/subscribers       CSV, utf-8, ``,``
emailing/events            JSON lines
web/events                 JSON lines
=========================  =======================================

Truth: ``_truth/person_map.parquet`` (one row per person record: ``source``, ``source_id``,
``person_id``, plus ``entity`` and ``record_key``) and ``_truth/persons.parquet`` (one row
per person: ``person_id``, ``household_id``, ``homonym_group``), each written as one file
with one row group per chunk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class FileSpec:
    """How one entity is written."""

    format: str  # csv | json | parquet
    sep: str = ","
    encoding: str = "utf-8"

    @property
    def ext(self) -> str:
        return {"csv": "csv", "json": "jsonl", "parquet": "parquet"}[self.format]


FILES: dict[str, FileSpec] = {
    "ecommerce/customers": FileSpec("csv"),
    "ecommerce/orders": FileSpec("csv"),
    "ecommerce/order_lines": FileSpec("csv"),
    "stores/members": FileSpec("csv", sep=";", encoding="latin-1"),
    "stores/tickets": FileSpec("parquet"),
    "stores/ticket_lines": FileSpec("parquet"),
    "crm/contacts": FileSpec("json"),
    "crm/interactions": FileSpec("json"),
    "emailing/subscribers": FileSpec("csv"),
    "emailing/events": FileSpec("json"),
    "web/events": FileSpec("json"),
}

PERSON_MAP_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("source_id", pa.string()),
        ("person_id", pa.string()),
        ("entity", pa.string()),
        ("record_key", pa.string()),
    ]
)
PERSONS_SCHEMA = pa.schema(
    [("person_id", pa.string()), ("household_id", pa.string()), ("homonym_group", pa.string())]
)
TRUTH_DIR = "_truth"


def part_path(out_dir: Path, name: str, part: int) -> Path:
    """``<out>/<source>/<entity>_part0001.<ext>``."""
    source, entity = name.split("/")
    return out_dir / source / f"{entity}_part{part:04d}.{FILES[name].ext}"


def clean(out_dir: Path) -> None:
    """Remove part files and truth of an earlier generation (nothing else)."""
    for name in FILES:
        source, entity = name.split("/")
        for f in (out_dir / source).glob(f"{entity}_part*.{FILES[name].ext}"):
            f.unlink()
    for f in (out_dir / TRUTH_DIR).glob("*"):
        if f.suffix in (".parquet", ".json"):
            f.unlink()


class PartWriter:
    """Writes the part files of one chunk, block by block.

    CSV and JSON-lines rows are appended to the open part file as each block arrives, so
    memory is bounded by a block; Parquet frames (tickets and their lines, the smallest
    entities) are buffered and written as one file when the chunk closes.
    """

    def __init__(self, out_dir: Path, part: int) -> None:
        self.out_dir = out_dir
        self.part = part
        self._handles: dict[str, TextIO] = {}
        self._buffers: dict[str, list[pd.DataFrame]] = {}
        self.rows: dict[str, int] = {}

    def append(self, name: str, df: pd.DataFrame) -> None:
        """Append a block's rows of entity ``name``."""
        if df.empty:
            return
        spec = FILES[name]
        self.rows[name] = self.rows.get(name, 0) + len(df)
        if spec.format == "parquet":
            self._buffers.setdefault(name, []).append(df)
            return
        fh = self._handles.get(name)
        first = fh is None
        if fh is None:
            path = part_path(self.out_dir, name, self.part)
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(path, "w", encoding=spec.encoding, errors="replace", newline="")  # noqa: SIM115
            self._handles[name] = fh
        if spec.format == "csv":
            df.to_csv(fh, sep=spec.sep, index=False, header=first, lineterminator="\n")
        else:
            df.to_json(fh, orient="records", lines=True, force_ascii=False)

    def close(self) -> dict[str, int]:
        """Close every part file; return rows per written file (path relative to the output)."""
        for fh in self._handles.values():
            fh.close()
        for name, frames in self._buffers.items():
            path = part_path(self.out_dir, name, self.part)
            path.parent.mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pandas(pd.concat(frames, ignore_index=True), preserve_index=False)
            pq.write_table(table, path, coerce_timestamps="us", allow_truncated_timestamps=True)
        return {
            str(part_path(self.out_dir, n, self.part).relative_to(self.out_dir)): r
            for n, r in self.rows.items()
        }


class TruthWriter:
    """Appends truth rows chunk by chunk to two single Parquet files."""

    def __init__(self, out_dir: Path) -> None:
        d = out_dir / TRUTH_DIR
        d.mkdir(parents=True, exist_ok=True)
        self.dir = d
        self._map = pq.ParquetWriter(d / "person_map.parquet", PERSON_MAP_SCHEMA)
        self._persons = pq.ParquetWriter(d / "persons.parquet", PERSONS_SCHEMA)

    def write(self, person_map: pd.DataFrame, persons: pd.DataFrame) -> None:
        """Append one chunk of truth."""
        self._map.write_table(
            pa.Table.from_pandas(person_map, schema=PERSON_MAP_SCHEMA, preserve_index=False)
        )
        self._persons.write_table(
            pa.Table.from_pandas(persons, schema=PERSONS_SCHEMA, preserve_index=False)
        )

    def close(self, meta: dict[str, Any]) -> None:
        """Close the files and write the generation parameters next to them."""
        self._map.close()
        self._persons.close()
        (self.dir / "generation.json").write_text(
            json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8"
        )
