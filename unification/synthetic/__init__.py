"""Synthetic multi-source extracts of a French retailer, with ground truth.

Five source systems deliver the same population in their own shapes and formats
(e-commerce, stores, CRM / call centre, e-mailing platform, web analytics); see
``docs/DATA.md``. Persons are generated in blocks of :data:`BLOCK_PERSONS` whose random
generator is seeded by ``(seed, block index)``; blocks are grouped into chunks of about
``chunk_persons`` and each chunk writes its own part files, appended block by block, so memory
is bounded by a block (not a chunk, nor the data set) and the rows do not depend on the chunk
size. No Spark is involved.

Examples:
    ```py
    from unification.synthetic import generate
    summary = generate("data/demo", n_persons=20_000, seed=42)
    summary.rows["ecommerce/customers"]
    ```
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from unification.synthetic import events, sources, writer
from unification.synthetic.activity import World
from unification.synthetic.params import CorruptionParams
from unification.synthetic.persons import Registry, block_persons
from unification.synthetic.sources import SOURCE_ENTITIES, Ctx, Records

log = logging.getLogger(__name__)

#: Persons per block, the unit of randomness (output is identical for any chunk size).
BLOCK_PERSONS = 500
DEMO_START = date(2023, 1, 1)
DEMO_END = date(2026, 10, 31)
#: Feature date of the demo set: the day after the last generated day.
DEMO_AS_OF = date(2026, 11, 1)


@dataclass
class GenerateSummary:
    """What :func:`generate` wrote."""

    out_dir: str
    n_persons: int
    n_source_records: int  # rows of every delivered file (truth excluded)
    n_person_records: int  # rows of the truth person map
    rows: dict[str, int] = field(default_factory=dict)  # per entity, e.g. "crm/contacts"
    files: dict[str, int] = field(default_factory=dict)  # per part file (relative path)
    seconds: float = 0.0


def _epoch(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp())


def _block(
    seed: int,
    block: int,
    n: int,
    params: CorruptionParams,
    world: World,
    registry: Registry,
    start_ts: int,
    end_ts: int,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """Generate every extract of one block; return frames, person map and persons truth."""
    r_pop, r_src, r_evt = (
        np.random.default_rng(s) for s in np.random.SeedSequence([seed, block]).spawn(3)
    )
    persons = block_persons(
        r_pop, block, block * BLOCK_PERSONS, n, params, start_ts, end_ts, registry
    )
    ctx = Ctx(block, persons, r_src, params, start_ts, end_ts)
    offsets = sources.created_offsets(ctx)
    home = world.home_stores(r_src, persons["a_region"].to_numpy())
    customers, ecom = sources.ecommerce_customers(ctx, offsets["ecommerce"])
    members, loyalty = sources.store_members(ctx, offsets["stores"], home)
    contacts, crm = sources.crm_contacts(ctx, offsets["crm"])
    subscribers, subs, state = sources.email_subscribers(ctx, offsets["emailing"])

    ectx = Ctx(block, persons, r_evt, params, start_ts, end_ts)
    frames, online = events.purchases_frames(ectx, world, ecom, loyalty, home)
    out = {
        "ecommerce/customers": customers,
        "ecommerce/orders": frames["orders"],
        "ecommerce/order_lines": frames["order_lines"],
        "stores/members": members,
        "stores/tickets": frames["tickets"],
        "stores/ticket_lines": frames["ticket_lines"],
        "crm/contacts": contacts,
        "crm/interactions": events.crm_interactions(ectx, crm),
        "emailing/subscribers": subscribers,
        "emailing/events": events.email_events(ectx, world, subs, state),
        "web/events": events.web_events(ectx, ecom, online),
    }
    pid = persons["person_id"].to_numpy()
    recs: dict[str, Records] = {"ecommerce": ecom, "stores": loyalty, "crm": crm, "emailing": subs}
    person_map = pd.concat(
        [
            pd.DataFrame(
                {
                    "source": src,
                    "source_id": r.source_id,
                    "person_id": pid[r.pi],
                    "entity": SOURCE_ENTITIES[src],
                    "record_key": [f"{src}:{SOURCE_ENTITIES[src]}:{s}" for s in r.source_id],
                }
            )
            for src, r in recs.items()
        ],
        ignore_index=True,
    )
    truth = persons[["person_id", "household_id", "homonym_group"]]
    return out, person_map, truth


def generate(
    out_dir: str | Path,
    n_persons: int = 20_000,
    seed: int = 42,
    *,
    params: CorruptionParams | None = None,
    chunk_persons: int = 50_000,
    start: date = DEMO_START,
    end: date = DEMO_END,
    progress: Callable[[int, int], None] | None = None,
) -> GenerateSummary:
    """Generate the extracts of five source systems and the ground truth under ``out_dir``.

    Part files and truth of an earlier run in ``out_dir`` are replaced; nothing else is touched.

    Args:
        out_dir: output folder (created).
        n_persons: persons in the population.
        seed: random seed; the same seed gives the same files.
        params: rates and behaviour parameters (defaults: :class:`CorruptionParams`).
        chunk_persons: persons per written chunk (rounded to whole blocks); bounds memory.
        start: first day of activity.
        end: last day of activity (inclusive).
        progress: called with (persons done, total) after each chunk.

    Returns:
        Row counts per entity and file.

    Raises:
        ValueError: on a non-positive size or an empty period.
    """
    if n_persons <= 0 or chunk_persons <= 0:
        raise ValueError("n_persons and chunk_persons must be positive")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    t0 = time.perf_counter()
    params = params or CorruptionParams()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writer.clean(out)
    start_ts, end_ts = _epoch(start), _epoch(end + timedelta(days=1))
    world = World.build(seed, params, start_ts, end_ts)
    registry = Registry()
    truth = writer.TruthWriter(out)
    n_blocks = math.ceil(n_persons / BLOCK_PERSONS)
    per_chunk = max(1, round(chunk_persons / BLOCK_PERSONS))
    summary = GenerateSummary(str(out), n_persons, 0, 0)
    rows: dict[str, int] = defaultdict(int)
    for chunk, first_block in enumerate(range(0, n_blocks, per_chunk)):
        parts = writer.PartWriter(out, chunk + 1)
        maps, people = [], []
        for b in range(first_block, min(first_block + per_chunk, n_blocks)):
            n = min(BLOCK_PERSONS, n_persons - b * BLOCK_PERSONS)
            frames, person_map, persons = _block(
                seed, b, n, params, world, registry, start_ts, end_ts
            )
            for name in writer.FILES:
                parts.append(name, frames[name])
            maps.append(person_map)
            people.append(persons)
        summary.files.update(parts.close())
        for name, count in parts.rows.items():
            rows[name] += count
        truth.write(pd.concat(maps, ignore_index=True), pd.concat(people, ignore_index=True))
        done = min((first_block + per_chunk) * BLOCK_PERSONS, n_persons)
        log.info("chunk %d: %d/%d persons", chunk + 1, done, n_persons)
        if progress is not None:
            progress(done, n_persons)
    summary.rows = dict(rows)
    summary.n_source_records = sum(rows.values())
    summary.n_person_records = sum(rows[f"{s}/{e}"] for s, e in SOURCE_ENTITIES.items())
    summary.seconds = round(time.perf_counter() - t0, 2)
    truth.close(
        {
            "seed": seed,
            "n_persons": n_persons,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "as_of": (end + timedelta(days=1)).isoformat(),
            "block_persons": BLOCK_PERSONS,
            "params": params.as_dict(),
            "rows": summary.rows,
        }
    )
    return summary


__all__ = [
    "BLOCK_PERSONS",
    "DEMO_AS_OF",
    "CorruptionParams",
    "GenerateSummary",
    "generate",
]
