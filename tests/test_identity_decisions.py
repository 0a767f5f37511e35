"""Human decisions table: validation of record references, idempotent adds, revocation."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from unification.config import AppConfig
from unification.identity import (
    DecisionError,
    add_decision,
    decision_id,
    list_decisions,
    revoke_decision,
)
from unification.identity.tables import HUMAN_DECISIONS
from unification.lakehouse import Lakehouse


@pytest.fixture
def with_records(spark: SparkSession, lakehouse: Lakehouse) -> None:
    rows = [
        ("ecommerce:customers:123", "ecommerce", "customers", "123"),
        ("ecommerce:subscribers:123", "ecommerce", "subscribers", "123"),
        ("stores:cards:456", "stores", "cards", "456"),
        ("crm:contacts:a:b", "crm", "contacts", "a:b"),  # a source id holding a colon
    ]
    df = spark.createDataFrame(
        rows, "record_key string, source string, entity string, source_id string"
    ).withColumn("updated_at", F.current_timestamp())
    lakehouse.write(df, "silver", "person_records", mode="overwrite")


def test_needs_person_records(spark: SparkSession, app_config: AppConfig) -> None:
    with pytest.raises(DecisionError, match="person_records does not exist"):
        add_decision(spark, app_config, "must_link", "a:1", "b:2", reason="x")


@pytest.mark.usefixtures("with_records")
@pytest.mark.parametrize(
    ("kind", "left", "right", "reason", "message"),
    [
        ("maybe_link", "stores:456", "crm:a:b", "x", "must be 'must_link' or 'cannot_link'"),
        ("must_link", "stores:456", "crm:a:b", "  ", "reason is required"),
        ("must_link", "stores:999", "crm:a:b", "x", "no person record matches 'stores:999'"),
        ("must_link", "ecommerce:123", "stores:456", "x", "'ecommerce:123' is ambiguous"),
        ("must_link", "stores456", "crm:a:b", "x", "bad record reference 'stores456'"),
        ("cannot_link", "stores:456", "stores:cards:456", "x", "are the same record"),
    ],
)
def test_add_decision_validation(
    spark: SparkSession,
    app_config: AppConfig,
    kind: str,
    left: str,
    right: str,
    reason: str,
    message: str,
) -> None:
    with pytest.raises(DecisionError, match=message):
        add_decision(spark, app_config, kind, left, right, reason=reason)  # type: ignore[arg-type]


@pytest.mark.usefixtures("with_records")
def test_add_is_idempotent_and_opposite_kind_revokes(
    spark: SparkSession, app_config: AppConfig, lakehouse: Lakehouse
) -> None:
    assert list_decisions(spark, app_config).count() == 0
    add_decision(spark, app_config, "must_link", "stores:456", "crm:a:b", "same card", "ann")
    add_decision(spark, app_config, "must-link", "crm:contacts:a:b", "stores:456", "again", "bob")
    rows = list_decisions(spark, app_config).collect()
    assert [(r.kind, r.record_key_l, r.record_key_r, r.author, r.active) for r in rows] == [
        ("must_link", "crm:contacts:a:b", "stores:cards:456", "ann", True)
    ]
    assert rows[0].decision_id == decision_id("must_link", "stores:cards:456", "crm:contacts:a:b")

    add_decision(spark, app_config, "cannot_link", "crm:a:b", "stores:456", "checked: two people")
    table = lakehouse.read(spark, "silver", "human_decisions")
    assert table.schema == HUMAN_DECISIONS
    state = {r.kind: r.active for r in table.collect()}
    assert state == {"must_link": False, "cannot_link": True}
    active = list_decisions(spark, app_config, active_only=True).collect()
    assert [r.kind for r in active] == ["cannot_link"]
    keys = table.agg(F.count("*").alias("n"), F.countDistinct("decision_id").alias("d")).first()
    assert keys is not None and keys.n == keys.d == 2

    [cannot] = active
    assert revoke_decision(spark, app_config, cannot.decision_id)
    assert not revoke_decision(spark, app_config, cannot.decision_id)
    assert list_decisions(spark, app_config, active_only=True).count() == 0
    # re-adding a revoked decision re-activates it
    add_decision(spark, app_config, "must_link", "stores:456", "crm:a:b", "confirmed", "ann")
    active = list_decisions(spark, app_config, active_only=True).collect()
    assert [(r.kind, r.reason) for r in active] == [("must_link", "confirmed")]
