"""Customer 360 lookup: find a customer by any identifier and gather everything known.

Used by ``notebooks/03_customer_360_lookup.py``. Look-ups standardise the given email or phone
exactly as the pipeline does (``unification.standardise.columns``), so a number typed
``06 12 34 56 78`` finds ``+33612345678``.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.config import AppConfig
from unification.errors import UnificationError
from unification.lakehouse import Lakehouse


class CustomerNotFoundError(UnificationError, LookupError):
    """No customer matches the identifiers given."""


def _record_key_filter(record: str) -> F.Column:
    parts = record.split(":")
    if len(parts) == 3:
        return F.col("record_key") == record
    if len(parts) == 2:
        return (F.col("source") == parts[0]) & (F.col("source_id") == parts[1])
    raise ValueError(
        f"record must be 'source:source_id' or 'source:entity:source_id', got {record!r}"
    )


def find_customer_ids(
    spark: SparkSession,
    cfg: AppConfig,
    *,
    customer_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    record: str | None = None,
) -> list[str]:
    """Customer ids matching every identifier given (at least one is required).

    Raises:
        ValueError: no identifier given.
        CustomerNotFoundError: nothing matches.
    """
    from unification.standardise.columns import normalise_email, phone_e164

    if not any((customer_id, email, phone, record)):
        raise ValueError("give customer_id, email, phone or record")
    lh = Lakehouse(cfg.lakehouse)
    graph = lh.read(spark, "gold", "identity_graph").select(
        "record_key", "source", "source_id", "customer_id"
    )
    people = lh.read(spark, "silver", "person_records").select(
        "record_key", "email", "phone", "mobile"
    )
    rows = graph.join(people, "record_key", "left")
    conditions = []
    if customer_id:
        conditions.append(F.col("customer_id") == customer_id)
    if record:
        conditions.append(_record_key_filter(record))
    if email:
        conditions.append(F.col("email") == normalise_email(F.lit(email), cfg.standardise.email))
    if phone:
        e164 = phone_e164(F.lit(phone), F.lit(cfg.standardise.default_region))
        conditions.append((F.col("phone") == e164) | (F.col("mobile") == e164))
    cond = conditions[0]
    for extra in conditions[1:]:
        cond = cond & extra
    ids = sorted(
        {r[0] for r in rows.where(cond).select("customer_id").distinct().limit(100).collect()}
    )
    if not ids:
        raise CustomerNotFoundError("no customer matches the identifiers given")
    return ids


def customer_360(
    spark: SparkSession, cfg: AppConfig, customer_ids: list[str]
) -> dict[str, DataFrame]:
    """Profile, source records, timeline and features of ``customer_ids`` (DataFrames)."""
    lh = Lakehouse(cfg.lakehouse)
    ids = F.col("customer_id").isin(customer_ids)
    graph = lh.read(spark, "gold", "identity_graph").where(ids)
    records = graph.join(
        lh.read(spark, "silver", "person_records").drop("source", "source_id", "entity"),
        "record_key",
        "left",
    )
    out = {
        "profile": lh.read(spark, "gold", "golden_profiles").where(ids),
        "records": records.orderBy("source", "source_id"),
    }
    interactions = lh.read_or_none(spark, "gold", "interactions")
    if interactions is not None:
        out["timeline"] = interactions.where(ids).orderBy(F.desc("event_ts"))
    features = lh.read_or_none(spark, "gold", "customer_features")
    if features is not None:
        out["features"] = features.where(ids).orderBy(F.desc("as_of"))
    return out
