"""Consent events: bronze -> silver.consent_events, latest per channel, out-of-order batches."""

from __future__ import annotations

from datetime import datetime

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
    EventMapping,
    PersonMapping,
    SourceConfig,
)
from unification.errors import ConfigError
from unification.lakehouse import Lakehouse
from unification.survivorship import (
    build_consent_events,
    keep_newer_consent,
    latest_consent,
    run_survive,
)

EVENTS = T.StructType(
    [T.StructField("customer_id", T.StringType(), False), *schemas.CONSENT_EVENTS.fields]
)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _cfg(app_config: AppConfig) -> AppConfig:
    """crm customers state email + sms consent; the email platform's unsubscribes link to them."""
    crm = SourceConfig(
        name="crm",
        entities={
            "customers": EntityConfig(
                path="crm/*.csv",
                format="csv",
                columns=[ColumnSpec(name=c) for c in ("id", "email_ok", "sms_ok", "changed")],
                person=PersonMapping(source_id="id", updated_at="changed"),
                consent=[
                    ConsentMapping(channel="email", opt_in="email_ok = 'Y'", at="changed"),
                    ConsentMapping(
                        channel="sms", opt_in="sms_ok = 'Y'", at="changed", when="sms_ok <> ''"
                    ),
                ],
            )
        },
    )
    mail = SourceConfig(
        name="mail",
        entities={
            "unsubscribes": EntityConfig(
                path="mail/*.json",
                format="json",
                columns=[ColumnSpec(name=c) for c in ("crm_id", "at")],
                consent=[ConsentMapping(channel="email", opt_in="false", at="at")],
                events=[
                    EventMapping(
                        kind="email_event",
                        fields={"event_ts": "at"},
                        links={"crm:customers": "crm_id"},
                    )
                ],
            )
        },
    )
    app_config.sources = [crm, mail]
    return app_config


CRM = "id string, email_ok string, sms_ok string, changed string, _batch_id string"
MAIL = "crm_id string, at string, _batch_id string"


def _person_inputs(spark: SparkSession, lh: Lakehouse, ids: list[str]) -> None:
    rows = [(f"crm:customers:{i}", "crm", "customers", i) for i in ids]
    base = spark.createDataFrame(
        rows, "record_key string, source string, entity string, source_id string"
    )
    email = F.concat(F.col("source_id"), F.lit("@x.com"))

    def conform(df: DataFrame, schema: T.StructType, extra: dict) -> DataFrame:
        cols = []
        for f in schema.fields:
            value = extra.get(f.name, F.col(f.name) if f.name in df.columns else F.lit(None))
            cols.append(value.cast(f.dataType).alias(f.name))
        return df.select(*cols)

    people = conform(base, schemas.PERSON_RECORDS, {"email": email, "email_raw": email})
    graph = conform(
        base, schemas.IDENTITY_GRAPH, {"customer_id": F.concat(F.lit("C"), F.col("source_id"))}
    )
    lh.write(people, "silver", "person_records", mode="overwrite")
    lh.write(graph, "gold", "identity_graph", mode="overwrite")


# --------------------------------------------------------------------------- consent events
def test_build_consent_events_links_skips_and_is_idempotent(
    spark: SparkSession, app_config: AppConfig, lakehouse: Lakehouse
) -> None:
    cfg = _cfg(app_config)
    lakehouse.write(
        spark.createDataFrame(
            [
                ("1", "Y", "N", "2024-01-01 10:00:00", "b1"),
                ("2", "N", "", "2024-01-02 10:00:00", "b1"),  # no sms statement (when)
                ("3", "Y", "Y", None, "b1"),  # no time: skipped twice
                ("1", "Y", "N", "2024-01-01 10:00:00", "b2"),  # same statements re-delivered
            ],
            CRM,
        ),
        "bronze",
        "crm_customers",
    )
    lakehouse.write(
        spark.createDataFrame([("1", "2024-02-01 08:00:00", "m1")], MAIL),
        "bronze",
        "mail_unsubscribes",
    )
    first = build_consent_events(spark, cfg, "r1")
    assert (first["consent_rows"], first["consent_rows_skipped"]) == (8, 2)
    assert (first["consent_events"], first["consent_events_inserted"]) == (4, 4)

    table = lakehouse.read(spark, "silver", "consent_events")
    assert table.schema.names == schemas.CONSENT_EVENTS.names
    rows = sorted(
        (r["record_key"], r["source"], r["channel"], r["opt_in"], r["_batch_id"])
        for r in table.collect()
    )
    assert rows == [
        ("crm:customers:1", "crm", "email", True, "b1"),
        ("crm:customers:1", "crm", "sms", False, "b1"),
        ("crm:customers:1", "mail", "email", False, "m1"),  # linked through events[].links
        ("crm:customers:2", "crm", "email", False, "b1"),
    ]
    keys = table.groupBy().agg(
        F.countDistinct("event_key"), F.sum(F.col("event_key").isNull().cast("int"))
    )
    assert tuple(keys.first()) == (4, 0)

    version = lakehouse.version(spark, "silver", "consent_events")
    again = build_consent_events(spark, cfg, "r2")
    assert (again["consent_events_inserted"], again["consent_events_deleted"]) == (0, 0)
    assert lakehouse.version(spark, "silver", "consent_events") == version


def test_consent_without_person_link_is_a_config_error(
    spark: SparkSession, app_config: AppConfig
) -> None:
    cfg = _cfg(app_config)
    cfg.sources[1].entities["unsubscribes"].events = []
    with pytest.raises(ConfigError, match="mail.entities.unsubscribes"):
        build_consent_events(spark, cfg, "r1")


# --------------------------------------------------------------------------- pure transforms
def _events(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    full = [
        (cid, f"k{i}", rk, src, rk.rsplit(":", 1)[1], ch, opt, ts(at), "b")
        for i, (cid, rk, src, ch, opt, at) in enumerate(rows)
    ]
    return spark.createDataFrame(full, EVENTS)


def test_latest_consent_across_sources_and_ties(spark: SparkSession) -> None:
    events = _events(
        spark,
        [
            ("c1", "crm:c:1", "crm", "email", True, "2024-01-01 00:00:00"),
            ("c1", "web:c:9", "web", "email", False, "2024-03-01 00:00:00"),  # latest: out
            ("c1", "crm:c:1", "crm", "email", True, "2024-02-01 00:00:00"),
            ("c1", "crm:c:1", "crm", "sms", True, "2024-05-01 00:00:00"),
            ("c1", "web:c:9", "web", "sms", False, "2024-05-01 00:00:00"),  # tie: opt-out wins
            ("c2", "crm:c:2", "crm", "post", True, "2024-01-01 00:00:00"),
        ],
    )
    out = {r["customer_id"]: r for r in latest_consent(events).collect()}
    assert (out["c1"]["_consent_email"]["opt_in"], out["c1"]["_consent_email"]["source"]) == (
        False,
        "web",
    )
    assert out["c1"]["_consent_sms"]["opt_in"] is False
    assert out["c1"]["_consent_post"] is None
    assert out["c2"]["_consent_post"]["record_key"] == "crm:c:2"


def test_keep_newer_consent_guard(spark: SparkSession) -> None:
    held_schema = (
        "customer_id string, consent_email boolean, consent_email_at timestamp, "
        "consent_email_source string, consent_sms boolean, consent_sms_at timestamp, "
        "consent_sms_source string, consent_phone boolean, consent_phone_at timestamp, "
        "consent_phone_source string, consent_post boolean, consent_post_at timestamp, "
        "consent_post_source string, provenance map<string, struct<source: string, "
        "source_id: string, record_key: string, as_of: timestamp, rule: string>>"
    )

    def held(cid: str, opt: bool, at: str, rk: str) -> tuple:
        prov = {"consent_email": ("crm", rk.rsplit(":", 1)[1], rk, ts(at), "latest_event")}
        return (cid, opt, ts(at), "crm", *([None] * 9), prov)

    current = spark.createDataFrame(
        [
            held("newer_held", False, "2024-06-01 00:00:00", "crm:c:1"),  # fresh is older
            held("older_held", True, "2024-01-01 00:00:00", "crm:c:2"),  # fresh is newer
            held("moved_away", False, "2024-06-01 00:00:00", "crm:c:9"),  # record left
            held("tie", True, "2024-03-01 00:00:00", "crm:c:4"),  # fresh opt-out, same time
            held("no_fresh", False, "2024-03-01 00:00:00", "crm:c:5"),
        ],
        held_schema,
    )
    fresh = latest_consent(
        _events(
            spark,
            [
                ("newer_held", "crm:c:1", "crm", "email", True, "2024-02-01 00:00:00"),
                ("older_held", "crm:c:2", "crm", "email", False, "2024-02-01 00:00:00"),
                ("moved_away", "crm:c:3", "crm", "email", True, "2024-02-01 00:00:00"),
                ("tie", "web:c:4", "web", "email", False, "2024-03-01 00:00:00"),
                ("no_fresh", "crm:c:5", "crm", "sms", True, "2024-03-01 00:00:00"),
            ],
        )
    )
    keys = {
        "newer_held": ["crm:c:1"],
        "older_held": ["crm:c:2"],
        "moved_away": ["crm:c:3"],
        "tie": ["crm:c:4", "web:c:4"],
        "no_fresh": ["crm:c:5"],
    }
    record_keys = spark.createDataFrame(
        list(keys.items()), "customer_id string, _record_keys array<string>"
    )
    out = {
        r["customer_id"]: (r["_consent_email"]["opt_in"], r["_consent_email"]["event_at"])
        if r["_consent_email"]
        else None
        for r in fresh.join(record_keys, "customer_id")
        .transform(keep_newer_consent(current))
        .collect()
    }
    assert out == {
        "newer_held": (False, ts("2024-06-01 00:00:00")),  # an older event never overwrites
        "older_held": (False, ts("2024-02-01 00:00:00")),
        "moved_away": (True, ts("2024-02-01 00:00:00")),  # held record no longer this customer
        "tie": (False, ts("2024-03-01 00:00:00")),  # opt-out wins the tie
        "no_fresh": (False, ts("2024-03-01 00:00:00")),  # held while its record remains
    }


# --------------------------------------------------------------------------- the stage
def test_out_of_order_batches_keep_the_newer_consent(
    spark: SparkSession, app_config: AppConfig, lakehouse: Lakehouse
) -> None:
    cfg = _cfg(app_config)
    _person_inputs(spark, lakehouse, ["1", "2"])
    # the newer statement arrives first: customer 1 opted out of email and sms in March
    newer = [
        ("1", "N", "N", "2024-03-01 00:00:00", "b2"),
        ("2", "Y", "Y", "2024-03-01 00:00:00", "b2"),
    ]
    lakehouse.write(spark.createDataFrame(newer, CRM), "bronze", "crm_customers")
    run_survive(spark, cfg, "r1")
    before = {
        r["customer_id"]: r for r in lakehouse.read(spark, "gold", "golden_profiles").collect()
    }
    assert (before["C1"]["consent_email"], before["C1"]["contactable_email"]) == (False, False)
    assert before["C2"]["contactable_email"] is True
    version = lakehouse.version(spark, "gold", "golden_profiles")

    # then the older batch (January opt-in for 1) and an older unsubscribe for 2
    older = [("1", "Y", "Y", "2024-01-01 00:00:00", "b1")]
    lakehouse.write(spark.createDataFrame(older, CRM), "bronze", "crm_customers")
    lakehouse.write(
        spark.createDataFrame([("2", "2024-02-01 00:00:00", "m1")], MAIL),
        "bronze",
        "mail_unsubscribes",
    )
    metrics = run_survive(spark, cfg, "r2")
    assert metrics["consent_events_inserted"] == 3
    assert (metrics["profiles_unchanged"], metrics["profiles_updated"]) == (2, 0)
    assert lakehouse.version(spark, "gold", "golden_profiles") == version
    after = {
        r["customer_id"]: r for r in lakehouse.read(spark, "gold", "golden_profiles").collect()
    }
    for cid in ("C1", "C2"):
        assert after[cid].asDict() == before[cid].asDict()
    assert after["C1"]["consent_email_at"] == ts("2024-03-01 00:00:00")
