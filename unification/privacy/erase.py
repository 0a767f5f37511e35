"""Erasure (GDPR art. 17): ``unify erase --email X | --phone X | --customer-id Y | --record K``.

:func:`erase` removes a person from every layer, re-derives what depended on them, keeps them
out of later deliveries and leaves an audit record without personal data:

1. **Resolve** each request to person records. An email or phone is normalised with the
   standardisation code (``06 12 34 56 78`` -> ``+33612345678``) and looked up in
   ``silver.person_records`` *and* in every bronze person entity (all delivered versions, so an
   address the person had before also counts). A customer id resolves through
   ``gold.identity_graph``; a record key names one record. With ``privacy.erasure.scope:
   customer`` (default) an email, phone or customer-id request then takes every record of the
   customers found; a record request always erases that record only.
2. **Suppress**: the SHA-256 of each erased record key, normalised email and E.164 phone goes
   to ``ops.suppression``, which ingestion checks (re-delivering an old file does not bring the
   person back).
3. **Delete** (:func:`delete_keys`: one commit per table that holds something, a DELETE on
   hashed keys or a MERGE on key columns, so the person's values never appear in the Delta
   log; tables a few at a time in parallel):
   bronze rows of the records, of the events linked to them (orders, email events...), of the
   order lines of their orders, of web events of the cookies they logged in with, and (for an
   email request) any bronze row holding that address; quarantined rows whose raw text holds
   their email, phone or source id; ``gold`` orders, order lines, interactions, and the
   feature rows of customers with no record left; ``silver`` consent events, match pairs, human
   decisions and, last, person records.
4. **Re-cluster** the clusters that lost a record from the links that remain inside them
   (:mod:`unification.privacy.reclustering`): a record that bridged two people leaves two
   clusters. Then re-run ``identify`` (the part with most records keeps the customer id, the
   other gets a new id recorded as a ``split``; a customer with no record left is ``retired``)
   and ``survive`` (profiles and consent), plus ``privacy.erasure.rerun_stages``.
5. **Audit**: one ``ops.erasure_log`` row per request (hashed identifier, counts per table).

Old table versions and the golden table's change feed still hold the rows until ``unify
vacuum`` has run after the retention period (see docs/PRIVACY.md).

Re-running the same request after a failure is safe: person records are deleted last, so the
request still resolves to what is left.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import reduce
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification.privacy.errors import PrivacyError
from unification.privacy.hashing import sha256_hex
from unification.privacy.reclustering import recluster
from unification.privacy.suppression import add_to_suppression
from unification.privacy.tables import ERASURE_LOG, ERASURE_LOG_TABLE

if TYPE_CHECKING:
    from unification.config import AppConfig, EntityConfig, SourceConfig
    from unification.lakehouse import Lakehouse, Layer

logger = logging.getLogger(__name__)

KINDS = ("email", "phone", "customer_id", "record")
_KEYS = T.StructType([T.StructField("k", T.StringType(), False)])
_COMMIT_KEY = "spark.databricks.delta.commitInfo.userMetadata"
#: characters that may surround an id in a raw quarantined line without being part of it
_ID_BOUNDARY = r"[^A-Za-z0-9_@.+\-]"


@dataclass(frozen=True)
class ErasureRequest:
    """One erasure request: the kind of identifier and its value as the person gave it."""

    kind: str
    value: str
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise PrivacyError(f"unknown identifier kind {self.kind!r}; expected one of {KINDS}")
        if not self.value or not self.value.strip():
            raise PrivacyError(f"empty {self.kind} in an erasure request")

    def __repr__(self) -> str:  # never print the identifier itself
        return f"ErasureRequest(kind={self.kind!r}, request_id={self.request_id!r})"


@dataclass
class _Resolved:
    request: ErasureRequest
    identifier_hash: str | None = None
    normalised: str | None = None  # normalised email / E.164 phone / record key
    email_lower: str | None = None
    records: set[str] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)
    scope: str = "records"


@dataclass
class _Plan:
    """What an erasure touches. Holds personal data in memory only: never logged."""

    resolved: list[_Resolved]
    records: set[str]
    customers_touched: set[str]
    customers_erased: set[str]  # customers with no record left
    emails: set[str]  # normalised (matching form)
    emails_lower: set[str]  # as delivered, trimmed and lower-cased
    phones: set[str]  # E.164
    order_keys: set[str]
    cookies: set[tuple[str, str]]  # (source, anonymous id)
    sweep_emails: set[str]  # email requests: any bronze value equal to these is removed

    def suppression_entries(self) -> list[tuple[str, str, str | None]]:
        """(kind, hash, request id) of every identifier of the erased person(s)."""
        first = self.resolved[0].request.request_id if self.resolved else None
        owner: dict[str, str] = {}
        for r in self.resolved:
            for key in r.records:
                owner.setdefault(key, r.request.request_id)
        out: list[tuple[str, str, str | None]] = []
        out += [("record", sha256_hex(k), owner.get(k, first)) for k in sorted(self.records)]
        out += [("email", sha256_hex(e), first) for e in sorted(self.emails)]
        out += [("phone", sha256_hex(p), first) for p in sorted(self.phones)]
        for r in self.resolved:
            if r.request.kind == "record" and r.normalised and r.normalised.count(":") == 2:
                out.append(("record", sha256_hex(r.normalised), r.request.request_id))
        return out


def requests_from_options(
    *,
    emails: Sequence[str] = (),
    phones: Sequence[str] = (),
    customer_ids: Sequence[str] = (),
    records: Sequence[str] = (),
    request_id: str | None = None,
) -> list[ErasureRequest]:
    """Requests from command-line options. With ``request_id`` and several identifiers, the
    ids are ``<request_id>`` then ``<request_id>-2``, ``-3``... (one audit row each)."""
    pairs = [("email", v) for v in emails] + [("phone", v) for v in phones]
    pairs += [("customer_id", v) for v in customer_ids] + [("record", v) for v in records]
    out = []
    for i, (kind, value) in enumerate(pairs):
        if request_id:
            out.append(
                ErasureRequest(kind, value, request_id if i == 0 else f"{request_id}-{i + 1}")
            )
        else:
            out.append(ErasureRequest(kind, value))
    return out


def read_requests(path: str) -> list[ErasureRequest]:
    """Requests from a CSV file: ``kind,value[,request_id]`` per line (``#`` comments and a
    ``kind,value...`` header allowed). Keeps identifiers out of shell history."""
    import csv

    out = []
    with open(path, encoding="utf-8", newline="") as handle:
        for lineno, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
                continue
            if lineno == 1 and row[0].strip().lower() == "kind":
                continue
            if len(row) < 2:
                raise PrivacyError(f"{path}:{lineno}: expected kind,value[,request_id]")
            kind, value = row[0].strip(), row[1].strip()
            rid = row[2].strip() if len(row) > 2 and row[2].strip() else None
            out.append(ErasureRequest(kind, value, rid) if rid else ErasureRequest(kind, value))
    return out


# --------------------------------------------------------------------------- helpers
def _keys_df(spark: SparkSession, values: Iterable[str]) -> DataFrame:
    return spark.createDataFrame([(v,) for v in sorted(set(values))], _KEYS)


def _set_commit(spark: SparkSession, run_id: str | None) -> None:
    if run_id:
        spark.conf.set(_COMMIT_KEY, run_id)
    else:
        spark.conf.unset(_COMMIT_KEY)


def _union(frames: Sequence[DataFrame]) -> DataFrame | None:
    return reduce(lambda a, b: a.unionByName(b), frames) if frames else None


def _rows_keyed(df: DataFrame, *keyed: tuple[str, DataFrame]) -> DataFrame:
    """Rows of ``df`` whose ``column`` is one of the keys ``k`` of its key set, for any
    ``(column, key set)`` given (a row matching several appears once per match)."""
    frames = [df.join(keys, F.col(column) == F.col("k"), "left_semi") for column, keys in keyed]
    out = _union(frames)
    assert out is not None, "at least one (column, key set)"
    return out


#: Up to this many keys, a deletion is a Delta DELETE on the hashes of the keys; above, a
#: MERGE with the keys as source (a long predicate would bloat the Delta log).
INLINE_KEYS = 1000
_SEP = "\u001f"


def key_hash(values: Sequence[Any]) -> str:
    """SHA-256 of key values joined by U+001F, as :func:`key_hash_col` computes it in Spark."""
    return sha256_hex(_SEP.join(str(v) for v in values))


def key_hash_col(key: Sequence[str]) -> Column:
    """SHA-256 of the key columns (as text) joined by U+001F."""
    return F.sha2(F.concat_ws(_SEP, *[F.col(f"`{k}`").cast("string") for k in key]), 256)


def delete_keys(
    lh: Lakehouse,
    layer: Layer,
    table: str,
    matched: DataFrame,
    key: Sequence[str],
    *,
    run_id: str,
    dry_run: bool = False,
    metadata: bool = True,
) -> int:
    """Delete the rows of ``layer.table`` whose ``key`` is in ``matched``.

    The rows are found first (one Spark job); then one commit: a Delta DELETE whose predicate
    names only SHA-256 hashes of the keys (up to :data:`INLINE_KEYS`), else a MERGE whose
    condition names only key columns. Either way no value of the person (not even a record
    id) is written to the Delta log. No commit when nothing matches.

    Returns:
        Rows matched (deleted unless ``dry_run``).
    """
    spark = matched.sparkSession
    keys = matched.select(*key).distinct()
    sample = keys.limit(INLINE_KEYS + 1).collect()
    if not sample:
        return 0
    if metadata and not dry_run:
        _set_commit(spark, run_id)
    try:
        if len(sample) <= INLINE_KEYS:
            if not dry_run:
                hashes = sorted({key_hash([r[k] for k in key]) for r in sample})
                lh.delta_table(spark, layer, table).delete(key_hash_col(key).isin(hashes))
            return len(sample)
        keys = keys.cache()
        try:
            n = keys.count()
            if not dry_run:
                cond = " AND ".join(f"t.`{k}` = s.`{k}`" for k in key)
                (
                    lh.delta_table(spark, layer, table)
                    .alias("t")
                    .merge(keys.alias("s"), cond)
                    .whenMatchedDelete()
                    .execute()
                )
        finally:
            keys.unpersist()
        return int(n)
    finally:
        if metadata and not dry_run:
            _set_commit(spark, None)


def purge_deletion_vectors(spark: SparkSession, lh: Lakehouse, layer: Layer, table: str) -> bool:
    """Rewrite files so that deleted rows are physically gone from the current version.

    Only needed when the table uses deletion vectors (a DELETE/MERGE then only marks rows);
    ``REORG TABLE ... APPLY (PURGE)``. Returns whether it ran.
    """
    if not lh.exists(spark, layer, table):
        return False
    detail = lh.delta_table(spark, layer, table).detail().select("properties").first()
    props = (detail["properties"] if detail else None) or {}
    if str(props.get("delta.enableDeletionVectors", "false")).lower() != "true":
        return False
    spark.sql(f"REORG TABLE {lh.name(layer, table)} APPLY (PURGE)")
    return True


# --------------------------------------------------------------------------- resolution
def _normalise_requests(
    spark: SparkSession, cfg: AppConfig, requests: Sequence[ErasureRequest]
) -> list[_Resolved]:
    """Normalise emails and phones with the standardisation code (one small Spark job)."""
    from unification.standardise import columns as C

    resolved = [_Resolved(r) for r in requests]
    contact = [(i, r.kind, r.value) for i, r in enumerate(requests) if r.kind in ("email", "phone")]
    if contact:
        s = cfg.standardise
        df = spark.createDataFrame(contact, "i int, kind string, value string")
        rows = df.select(
            "i",
            C.normalise_email(F.col("value"), s.email).alias("email"),
            F.lower(C.email_raw(F.col("value"))).alias("email_lower"),
            C.phone_e164(F.col("value"), F.lit(s.default_region.upper()), s.phone_validation).alias(
                "phone"
            ),
        ).collect()
        for row in rows:
            res = resolved[int(row["i"])]
            if res.request.kind == "email":
                res.normalised, res.email_lower = row["email"], row["email_lower"]
                if not res.normalised and not res.email_lower:
                    raise PrivacyError(f"request {res.request.request_id}: not an email address")
            else:
                res.normalised = row["phone"]
                if not res.normalised:
                    raise PrivacyError(f"request {res.request.request_id}: not a phone number")
    for res in resolved:
        kind, value = res.request.kind, res.request.value.strip()
        if kind == "customer_id":
            res.normalised = value
        elif kind == "record":
            parts = value.split(":")
            if len(parts) not in (2, 3) or not all(parts):
                raise PrivacyError(
                    f"request {res.request.request_id}: a record is 'source:entity:source_id' "
                    "or 'source:source_id'"
                )
            res.normalised = value
        res.identifier_hash = sha256_hex(res.normalised or res.email_lower or value)
    return resolved


def _bronze_contact_hits(
    spark: SparkSession,
    cfg: AppConfig,
    lh: Lakehouse,
    emails: set[str],
    lowers: set[str],
    phones: set[str],
) -> list[tuple[str, str | None, str | None, str | None, str | None]]:
    """(record_key, email, email_raw lower, phone, mobile) of bronze person rows (every
    delivered version) whose normalised email or phone is one of those given."""
    from unification.standardise.records import (
        bronze_table_name,
        mapped_frame,
        person_entities,
        standardise_persons,
    )

    if not (emails or lowers or phones):
        return []
    frames = []
    for source, entity, ecfg in person_entities(cfg):
        assert ecfg.person is not None
        if not {"email", "phone", "mobile"} & set(ecfg.person.fields):
            continue
        bronze = lh.read_or_none(spark, "bronze", bronze_table_name(source, entity))
        if bronze is None:
            continue
        std = mapped_frame(bronze, source, entity, ecfg.person).transform(
            standardise_persons(cfg.standardise)
        )
        frames.append(
            std.select(
                "record_key", "email", F.lower("email_raw").alias("email_lower"), "phone", "mobile"
            )
        )
    df = _union(frames)
    if df is None:
        return []
    cond = F.lit(False)
    if emails:
        cond = cond | F.col("email").isin(sorted(emails))
    if lowers:
        cond = cond | F.col("email_lower").isin(sorted(lowers))
    if phones:
        cond = cond | F.col("phone").isin(sorted(phones)) | F.col("mobile").isin(sorted(phones))
    return [
        (r["record_key"], r["email"], r["email_lower"], r["phone"], r["mobile"])
        for r in df.where(cond).distinct().collect()
    ]


def resolve(
    spark: SparkSession,
    cfg: AppConfig,
    requests: Sequence[ErasureRequest],
    *,
    scope: str | None = None,
    max_customers: int | None = None,
) -> _Plan:
    """Resolve requests to records, customers and identifiers (nothing is written).

    A handful of Spark jobs whatever the number of requests: the request values, bronze person
    rows, silver records, the identity graph, then the person's orders and cookies.

    Raises:
        PrivacyError: a malformed request, an ambiguous ``source:source_id``, or a request that
            resolves to more than ``max_customers`` customers.
    """
    from unification.lakehouse import Lakehouse

    lh = Lakehouse(cfg.lakehouse)
    scope = scope or cfg.privacy.erasure.scope
    resolved = _normalise_requests(spark, cfg, requests)
    people = lh.read_or_none(spark, "silver", "person_records")
    graph = lh.read_or_none(spark, "gold", "identity_graph")

    emails = {r.normalised for r in resolved if r.request.kind == "email" and r.normalised}
    lowers = {r.email_lower for r in resolved if r.request.kind == "email" and r.email_lower}
    phones = {r.normalised for r in resolved if r.request.kind == "phone" and r.normalised}
    record_reqs = [r for r in resolved if r.request.kind == "record"]
    short = {r.normalised for r in record_reqs if r.normalised and r.normalised.count(":") == 1}

    # person rows holding a requested email / phone: every bronze version, and silver
    hits = _bronze_contact_hits(spark, cfg, lh, emails, lowers, phones)
    silver_rows: list[Any] = []
    if people is not None and (emails or lowers or phones or short):
        low = F.lower(F.trim("email_raw"))
        cond = F.lit(False)
        if emails:
            cond = cond | F.col("email").isin(sorted(emails))
        if lowers:
            cond = cond | low.isin(sorted(lowers))
        if phones:
            cond = cond | F.col("phone").isin(sorted(phones)) | F.col("mobile").isin(sorted(phones))
        if short:
            cond = cond | F.concat_ws(":", "source", "source_id").isin(sorted(short))
        silver_rows = (
            people.where(cond)
            .select(
                "record_key",
                "source",
                "source_id",
                "email",
                low.alias("email_lower"),
                "phone",
                "mobile",
            )
            .collect()
        )
    hits += [
        (r["record_key"], r["email"], r["email_lower"], r["phone"], r["mobile"])
        for r in silver_rows
        if (r["email"] in emails or r["email_lower"] in lowers)
        or (phones and ({r["phone"], r["mobile"]} & phones))
    ]
    for res in resolved:
        if res.request.kind == "email":
            res.records = {
                k
                for k, e, low_, _p, _m in hits
                if (e is not None and e == res.normalised)
                or (low_ is not None and low_ == res.email_lower)
            }
        elif res.request.kind == "phone":
            res.records = {k for k, _e, _l, p, m in hits if res.normalised in (p, m)}
    by_short: dict[str, set[str]] = {}
    for r in silver_rows:
        by_short.setdefault(f"{r['source']}:{r['source_id']}", set()).add(r["record_key"])
    for res in record_reqs:
        if res.normalised in short:
            keys = by_short.get(res.normalised, set())
            if len(keys) > 1:
                raise PrivacyError(
                    f"request {res.request.request_id}: the record is ambiguous ({len(keys)} "
                    "entities of that source use that id); give source:entity:source_id"
                )
            if keys:
                res.normalised = next(iter(keys))
        if res.normalised and res.normalised.count(":") == 2:
            res.records = {res.normalised}
            res.identifier_hash = sha256_hex(res.normalised)
        res.scope = "record"

    # the identity graph: customers of the records found and of customer-id requests, with
    # all their records and those records' contact values
    seeds = {k for r in resolved for k in r.records}
    wanted = {r.normalised for r in resolved if r.request.kind == "customer_id" and r.normalised}
    graph_rows: list[Any] = []
    if graph is not None and (seeds or wanted):
        seed_df = F.broadcast(_keys_df(spark, seeds).withColumnRenamed("k", "record_key"))
        customers = (
            graph.join(seed_df, "record_key", "left_semi")
            .select("customer_id")
            .unionByName(_keys_df(spark, wanted).withColumnRenamed("k", "customer_id"))
            .distinct()
        )
        rows = graph.join(F.broadcast(customers), "customer_id", "left_semi").select(
            "record_key", "customer_id"
        )
        if people is not None:
            rows = rows.join(
                people.select(
                    "record_key",
                    "email",
                    F.lower(F.trim("email_raw")).alias("email_lower"),
                    "phone",
                    "mobile",
                ),
                "record_key",
                "left",
            )
        graph_rows = rows.collect()
    by_customer: dict[str, set[str]] = {}
    customer_of: dict[str, str] = {}
    contact: dict[str, tuple[Any, Any, Any, Any]] = {}
    for row in graph_rows:
        by_customer.setdefault(row["customer_id"], set()).add(row["record_key"])
        customer_of[row["record_key"]] = row["customer_id"]
        if "email" in row.asDict():
            contact[row["record_key"]] = (
                row["email"],
                row["email_lower"],
                row["phone"],
                row["mobile"],
            )
    for k, e, low_, p, m in hits:
        contact.setdefault(k, (e, low_, p, m))
    for res in resolved:
        if res.request.kind == "customer_id":
            res.customers = {res.normalised} if res.normalised in by_customer else set()
            res.records = set(by_customer.get(res.normalised or "", set()))
            res.scope = "customer"
        elif res.request.kind in ("email", "phone"):
            res.customers = {customer_of[k] for k in res.records if k in customer_of}
            res.scope = scope
            if scope == "customer":
                for cid in res.customers:
                    res.records |= by_customer.get(cid, set())
        else:
            res.customers = {customer_of[k] for k in res.records if k in customer_of}
        if max_customers is not None and len(res.customers) > max_customers:
            raise PrivacyError(
                f"request {res.request.request_id} ({res.request.kind}) resolves to "
                f"{len(res.customers)} customers (more than {max_customers}): check it with "
                "--dry-run, name the customer with --customer-id, or pass --force"
            )

    records = {k for r in resolved for k in r.records}
    touched = {customer_of[k] for k in records if k in customer_of}
    erased_customers = {c for c in touched if by_customer.get(c, set()) <= records}
    plan_emails, plan_lowers, plan_phones = set(emails), set(lowers), set(phones)
    for key in records:
        e, low_, p, m = contact.get(key, (None, None, None, None))
        plan_emails.update(x for x in (e,) if x)
        plan_lowers.update(x for x in (low_,) if x)
        plan_phones.update(x for x in (p, m) if x)

    # their orders and the cookies they logged in with (one job)
    order_keys: set[str] = set()
    cookies: set[tuple[str, str]] = set()
    if records or erased_customers:
        rec_df = F.broadcast(_keys_df(spark, records).withColumnRenamed("k", "record_key"))
        cust_df = F.broadcast(
            _keys_df(spark, erased_customers).withColumnRenamed("k", "customer_id")
        )
        parts: list[DataFrame] = []
        orders = lh.read_or_none(spark, "gold", "orders")
        if orders is not None:
            mine = orders.join(rec_df, "record_key", "left_semi").unionByName(
                orders.join(cust_df, "customer_id", "left_semi")
            )
            parts.append(
                mine.select(
                    F.lit("order").alias("kind"),
                    F.lit(None).cast("string").alias("a"),
                    F.col("order_key").alias("b"),
                )
            )
        events = lh.read_or_none(spark, "gold", "interactions")
        if events is not None:
            mine = events.join(rec_df, "record_key", "left_semi").unionByName(
                events.join(cust_df, "customer_id", "left_semi")
            )
            parts.append(
                mine.where(F.col("anonymous_id").isNotNull()).select(
                    F.lit("cookie").alias("kind"),
                    F.col("source").alias("a"),
                    F.col("anonymous_id").alias("b"),
                )
            )
        found = _union(parts)
        for row in found.distinct().collect() if found is not None else []:
            if row["kind"] == "order":
                order_keys.add(row["b"])
            else:
                cookies.add((row["a"], row["b"]))
    return _Plan(
        resolved=resolved,
        records=records,
        customers_touched=touched,
        customers_erased=erased_customers,
        emails=plan_emails,
        emails_lower=plan_lowers,
        phones=plan_phones,
        order_keys=order_keys,
        cookies=cookies,
        sweep_emails=emails | lowers,
    )


# --------------------------------------------------------------------------- deletions
def _record_key_of(source: str, entity_name: str, entity: EntityConfig) -> list[Any]:
    """Columns giving, for a bronze row, the person record keys it carries or links to."""
    from unification.interactions.events import link_record_key
    from unification.standardise import columns as C

    out = []
    if entity.person is not None:
        sid = C.blank_to_null(F.expr(entity.person.source_id).cast("string"))
        out.append(F.concat(F.lit(f"{source}:{entity_name}:"), sid))
    for mapping in entity.events:
        if mapping.links:
            out.append(link_record_key(mapping.links))
    return out


def _bronze_matches(
    bronze: DataFrame,
    source: SourceConfig,
    entity_name: str,
    entity: EntityConfig,
    plan: _Plan,
    dfs: dict[str, DataFrame],
) -> DataFrame | None:
    """(``_batch_id``, ``_row_number``) of the bronze rows of the erased person(s)."""
    key = ["_batch_id", "_row_number"]
    frames: list[DataFrame] = []
    record_cols = _record_key_of(source.name, entity_name, entity)
    for i, col in enumerate(record_cols):
        frames.append(
            bronze.select(*key, col.alias(f"_rk{i}"))
            .join(dfs["records"], F.col(f"_rk{i}") == F.col("k"), "left_semi")
            .select(*key)
        )
    linked_to_other = None
    if record_cols:
        # a row linked to someone else (not erased) is theirs, whatever cookie it carries
        any_link = F.coalesce(*record_cols)
        linked_to_other = any_link
    for mapping in entity.events:
        order_id = mapping.fields.get("order_id")
        if mapping.kind in ("order", "order_line") and order_id and plan.order_keys:
            okey = F.concat(F.lit(f"{source.name}:"), F.trim(F.expr(order_id).cast("string")))
            frames.append(
                bronze.select(*key, okey.alias("_ok"))
                .join(dfs["orders"], F.col("_ok") == F.col("k"), "left_semi")
                .select(*key)
            )
        anon = mapping.fields.get("anonymous_id")
        cookies = {a for s, a in plan.cookies if s == source.name}
        if anon and cookies:
            cookie_df = dfs[f"cookies:{source.name}"]
            rows = bronze.select(
                *key,
                F.trim(F.expr(anon).cast("string")).alias("_anon"),
                (linked_to_other if linked_to_other is not None else F.lit(None))
                .cast("string")
                .alias("_link"),
            )
            rows = rows.join(
                dfs["records"].withColumnRenamed("k", "_erased"),
                F.col("_link") == F.col("_erased"),
                "left",
            )
            frames.append(
                rows.where(F.col("_link").isNull() | F.col("_erased").isNotNull())
                .join(cookie_df, F.col("_anon") == F.col("k"), "left_semi")
                .select(*key)
            )
    if plan.sweep_emails:
        strings = [
            f.name
            for f in bronze.schema.fields
            if isinstance(f.dataType, T.StringType) and not f.name.startswith("_")
        ]
        if strings:
            needle = dfs["sweep"]
            values = F.array(*[F.lower(F.trim(F.col(f"`{c}`"))) for c in strings])
            frames.append(
                bronze.select(*key, F.explode(values).alias("_v"))
                .join(needle, F.col("_v") == F.col("k"), "left_semi")
                .select(*key)
            )
    return _union(frames)


def _quarantine_needles(cfg: AppConfig, plan: _Plan) -> list[tuple[str, str, str | None]]:
    """(kind, needle, ``source:entity`` scope) looked for in quarantined raw text."""
    import phonenumbers

    out: list[tuple[str, str, str | None]] = []
    for e in sorted(plan.emails | plan.emails_lower):
        out.append(("text", e.lower(), None))
    for p in sorted(plan.phones):
        try:
            national = str(phonenumbers.parse(p, None).national_number)
        except phonenumbers.NumberParseException:
            national = re.sub(r"\D", "", p)
        if len(national) >= 7:
            out.append(("digits", national, None))
    # source ids, only in the quarantine of the record's entity and of entities linking to it
    linking: dict[str, set[str]] = {}
    for source, name, entity in cfg.entities():
        own = f"{source.name}:{name}"
        linking.setdefault(own, set()).add(own)
        for mapping in entity.events:
            for target in mapping.links:
                linking.setdefault(target, set()).add(own)
    for key in sorted(plan.records):
        parts = key.split(":", 2)
        if len(parts) != 3:
            continue
        target, sid = f"{parts[0]}:{parts[1]}", parts[2]
        regex = f"(^|{_ID_BOUNDARY}){re.escape(sid)}({_ID_BOUNDARY}|$)"
        for scope in sorted(linking.get(target, {target})):
            out.append(("id", regex, scope))
    return out


def _quarantine_matches(
    spark: SparkSession, quarantine: DataFrame, needles: list[tuple[str, str, str | None]]
) -> DataFrame | None:
    if not needles:
        return None
    key = ["source", "entity", "batch_id", "row_number"]
    nd = F.broadcast(spark.createDataFrame(needles, "n_kind string, needle string, n_scope string"))
    q = quarantine.select(
        *key,
        F.lower(F.col("raw")).alias("_low"),
        F.regexp_replace(F.col("raw"), r"[^0-9]", "").alias("_digits"),
        F.col("raw").alias("_raw"),
        F.concat_ws(":", "source", "entity").alias("_scope"),
    )
    cond = (
        ((F.col("n_kind") == "text") & F.col("_low").contains(F.col("needle")))
        | ((F.col("n_kind") == "digits") & F.col("_digits").contains(F.col("needle")))
        | (
            (F.col("n_kind") == "id")
            & (F.col("_scope") == F.col("n_scope"))
            & F.expr("_raw rlike needle")
        )
    )
    return q.join(nd, cond, "inner").select(*key)


@dataclass
class ErasureResult:
    """Counts of an erasure run (no personal data)."""

    run_id: str
    requests: int
    records_erased: int
    customers_affected: int
    customers_erased: int
    clusters_recomputed: int
    rows_deleted: dict[str, int]
    suppressed_hashes: int
    stages: dict[str, dict[str, Any]]
    not_found: int
    dry_run: bool
    seconds: dict[str, float] = field(default_factory=dict)

    def metrics(self) -> dict[str, Any]:
        """For the run log and the CLI."""
        out: dict[str, Any] = {
            "requests": self.requests,
            "requests_not_found": self.not_found,
            "records_erased": self.records_erased,
            "customers_affected": self.customers_affected,
            "customers_erased": self.customers_erased,
            "clusters_recomputed": self.clusters_recomputed,
            "rows_deleted": dict(sorted(self.rows_deleted.items())),
            "rows_deleted_total": sum(self.rows_deleted.values()),
            "suppressed_hashes": self.suppressed_hashes,
            "dry_run": self.dry_run,
            "phase_seconds": dict(self.seconds),
        }
        for stage, m in self.stages.items():
            for key in ("ids_split", "ids_retired", "ids_continued", "profiles_deleted"):
                if key in m:
                    out[f"{stage}_{key}"] = m[key]
        return out


def erase(
    spark: SparkSession,
    cfg: AppConfig,
    requests: Sequence[ErasureRequest],
    run_id: str,
    *,
    scope: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    max_customers: int = 5,
) -> ErasureResult:
    """Erase the persons named by ``requests`` everywhere (see the module docstring).

    Args:
        spark: the session.
        cfg: the run configuration (``privacy:`` section).
        requests: one or several requests (each gets its own audit row; they are erased
            together, with one re-run of the stages).
        run_id: recorded on every commit and in the audit rows.
        scope: overrides ``privacy.erasure.scope``.
        dry_run: resolve and count, write nothing.
        force: allow a request that resolves to more than ``max_customers`` customers.
        max_customers: guard against an identifier shared by many people.

    Returns:
        Counts (no personal data).
    """
    from unification.lakehouse import Lakehouse
    from unification.pipeline import run_stage

    if not requests:
        raise PrivacyError("no erasure request given")
    lh = Lakehouse(cfg.lakehouse)
    requested_at = datetime.now(timezone.utc).replace(tzinfo=None)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    plan = resolve(
        spark, cfg, requests, scope=scope, max_customers=None if force else max_customers
    )
    seconds["resolve"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    deleted: dict[str, int] = {}
    dfs = {
        "records": F.broadcast(_keys_df(spark, plan.records)),
        "orders": F.broadcast(_keys_df(spark, plan.order_keys)),
        "sweep": F.broadcast(_keys_df(spark, plan.sweep_emails)),
        "customers": F.broadcast(_keys_df(spark, plan.customers_erased)),
    }
    for src in {s for s, _ in plan.cookies}:
        dfs[f"cookies:{src}"] = F.broadcast(
            _keys_df(spark, {a for s, a in plan.cookies if s == src})
        )

    suppressed = 0
    if plan.records or plan.sweep_emails or plan.phones:
        entries = plan.suppression_entries()
        suppressed = len({(k, h) for k, h, _ in entries})
        if not dry_run:
            add_to_suppression(spark, lh, entries, run_id=run_id)

    # deletions are planned first, then run table by table in a few threads (each is a Delta
    # commit of its own table; small tables spend their time in the driver, not the cores);
    # person records go last: they are how a re-run of the same request finds the person
    tasks: list[tuple[str, Callable[[], int]]] = []
    last: list[tuple[str, Callable[[], int]]] = []

    def remove(
        layer: Layer,
        table: str,
        matched: DataFrame | None,
        key: Sequence[str],
        *,
        final: bool = False,
    ) -> None:
        if matched is None or not lh.exists(spark, layer, table):
            return

        def run() -> int:
            return delete_keys(
                lh, layer, table, matched, key, run_id=run_id, dry_run=dry_run, metadata=False
            )

        (last if final else tasks).append((f"{layer}.{table}", run))

    has_targets = bool(
        plan.records or plan.sweep_emails or plan.phones or plan.order_keys or plan.cookies
    )
    if has_targets:
        # bronze: every entity table, then the quarantine
        for source, name, entity in cfg.entities():
            table = f"{source.name}_{name}"
            bronze = lh.read_or_none(spark, "bronze", table)
            if bronze is None or not {"_batch_id", "_row_number"} <= set(bronze.columns):
                continue
            remove(
                "bronze",
                table,
                _bronze_matches(bronze, source, name, entity, plan, dfs),
                ["_batch_id", "_row_number"],
            )
        quarantine = lh.read_or_none(spark, "bronze", "_quarantine")
        if quarantine is not None:
            remove(
                "bronze",
                "_quarantine",
                _quarantine_matches(spark, quarantine, _quarantine_needles(cfg, plan)),
                ["source", "entity", "batch_id", "row_number"],
            )

    clusters_recomputed = 0
    if plan.records or plan.customers_erased:
        recs, custs = dfs["records"], dfs["customers"]
        # gold 360 and features
        orders = lh.read_or_none(spark, "gold", "orders")
        if orders is not None:
            remove(
                "gold",
                "orders",
                _rows_keyed(
                    orders,
                    ("order_key", dfs["orders"]),
                    ("record_key", recs),
                    ("customer_id", custs),
                ),
                ["order_key"],
            )
        lines = lh.read_or_none(spark, "gold", "order_lines")
        if lines is not None:
            remove(
                "gold",
                "order_lines",
                _rows_keyed(lines, ("order_key", dfs["orders"]), ("customer_id", custs)),
                ["line_key"],
            )
        events = lh.read_or_none(spark, "gold", "interactions")
        if events is not None:
            cookie_rows = [(s, a) for s, a in sorted(plan.cookies)]
            cookie_df = F.broadcast(
                spark.createDataFrame(cookie_rows, "c_source string, c_anon string")
            )
            anon = (
                events.join(
                    recs.withColumnRenamed("k", "_erased"),
                    F.col("record_key") == F.col("_erased"),
                    "left",
                )
                .where(F.col("record_key").isNull() | F.col("_erased").isNotNull())
                .join(
                    cookie_df,
                    (F.col("source") == F.col("c_source"))
                    & (F.col("anonymous_id") == F.col("c_anon")),
                    "left_semi",
                )
            )
            order_events = dfs["orders"].select(F.concat(F.lit("order:"), F.col("k")).alias("k"))
            remove(
                "gold",
                "interactions",
                _rows_keyed(
                    events,
                    ("record_key", recs),
                    ("customer_id", custs),
                    ("event_key", order_events),
                ).unionByName(anon.select(*events.columns)),
                ["event_key"],
            )
        for table in ("customer_features", "lifecycle_transitions"):
            feats = lh.read_or_none(spark, "gold", table)
            if feats is not None:
                remove(
                    "gold",
                    table,
                    _rows_keyed(feats, ("customer_id", custs)),
                    ["customer_id", "as_of"],
                )
        # silver: clusters re-derived, then consent, pairs, decisions, person records last
        clusters = lh.read_or_none(spark, "silver", "record_clusters")
        pairs = lh.read_or_none(spark, "silver", "match_pairs")
        if clusters is not None:
            erased_df = recs.withColumnRenamed("k", "record_key")
            empty_pairs = spark.createDataFrame(
                [],
                "record_key_l string, record_key_r string, match_probability double, "
                "match_rule string",
            )
            rows, clusters_recomputed = recluster(
                clusters,
                pairs if pairs is not None else empty_pairs,
                erased_df,
                cfg.matching.match_threshold,
            )
            tasks.append(
                (
                    "silver.record_clusters",
                    lambda: _rewrite_clusters(
                        spark, lh, clusters, rows, plan.records, run_id=run_id, dry_run=dry_run
                    ),
                )
            )
        consent = lh.read_or_none(spark, "silver", "consent_events")
        if consent is not None:
            remove(
                "silver",
                "consent_events",
                _rows_keyed(consent, ("record_key", recs)),
                ["event_key"],
            )
        if pairs is not None:
            remove(
                "silver",
                "match_pairs",
                _rows_keyed(pairs, ("record_key_l", recs), ("record_key_r", recs)),
                ["record_key_l", "record_key_r"],
            )
        decisions = lh.read_or_none(spark, "silver", "human_decisions")
        if decisions is not None:
            remove(
                "silver",
                "human_decisions",
                _rows_keyed(decisions, ("record_key_l", recs), ("record_key_r", recs)),
                ["decision_id"],
            )
        people = lh.read_or_none(spark, "silver", "person_records")
        if people is not None:
            remove(
                "silver",
                "person_records",
                _rows_keyed(people, ("record_key", recs)),
                ["record_key"],
                final=True,
            )

    seconds["plan_deletes"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    _set_commit(spark, run_id)
    try:
        for batch in (tasks, last):
            with ThreadPoolExecutor(max_workers=4) as pool:
                counts = list(pool.map(lambda task: task[1](), batch))
            for (name, _), n in zip(batch, counts, strict=True):
                if n:
                    deleted[name] = deleted.get(name, 0) + n
    finally:
        _set_commit(spark, None)
    seconds["delete"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()

    stages: dict[str, dict[str, Any]] = {}
    if not dry_run and (plan.records or deleted):
        if lh.exists(spark, "silver", "person_records"):
            for stage in cfg.privacy.erasure.rerun_stages:
                stages[stage] = run_stage(spark, cfg, stage, run_id).metrics
        purge = sorted(set(deleted) | {"gold.identity_graph", "gold.golden_profiles"})
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(
                pool.map(
                    lambda q: purge_deletion_vectors(spark, lh, *q.split(".", 1)),
                    purge,
                )
            )

    seconds["rerun_stages"] = round(time.perf_counter() - t0, 2)
    result = ErasureResult(
        run_id=run_id,
        requests=len(plan.resolved),
        records_erased=len(plan.records),
        customers_affected=len(plan.customers_touched),
        customers_erased=len(plan.customers_erased),
        clusters_recomputed=clusters_recomputed,
        rows_deleted=deleted,
        suppressed_hashes=suppressed,
        stages=stages,
        not_found=sum(1 for r in plan.resolved if not r.records),
        dry_run=dry_run,
        seconds=seconds,
    )
    if not dry_run:
        _write_audit(spark, lh, plan, result, requested_at)
    logger.info(
        "erase %s: %d request(s), %d record(s), %d customer(s) affected, %d row(s) deleted%s",
        run_id,
        result.requests,
        result.records_erased,
        result.customers_affected,
        sum(deleted.values()),
        " (dry run)" if dry_run else "",
    )
    return result


def _rewrite_clusters(
    spark: SparkSession,
    lh: Lakehouse,
    clusters: DataFrame,
    rows: list[tuple[str, str, int]],
    erased: set[str],
    *,
    run_id: str,
    dry_run: bool,
) -> int:
    """One MERGE on ``silver.record_clusters``: erased records deleted, the remaining records of
    their clusters re-labelled. Returns the rows deleted or changed."""
    ops: list[tuple[str, str | None, int | None, str]] = [
        (k, None, None, "delete") for k in sorted(erased)
    ]
    ops += [(k, c, n, "update") for k, c, n in rows]
    if not ops:
        return 0
    schema = "record_key string, new_cluster_id string, new_size long, _op string"
    src = spark.createDataFrame(ops, schema)
    current = clusters.select("record_key", "cluster_id", "cluster_size")
    diff = (
        src.join(current, "record_key")
        .where(
            (F.col("_op") == "delete")
            | ~F.col("cluster_id").eqNullSafe(F.col("new_cluster_id"))
            | ~F.col("cluster_size").eqNullSafe(F.col("new_size"))
        )
        .select("record_key", "new_cluster_id", "new_size", "_op")
        .cache()
    )
    try:
        n = diff.count()
        if n and not dry_run:
            (
                lh.delta_table(spark, "silver", "record_clusters")
                .alias("t")
                .merge(diff.alias("s"), "t.record_key = s.record_key")
                .whenMatchedDelete(condition="s._op = 'delete'")
                .whenMatchedUpdate(
                    condition="s._op = 'update'",
                    set={
                        "cluster_id": "s.new_cluster_id",
                        "cluster_size": "s.new_size",
                        "_run_id": F.lit(run_id),
                    },
                )
                .execute()
            )
    finally:
        diff.unpersist()
    return int(n)


def _write_audit(
    spark: SparkSession, lh: Lakehouse, plan: _Plan, result: ErasureResult, at: datetime
) -> None:
    done = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = []
    for res in plan.resolved:
        rows.append(
            (
                res.request.request_id,
                result.run_id,
                at,
                done,
                res.request.kind,
                res.identifier_hash,
                res.scope,
                "erased" if res.records else "not_found",
                len(res.records),
                len(res.customers),
                dict(result.rows_deleted),
                result.suppressed_hashes,
            )
        )
    layer, table = ERASURE_LOG_TABLE
    df = spark.createDataFrame(rows, ERASURE_LOG)
    if not lh.exists(spark, layer, table):
        lh.write(df, layer, table, mode="append", run_id=result.run_id)
    else:
        lh.merge(df, layer, table, on=["request_id"], run_id=result.run_id)
