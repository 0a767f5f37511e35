"""Survivorship rules, provenance, contactability and the golden-profile MERGE."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification import schemas
from unification.config import (
    AppConfig,
    ColumnSpec,
    ConsentMapping,
    EntityConfig,
    PersonMapping,
    SourceConfig,
)
from unification.lakehouse import Lakehouse
from unification.survivorship import (
    GOLDEN_PROFILES,
    SurvivorshipSettings,
    golden_profiles,
    run_survive,
    survive_attributes,
    with_contactability,
)

RECORDS = T.StructType(
    [T.StructField("customer_id", T.StringType(), False), *schemas.PERSON_RECORDS.fields]
)
EVENTS = T.StructType(
    [T.StructField("customer_id", T.StringType(), False), *schemas.CONSENT_EVENTS.fields]
)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def record(customer_id: str, source: str, source_id: str, updated: str, **fields: Any) -> dict:
    row: dict[str, Any] = {f.name: None for f in RECORDS.fields}
    row.update(
        customer_id=customer_id,
        record_key=f"{source}:customers:{source_id}",
        source=source,
        entity="customers",
        source_id=source_id,
        updated_at=ts(updated) if updated else None,
        **fields,
    )
    return row


def frame(spark: SparkSession, rows: list[dict], schema: T.StructType) -> DataFrame:
    return spark.createDataFrame([tuple(r[f.name] for f in schema.fields) for r in rows], schema)


def by_customer(df: DataFrame) -> dict[str, Any]:
    return {r["customer_id"]: r for r in df.collect()}


# --------------------------------------------------------------------------- settings
def test_settings_defaults_and_units() -> None:
    units = {u.name: u for u in SurvivorshipSettings().units()}
    assert units["first_name"].rule == "most_recent"
    assert units["birth_date"].rule == "most_frequent"
    assert units["address"].value_attributes[0] == "address_line1"
    assert "address_valid" not in units["address"].value_attributes
    assert units["email"].value_attributes == ["email"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rules": [{"attribute": "shoe_size", "rule": "most_recent"}]}, "unknown attribute"),
        ({"rules": [{"attribute": "city", "rule": "source_priority"}]}, "needs sources"),
        (
            {
                "rules": [
                    {"attribute": "city", "rule": "most_recent"},
                    {"attribute": "address", "rule": "most_complete"},
                ]
            },
            "both set the rule",
        ),
        ({"groups": []}, "must be in the same group"),
        ({"default_rule": "source_priority"}, "needs survivorship.source_priority"),
        ({"rules": [{"attribute": "email", "rule": "newest"}]}, "rule"),
    ],
)
def test_settings_reject_bad_config(raw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SurvivorshipSettings.model_validate(raw)


def test_settings_from_yaml_section() -> None:
    cfg = AppConfig.model_validate(
        {
            "survivorship": {
                "source_priority": ["crm", "ecommerce"],
                "rules": [{"attribute": "email", "rule": "source_priority"}],
            }
        }
    )
    email = next(u for u in cfg.survivorship.units() if u.name == "email")
    assert (email.rule, email.sources) == ("source_priority", ["crm", "ecommerce"])


# --------------------------------------------------------------------------- rules
def test_default_rules_recent_nonnull_block_frequent_ties(spark: SparkSession) -> None:
    rows = [
        # c1: most recent by the source's updated_at, whatever the batch/ingestion order
        record(
            "c1",
            "crm",
            "1",
            "2024-01-01 00:00:00",
            first_name="JON",
            last_name="SMITH",
            email="a@x.com",
            email_raw="A@x.com",
            _batch_id="b9",
        ),
        record(
            "c1",
            "ecommerce",
            "7",
            "2024-05-01 00:00:00",
            first_name="JOHN",
            email=None,
            email_raw="bad@@",
            _batch_id="b1",
        ),
        # c2: the address survives as a block; a full valid address beats a newer partial one
        # and a newer rejected one
        record(
            "c2",
            "crm",
            "2",
            "2024-01-01 00:00:00",
            address_line1="1 HIGH ST",
            postal_code="LS1 1AA",
            city="LEEDS",
            country="GB",
            address_valid=True,
        ),
        record("c2", "ecommerce", "8", "2024-06-01 00:00:00", city="YORK", country="GB"),
        record(
            "c2",
            "stores",
            "9",
            "2024-03-01 00:00:00",
            address_line1="2 LOW RD",
            city="YORK",
            address_valid=False,
        ),
        # c3: ties on updated_at go to the smallest record_key; birth date most frequent
        record(
            "c3",
            "stores",
            "5",
            "2024-02-02 00:00:00",
            first_name="ANN",
            birth_date=date(1980, 1, 1),
        ),
        record(
            "c3", "crm", "5", "2024-02-02 00:00:00", first_name="ANNA", birth_date=date(1980, 1, 1)
        ),
        record("c3", "ecommerce", "5", "2024-09-09 00:00:00", birth_date=date(1981, 1, 1)),
        # c4: nothing known but a name, no updated_at
        record("c4", "crm", "4", "", first_name="ZOE"),
    ]
    out = by_customer(
        frame(spark, rows, RECORDS).transform(survive_attributes(SurvivorshipSettings().units()))
    )
    c1, c2, c3, c4 = out["c1"], out["c2"], out["c3"], out["c4"]

    assert c1["first_name"] == "JOHN"
    assert c1["provenance"]["first_name"].asDict() == {
        "source": "ecommerce",
        "source_id": "7",
        "record_key": "ecommerce:customers:7",
        "as_of": ts("2024-05-01 00:00:00"),
        "rule": "most_recent",
    }
    assert c1["last_name"] == "SMITH"  # non-null beats the newer null
    assert c1["provenance"]["last_name"]["record_key"] == "crm:customers:1"
    assert (c1["email"], c1["email_raw"]) == ("a@x.com", "A@x.com")  # raw rides with email
    assert c1["provenance"]["email_raw"]["record_key"] == "crm:customers:1"
    assert (c1["record_count"], c1["sources"]) == (2, ["crm", "ecommerce"])
    assert c1["updated_at"] == ts("2024-05-01 00:00:00")
    assert c1["_record_keys"] == ["crm:customers:1", "ecommerce:customers:7"]

    assert (c2["address_line1"], c2["postal_code"], c2["city"], c2["address_valid"]) == (
        "1 HIGH ST",
        "LS1 1AA",
        "LEEDS",
        True,
    )
    assert {c2["provenance"][a]["record_key"] for a in ("address_line1", "city", "country")} == {
        "crm:customers:2"
    }

    assert c3["first_name"] == "ANNA"  # crm:... < stores:...
    assert c3["birth_date"] == date(1980, 1, 1)
    assert c3["provenance"]["birth_date"]["rule"] == "most_frequent"

    assert c4["first_name"] == "ZOE" and c4["updated_at"] is None
    assert "email" not in c4["provenance"] and "city" not in c4["provenance"]


def test_source_priority_and_most_complete(spark: SparkSession) -> None:
    settings = SurvivorshipSettings.model_validate(
        {
            "source_priority": ["crm", "ecommerce"],
            "rules": [
                {"attribute": "first_name", "rule": "source_priority"},
                {"attribute": "mobile", "rule": "source_priority", "sources": ["stores"]},
                {"attribute": "last_name", "rule": "most_complete"},
                {"attribute": "address", "rule": "most_complete"},
            ],
        }
    )
    rows = [
        record(
            "c1",
            "stores",
            "1",
            "2024-09-01 00:00:00",
            first_name="STORE",
            last_name="SMITH",
            mobile="+447700900001",
            address_line1="1 A ST",
            city="LEEDS",
        ),
        record(
            "c1",
            "ecommerce",
            "2",
            "2024-06-01 00:00:00",
            first_name="ECOM",
            last_name="SMITH-JONES",
            mobile="+447700900002",
            address_line1="9 B RD",
        ),
        record("c1", "crm", "3", "2024-01-01 00:00:00", first_name=None, last_name="S"),
        record("c1", "crm", "4", "2023-01-01 00:00:00", first_name="CRM"),
    ]
    c1 = by_customer(frame(spark, rows, RECORDS).transform(survive_attributes(settings.units())))[
        "c1"
    ]
    assert c1["first_name"] == "CRM"  # crm first, though oldest; the crm null is skipped
    assert c1["provenance"]["first_name"]["rule"] == "source_priority"
    assert c1["mobile"] == "+447700900001"  # per-rule list overrides the default
    assert c1["last_name"] == "SMITH-JONES"  # longest
    assert (c1["address_line1"], c1["city"]) == ("1 A ST", "LEEDS")  # two fields beat one


def test_contactability(spark: SparkSession) -> None:
    schema = "id string, email string, mobile string, phone string, address_valid boolean, " + (
        ", ".join(f"consent_{c} boolean" for c in ("email", "sms", "phone", "post"))
    )
    rows = [
        ("all", "a@x.com", "+44770", None, True, True, True, True, True),
        ("no_consent", "a@x.com", "+44770", "+44113", True, False, None, False, None),
        ("no_address", None, None, None, False, True, True, True, True),
        ("null_valid", None, None, "+44113", None, True, True, True, True),
    ]
    out = {
        r["id"]: tuple(r[f"contactable_{c}"] for c in ("email", "sms", "phone", "post"))
        for r in spark.createDataFrame(rows, schema).transform(with_contactability).collect()
    }
    assert out == {
        "all": (True, True, True, True),  # phone reachable through the mobile
        "no_consent": (False, False, False, False),
        "no_address": (False, False, False, False),
        "null_valid": (False, False, True, False),
    }


def test_golden_profiles_schema_hash_and_consent(spark: SparkSession) -> None:
    rows = [
        record(
            "c1",
            "crm",
            "1",
            "2024-01-01 00:00:00",
            email="a@x.com",
            email_raw="a@x.com",
            mobile="+447700900001",
        ),
        record("c2", "crm", "2", "2024-01-01 00:00:00", email="b@x.com"),
    ]
    events = [
        ("c1", "k1", "crm:customers:1", "crm", "1", "email", True, ts("2024-01-01 00:00:00"), "b"),
        (
            "c1",
            "k2",
            "crm:customers:1",
            "mail",
            "1",
            "email",
            False,
            ts("2024-02-01 00:00:00"),
            "b",
        ),
        ("c1", "k3", "crm:customers:1", "crm", "1", "sms", True, ts("2024-02-01 00:00:00"), "b"),
    ]

    def build() -> DataFrame:
        return golden_profiles(
            frame(spark, rows, RECORDS),
            spark.createDataFrame(events, EVENTS),
            SurvivorshipSettings(),
            run_id="r1",
        )

    out = build()
    assert out.schema.names == GOLDEN_PROFILES.names
    got = by_customer(out)
    c1, c2 = got["c1"], got["c2"]
    assert (c1["consent_email"], c1["consent_email_at"], c1["consent_email_source"]) == (
        False,
        ts("2024-02-01 00:00:00"),
        "mail",
    )
    assert c1["provenance"]["consent_email"]["rule"] == "latest_event"
    assert (c1["contactable_email"], c1["contactable_sms"]) == (False, True)
    assert c2["consent_email"] is None and c2["contactable_email"] is False
    assert "consent_email" not in c2["provenance"]
    assert c1["profile_hash"] != c2["profile_hash"] and len(c1["profile_hash"]) == 64

    # the hash does not depend on the session time zone (a run elsewhere rewrites nothing)
    zone = spark.conf.get("spark.sql.session.timeZone")
    try:
        spark.conf.set("spark.sql.session.timeZone", "America/New_York")
        elsewhere = {r["customer_id"]: r["profile_hash"] for r in build().collect()}
    finally:
        spark.conf.set("spark.sql.session.timeZone", zone)
    assert elsewhere == {"c1": c1["profile_hash"], "c2": c2["profile_hash"]}


# --------------------------------------------------------------------------- the stage
def _stage_config(app_config: AppConfig) -> AppConfig:
    crm = SourceConfig(
        name="crm",
        entities={
            "customers": EntityConfig(
                path="crm/*.csv",
                format="csv",
                columns=[ColumnSpec(name=c) for c in ("id", "opt_in", "opt_in_at")],
                person=PersonMapping(source_id="id", updated_at="opt_in_at"),
                consent=[ConsentMapping(channel="email", opt_in="opt_in", at="opt_in_at")],
            )
        },
    )
    app_config.sources = [crm]
    return app_config


def _write_inputs(
    spark: SparkSession, lh: Lakehouse, records: list[dict], graph: dict[str, str]
) -> None:
    people = frame(spark, records, RECORDS).drop("customer_id")
    lh.write(people, "silver", "person_records", mode="overwrite", overwrite_schema=True)
    rows = [
        (r["record_key"], r["source"], r["entity"], r["source_id"], graph[r["record_key"]])
        for r in records
    ]
    ig = spark.createDataFrame(
        rows,
        "record_key string, source string, entity string, source_id string, customer_id string",
    )
    ig = ig.select(
        *[
            F.col(f.name).cast(f.dataType)
            if f.name in ig.columns
            else F.lit(None).cast(f.dataType).alias(f.name)
            for f in schemas.IDENTITY_GRAPH.fields
        ]
    )
    lh.write(ig, "gold", "identity_graph", mode="overwrite", overwrite_schema=True)


def _changes(spark: SparkSession, lh: Lakehouse, start: int) -> list[tuple[str, str]]:
    df = (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", start)
        .load(lh.path("gold", "golden_profiles"))
    )
    return sorted((r["customer_id"], r["_change_type"]) for r in df.collect())


def test_run_survive_idempotent_cdf_and_merged_ids(
    spark: SparkSession, app_config: AppConfig, lakehouse: Lakehouse
) -> None:
    cfg = _stage_config(app_config)
    bronze = spark.createDataFrame(
        [("1", "true", "2024-01-01 10:00:00", "b1"), ("2", None, None, "b1")],
        "id string, opt_in string, opt_in_at string, _batch_id string",
    )
    lakehouse.write(bronze, "bronze", "crm_customers")
    records = [
        record(
            "c1",
            "crm",
            "1",
            "2024-01-01 00:00:00",
            email="a@x.com",
            email_raw="a@x.com",
            first_name="ANN",
        ),
        record("c2", "crm", "2", "2024-03-01 00:00:00", first_name="ANNA", city="YORK"),
        record("c3", "crm", "3", "2024-03-01 00:00:00", first_name="BOB"),
    ]
    _write_inputs(spark, lakehouse, records, {r["record_key"]: r["customer_id"] for r in records})

    first = run_survive(spark, cfg, "r1")
    assert (first["profiles"], first["profiles_inserted"], first["consent_rows_skipped"]) == (
        3,
        3,
        1,
    )
    table = lakehouse.read(spark, "gold", "golden_profiles")
    keys = table.groupBy().agg(
        F.count("*").alias("n"),
        F.countDistinct("customer_id").alias("distinct"),
        F.sum(F.col("customer_id").isNull().cast("int")).alias("nulls"),
    )
    assert tuple(keys.first()) == (3, 3, 0)
    props = lakehouse.delta_table(spark, "gold", "golden_profiles").detail().first()["properties"]
    assert props.get("delta.enableChangeDataFeed") == "true"
    c1 = table.filter("customer_id = 'c1'").first()
    assert (c1["consent_email"], c1["contactable_email"], c1["_run_id"]) == (True, True, "r1")

    # same input again: no row changes and no commit at all
    version = lakehouse.version(spark, "gold", "golden_profiles")
    second = run_survive(spark, cfg, "r2")
    assert (second["profiles_unchanged"], second["profiles_updated"]) == (3, 0)
    assert second["consent_events_inserted"] == 0
    assert lakehouse.version(spark, "gold", "golden_profiles") == version

    # c2 is merged into c1: c2 vanishes, c1 changes, c3 is untouched
    _write_inputs(
        spark,
        lakehouse,
        records,
        {"crm:customers:1": "c1", "crm:customers:2": "c1", "crm:customers:3": "c3"},
    )
    third = run_survive(spark, cfg, "r3")
    assert (third["profiles_updated"], third["profiles_deleted"]) == (1, 1)
    assert _changes(spark, lakehouse, version + 1) == [
        ("c1", "update_postimage"),
        ("c1", "update_preimage"),
        ("c2", "delete"),
    ]
    c1 = lakehouse.read(spark, "gold", "golden_profiles").filter("customer_id = 'c1'").first()
    assert (c1["first_name"], c1["city"], c1["record_count"], c1["_run_id"]) == (
        "ANNA",
        "YORK",
        2,
        "r3",
    )
