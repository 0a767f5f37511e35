"""Split generated extracts into a first delivery and a later *delta* delivery.

Used to exercise incremental runs (``run.mode: incremental``) and to measure them: a share of
the identity records of every person entity (e-commerce accounts, loyalty members, CRM
contacts, newsletter subscribers) is held back from the first delivery and written as a new part
file (``<entity>_part9001.<ext>``) in a separate folder, together with updated copies of some
delivered records (a new e-mail address, as when a customer edits an account). Copying the
delta folder into the data folder is "the next day's delivery".

Examples:
    ```py
    summary = split_delta(cfg, Path("data/demo"), Path("data/delta"), fraction=0.01, seed=7)
    ```
"""

from __future__ import annotations

import glob
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from unification.config import AppConfig, EntityConfig

DELTA_PART = "9001"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class DeltaSummary:
    """Rows moved to the delta per ``source:entity``: ``new`` (held back) and ``changed``."""

    new: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """All rows of the delta delivery."""
        return sum(self.new.values()) + sum(self.changed.values())


def _read(path: Path, entity: EntityConfig) -> pd.DataFrame:
    if entity.format == "csv":
        return pd.read_csv(
            path,
            sep=entity.options.get("sep", ","),
            encoding=entity.options.get("encoding", "utf-8"),
            dtype=str,
            keep_default_na=False,
        )
    return pd.read_parquet(path)


def _write(df: pd.DataFrame, path: Path, entity: EntityConfig) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if entity.format == "csv":
        df.to_csv(
            path,
            sep=entity.options.get("sep", ","),
            encoding=entity.options.get("encoding", "utf-8"),
            index=False,
        )
    else:
        df.to_parquet(path, index=False)


def _changed_copy(df: pd.DataFrame, email_col: str | None) -> pd.DataFrame:
    out = df.copy()
    if email_col and email_col in out.columns:
        emails = out[email_col].astype("string")
        has = emails.str.contains("@", na=False)
        out.loc[has, email_col] = "new." + emails[has]
    return out


def _delta_path(first: Path, data_root: Path, delta_root: Path) -> Path:
    stem = re.sub(r"_part\d+$", f"_part{DELTA_PART}", first.stem)
    return delta_root / first.relative_to(data_root).parent / f"{stem}{first.suffix}"


def _split_json_lines(
    files: list[str],
    data_root: Path,
    delta_root: Path,
    email_col: str | None,
    fraction: float,
    rng: np.random.Generator,
) -> tuple[int, int]:
    held: list[str] = []
    changed: list[str] = []
    for f in files:
        path = Path(f)
        lines = [ln for ln in path.read_text("utf-8").splitlines() if ln.strip()]
        hold = rng.random(len(lines)) < fraction
        change = ~hold & (rng.random(len(lines)) < fraction / 2)
        kept = [ln for ln, h in zip(lines, hold, strict=True) if not h]
        held += [ln for ln, h in zip(lines, hold, strict=True) if h]
        for ln, c in zip(lines, change, strict=True):
            if not c:
                continue
            row = json.loads(ln)
            value = row.get(email_col) if email_col else None
            if isinstance(value, str) and "@" in value:
                row[email_col] = "new." + value
            changed.append(json.dumps(row, ensure_ascii=False))
        path.write_text("\n".join(kept) + "\n", "utf-8")
    target = _delta_path(Path(files[0]), data_root, delta_root)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(held + changed) + "\n", "utf-8")
    return len(held), len(changed)


def split_delta(
    cfg: AppConfig, data_root: Path, delta_root: Path, *, fraction: float, seed: int = 7
) -> DeltaSummary:
    """Move ``fraction`` of each person entity's rows from ``data_root`` into a delta file under
    ``delta_root`` (same relative folder, part ``9001``), plus updated copies of ``fraction/2``
    of the remaining rows. ``data_root``'s files are rewritten without the held-back rows.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    summary = DeltaSummary()
    for source, name, entity in cfg.entities():
        if entity.person is None:
            continue
        files = sorted(glob.glob(str(data_root / entity.path)))
        if not files:
            continue
        email_expr = entity.person.fields.get("email")
        email_col = email_expr if email_expr and _IDENT.match(email_expr) else None
        held, changed = [], []
        if entity.format == "json":  # JSON lines are moved verbatim (types stay as delivered)
            summary_new, summary_changed = _split_json_lines(
                files, data_root, delta_root, email_col, fraction, rng
            )
            summary.new[f"{source}:{name}"] = summary_new
            summary.changed[f"{source}:{name}"] = summary_changed
            continue
        for f in files:
            path = Path(f)
            df = _read(path, entity)
            hold = rng.random(len(df)) < fraction
            change = ~hold & (rng.random(len(df)) < fraction / 2)
            held.append(df[hold])
            changed.append(_changed_copy(df[change], email_col))
            _write(df[~hold], path, entity)
        delta = pd.concat(held + changed, ignore_index=True)
        _write(delta, _delta_path(Path(files[0]), data_root, delta_root), entity)
        key = f"{source}:{name}"
        summary.new[key] = int(sum(len(h) for h in held))
        summary.changed[key] = int(sum(len(c) for c in changed))
    return summary
