"""Write a DataFrame as one delivery file (CSV with a header, or Parquet).

Spark writes a folder of part files; activation tools and source systems want one file. The
rows are gathered into one partition (``repartition(1)``, so the plan above stays parallel),
sorted, written to a temporary folder next to the target, and on a local (or FUSE-mounted)
filesystem the single part file is moved to ``<name>.<format>``; elsewhere the folder
``<name>.<format>/`` is kept. A failed write leaves no half file under the final name.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file:")


def _local(path: str) -> str:
    return path[len("file:") :] if path.startswith("file:") else path


def write_single_file(
    df: DataFrame,
    target: str,
    fmt: str,
    *,
    sort_by: Sequence[str] = (),
    known_empty: bool = False,
) -> str:
    """Write ``df`` to ``<target>.<fmt>`` as one file and return its path.

    Args:
        df: the rows (arrays must already be joined to strings for CSV).
        target: path without extension.
        fmt: ``csv`` or ``parquet``.
        sort_by: columns the file is sorted by (deterministic output).
        known_empty: ``df`` has no row: locally the header (or an empty Parquet file) is
            written without a Spark job.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, got {fmt!r}")
    final = f"{target}.{fmt}"
    out = df.repartition(1)
    if sort_by:
        out = out.sortWithinPartitions(*sort_by)
    if not _is_local(final):
        writer = out.write.mode("overwrite")
        if fmt == "csv":
            writer.option("header", "true").option("escape", '"').csv(final)
        else:
            writer.parquet(final)
        return final
    local_final = Path(_local(final))
    local_final.parent.mkdir(parents=True, exist_ok=True)
    if known_empty:
        tmp_file = local_final.parent / f".{local_final.name}.{uuid.uuid4().hex[:8]}.tmp"
        _write_empty(df, tmp_file, fmt)
        os.replace(tmp_file, local_final)
        return str(local_final)
    tmp = local_final.parent / f".{local_final.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        writer = out.write.mode("overwrite")
        if fmt == "csv":
            writer.option("header", "true").option("escape", '"').option(
                "timestampFormat", "yyyy-MM-dd'T'HH:mm:ss"
            ).csv(str(tmp))
        else:
            writer.parquet(str(tmp))
        parts = sorted(p for p in tmp.iterdir() if p.name.startswith("part-"))
        if len(parts) == 1:
            os.replace(parts[0], local_final)
        elif not parts:  # an empty frame: write the header (or an empty Parquet) ourselves
            _write_empty(df, local_final, fmt)
        else:  # pragma: no cover - repartition(1) gives one part
            raise RuntimeError(f"expected one part file in {tmp}, found {len(parts)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.debug("wrote %s", local_final)
    return str(local_final)


def _write_empty(df: DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        path.write_text(",".join(df.columns) + "\n", encoding="utf-8")
        return
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import to_arrow_schema

    pq.write_table(pa.Table.from_pylist([], schema=to_arrow_schema(df.schema)), path)
