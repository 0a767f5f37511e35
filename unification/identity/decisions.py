"""Human decisions: must-link and cannot-link pairs of records (``silver.human_decisions``).

Grain: one decision on an ordered pair of records; key ``decision_id`` = 32 hex digits of
sha256(``kind|record_key_l|record_key_r``) with ``record_key_l < record_key_r``, so adding
the same decision twice leaves one row. Decisions are never deleted: a decision is revoked
(``active = false``), and adding the opposite decision on the same pair revokes the earlier
one (the latest human word wins). The identity stage applies active decisions on every run
(:mod:`unification.identity.components`), so they survive re-runs and re-matching.

Records are given as ``source:entity:source_id`` or, when unambiguous, ``source:source_id``.

Examples:
    ```py
    add_decision(spark, cfg, "cannot_link", "ecommerce:customers:123", "stores:456",
                 reason="father and son, same address", author="jdoe")
    list_decisions(spark, cfg).show()
    ```
"""

from __future__ import annotations

import getpass
import hashlib
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Literal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification.identity.components import CANNOT_LINK, MUST_LINK
from unification.identity.errors import DecisionError
from unification.identity.tables import DECISIONS_TABLE, HUMAN_DECISIONS, create_table

if TYPE_CHECKING:
    from unification.config import AppConfig
    from unification.lakehouse import Lakehouse

logger = logging.getLogger(__name__)

DecisionKind = Literal["must_link", "cannot_link"]
KINDS: tuple[str, ...] = (MUST_LINK, CANNOT_LINK)


def _lakehouse(cfg: AppConfig) -> Lakehouse:
    from unification.lakehouse import Lakehouse

    return Lakehouse(cfg.lakehouse)


def decision_id(kind: str, left: str, right: str) -> str:
    """Key of a decision: independent of the order of the two record keys."""
    lo, hi = sorted((left, right))
    return hashlib.sha256(f"{kind}|{lo}|{hi}".encode()).hexdigest()[:32]


def normalise_kind(kind: str) -> str:
    """``must-link`` / ``MUST_LINK`` -> ``must_link``; raise :class:`DecisionError` if unknown."""
    value = kind.strip().lower().replace("-", "_")
    if value not in KINDS:
        raise DecisionError(f"decision kind must be 'must_link' or 'cannot_link', got {kind!r}")
    return value


def resolve_record_refs(records: DataFrame, refs: list[str]) -> dict[str, str]:
    """Map references ``source:source_id`` / ``source:entity:source_id`` to record keys.

    A reference equal to a ``record_key`` wins; otherwise it must match exactly one record by
    ``source`` + ``source_id``. One small query on ``records``.

    Raises:
        DecisionError: a reference is malformed, matches no record, or several.
    """
    for ref in refs:
        parts = ref.split(":", 1)
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise DecisionError(
                f"bad record reference {ref!r}: expected 'source:source_id' or "
                "'source:entity:source_id', e.g. 'ecommerce:customers:123'"
            )
    short = F.concat_ws(":", "source", "source_id")
    found = (
        records.filter(F.col("record_key").isin(refs) | short.isin(refs))
        .select("record_key", short.alias("short"))
        .collect()
    )
    out: dict[str, str] = {}
    for ref in refs:
        exact = [r.record_key for r in found if r.record_key == ref]
        matches = exact or sorted({r.record_key for r in found if r.short == ref})
        if not matches:
            raise DecisionError(
                f"no person record matches {ref!r} in silver.person_records: give "
                "'source:source_id' or 'source:entity:source_id' of an existing record"
            )
        if len(matches) > 1:
            raise DecisionError(
                f"{ref!r} is ambiguous, it matches {matches}: give 'source:entity:source_id'"
            )
        out[ref] = matches[0]
    return out


def _empty(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([], HUMAN_DECISIONS)


def add_decision(
    spark: SparkSession,
    cfg: AppConfig,
    kind: DecisionKind,
    left: str,
    right: str,
    reason: str,
    author: str | None = None,
) -> None:
    """Record that two records are (``must_link``) or are not (``cannot_link``) one person.

    Idempotent: the same decision added twice is one row (re-adding a revoked decision
    re-activates it). Adding the opposite kind on the same pair revokes the earlier decision.
    Applied by the next ``identify`` run. One MERGE into ``silver.human_decisions``.

    Args:
        spark: the session.
        cfg: the run configuration (lakehouse location).
        kind: ``must_link`` or ``cannot_link`` (``must-link`` is accepted too).
        left: a record, ``source:source_id`` or ``source:entity:source_id``.
        right: the other record.
        reason: why (required, kept for audit).
        author: who decided; defaults to the OS user.

    Raises:
        DecisionError: unknown kind, empty reason, unknown / ambiguous / identical records,
            or no ``silver.person_records`` table yet.
    """
    kind_n = normalise_kind(kind)
    if not reason or not reason.strip():
        raise DecisionError("a reason is required for a human decision")
    lh = _lakehouse(cfg)
    records = lh.read_or_none(spark, "silver", "person_records")
    if records is None:
        raise DecisionError(
            "silver.person_records does not exist yet: run the pipeline up to 'standardise' first"
        )
    keys = resolve_record_refs(records, [left, right])
    lo, hi = sorted((keys[left], keys[right]))
    if lo == hi:
        raise DecisionError(f"{left!r} and {right!r} are the same record {lo!r}")
    if author is None:
        try:
            author = getpass.getuser()
        except Exception:  # noqa: BLE001 - no user name in some containers
            author = None
    now = datetime.now(timezone.utc)
    did = decision_id(kind_n, lo, hi)
    other = CANNOT_LINK if kind_n == MUST_LINK else MUST_LINK
    source = spark.createDataFrame(
        [
            (did, kind_n, lo, hi, reason.strip(), author, now, True, None, "add"),
            (decision_id(other, lo, hi), other, lo, hi, None, None, now, False, now, "revoke"),
        ],
        T.StructType([*HUMAN_DECISIONS.fields, T.StructField("_op", T.StringType())]),
    )
    layer, table = DECISIONS_TABLE
    create_table(spark, lh, layer, table, HUMAN_DECISIONS)
    cols = [f.name for f in HUMAN_DECISIONS.fields]
    (
        lh.delta_table(spark, layer, table)
        .alias("t")
        .merge(source.alias("s"), "t.decision_id = s.decision_id")
        .whenMatchedUpdate(
            condition="s._op = 'revoke' AND t.active",
            set={"active": "false", "revoked_at": "s.revoked_at"},
        )
        .whenMatchedUpdate(
            condition="s._op = 'add' AND NOT t.active",
            set={
                "active": "true",
                "reason": "s.reason",
                "author": "s.author",
                "decided_at": "s.decided_at",
                "revoked_at": "null",
            },
        )
        .whenNotMatchedInsert(condition="s._op = 'add'", values={c: f"s.`{c}`" for c in cols})
        .execute()
    )
    logger.info("decision %s: %s %s %s", did, kind_n, lo, hi)  # the free-text reason may hold PII


def revoke_decision(spark: SparkSession, cfg: AppConfig, decision_id: str) -> bool:
    """Deactivate a decision; returns False if no active decision has this id."""
    lh = _lakehouse(cfg)
    layer, table = DECISIONS_TABLE
    if not lh.exists(spark, layer, table):
        return False
    dt = lh.delta_table(spark, layer, table)
    active = dt.toDF().filter((F.col("decision_id") == decision_id) & F.col("active"))
    if active.limit(1).count() == 0:
        return False
    dt.update(
        condition=(F.col("decision_id") == decision_id) & F.col("active"),
        set={"active": F.lit(False), "revoked_at": F.current_timestamp()},
    )
    logger.info("decision %s revoked", decision_id)
    return True


def list_decisions(spark: SparkSession, cfg: AppConfig, *, active_only: bool = False) -> DataFrame:
    """The decisions table (empty frame with its schema if none was added yet)."""
    df = _lakehouse(cfg).read_or_none(spark, *DECISIONS_TABLE)
    if df is None:
        df = _empty(spark)
    if active_only:
        df = df.filter(F.col("active"))
    return df.orderBy("decided_at", "decision_id")


def read_active_decisions(spark: SparkSession, lh: Lakehouse) -> DataFrame:
    """Active decisions (``kind``, ``record_key_l``, ``record_key_r``) for the identity stage."""
    df = lh.read_or_none(spark, *DECISIONS_TABLE)
    if df is None:
        df = _empty(spark)
    return df.filter(F.col("active")).select("kind", "record_key_l", "record_key_r")
