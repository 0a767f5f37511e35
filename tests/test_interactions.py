"""The gold 360 view: orders, order lines and interactions from inline bronze tables."""

from __future__ import annotations

from datetime import datetime

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.config import AppConfig, ColumnSpec, EntityConfig, EventMapping, SourceConfig
from unification.errors import ConfigError
from unification.interactions import run_interactions
from unification.interactions.events import mapped_events, validate_mapping
from unification.lakehouse import Lakehouse


def _entity(columns: list[str], events: list[EventMapping]) -> EntityConfig:
    return EntityConfig(
        path="unused/*.csv",
        format="csv",
        columns=[ColumnSpec(name=c) for c in columns],
        events=events,
    )


def _sources() -> list[SourceConfig]:
    shop_link = {"ecommerce:customers": "customer_no"}
    return [
        SourceConfig(
            name="ecommerce",
            entities={
                "orders": _entity(
                    ["order_no", "customer_no", "ordered_at", "total", "status"],
                    [
                        EventMapping(
                            kind="order",
                            fields={
                                "order_id": "order_no",
                                "order_ts": "ordered_at",
                                "amount": "total",
                                "status": "status",
                                "currency": "'EUR'",
                            },
                            links=shop_link,
                        )
                    ],
                ),
                "order_lines": _entity(
                    ["order_no", "line_no", "sku", "cat", "qty", "price"],
                    [
                        EventMapping(
                            kind="order_line",
                            fields={
                                "order_id": "order_no",
                                "line_id": "line_no",
                                "product_id": "sku",
                                "category": "cat",
                                "quantity": "qty",
                                "unit_price": "price",
                            },
                        )
                    ],
                ),
            },
        ),
        SourceConfig(
            name="stores",
            entities={
                "tickets": _entity(
                    ["ticket_id", "card_no", "store", "at", "total"],
                    [
                        EventMapping(
                            kind="order",
                            fields={
                                "order_id": "ticket_id",
                                "order_ts": "at",
                                "amount": "total",
                                "store_id": "store",
                            },
                            links={"stores:loyalty": "card_no"},
                        )
                    ],
                )
            },
        ),
        SourceConfig(
            name="web",
            entities={
                "events": _entity(
                    ["hit_id", "cookie", "user_id", "ts", "type"],
                    [
                        EventMapping(
                            kind="web_event",
                            fields={
                                "event_id": "hit_id",
                                "event_ts": "ts",
                                "event_type": "type",
                                "anonymous_id": "cookie",
                            },
                            links={"ecommerce:customers": "user_id", "ignored:entity": "NULL"},
                        )
                    ],
                )
            },
        ),
        SourceConfig(
            name="email",
            entities={
                "events": _entity(
                    ["subscriber_id", "ts", "type"],
                    [
                        EventMapping(
                            kind="email_event",
                            fields={"event_ts": "ts", "event_type": "type"},
                            links={"email:subscribers": "subscriber_id"},
                            when="type <> 'bounce'",
                        )
                    ],
                )
            },
        ),
        SourceConfig(
            name="crm",
            entities={
                "contacts": _entity(
                    ["contact_id", "person_id", "ts", "reason", "medium"],
                    [
                        EventMapping(
                            kind="contact",
                            fields={
                                "event_id": "contact_id",
                                "event_ts": "ts",
                                "event_type": "reason",
                                "channel": "medium",
                            },
                            links={"crm:contacts": "person_id"},
                        )
                    ],
                )
            },
        ),
    ]


def _ts(s: str) -> datetime:
    return datetime.fromisoformat(s)


def _bronze(
    spark: SparkSession, lh: Lakehouse, table: str, columns: str, batches: list[list[tuple]]
) -> None:
    """Append each batch as a bronze delivery with its technical columns."""
    for i, rows in enumerate(batches, start=1):
        df = spark.createDataFrame(rows, columns)
        w = F.monotonically_increasing_id() + 1
        df = (
            df.withColumn("_batch_id", F.lit(f"b{i}"))
            .withColumn("_ingested_at", F.lit(_ts(f"2024-06-0{i}T00:00:00")))
            .withColumn("_row_number", w)
        )
        lh.write(df, "bronze", table, mode="append")


GRAPH = [
    ("ecommerce:customers:C1", "cust-A"),
    ("stores:loyalty:L1", "cust-A"),
    ("email:subscribers:S1", "cust-A"),
    ("ecommerce:customers:C2", "cust-B"),
    ("crm:contacts:K2", "cust-B"),
]


def _graph(spark: SparkSession, lh: Lakehouse, rows: list[tuple[str, str]]) -> None:
    df = spark.createDataFrame(rows, "record_key string, customer_id string").select(
        "record_key",
        F.split("record_key", ":")[0].alias("source"),
        F.split("record_key", ":")[1].alias("entity"),
        F.split("record_key", ":")[2].alias("source_id"),
        "customer_id",
    )
    lh.write(df, "gold", "identity_graph", mode="overwrite")


@pytest.fixture
def world(spark: SparkSession, app_config: AppConfig, lakehouse: Lakehouse) -> AppConfig:
    app_config.sources = _sources()
    lh = lakehouse
    _bronze(
        spark,
        lh,
        "ecommerce_orders",
        "order_no string, customer_no string, ordered_at timestamp, total double, status string",
        [
            [
                ("O1", "C1", _ts("2024-01-10T10:00:00"), 50.0, "paid"),
                ("O2", "C2", _ts("2024-02-01T09:00:00"), None, "paid"),
                ("O3", "C2", _ts("2024-02-03T09:00:00"), 20.0, "cancelled"),
            ],
            # a re-delivery of O1 with a new status, and a duplicate delivery of O2
            [
                ("O1", "C1", _ts("2024-01-10T10:00:00"), 50.0, "shipped"),
                ("O2", "C2", _ts("2024-02-01T09:00:00"), None, "paid"),
            ],
        ],
    )
    _bronze(
        spark,
        lh,
        "ecommerce_order_lines",
        "order_no string, line_no string, sku string, cat string, qty double, price double",
        [
            [
                ("O2", "1", "P1", "shoes", 1.0, 30.0),
                ("O2", "2", "P2", "socks", 2.0, 5.0),
                ("O1", "1", "P3", "shoes", 1.0, 50.0),
            ],
            [("O2", "2", "P2", "socks", 2.0, 5.0)],
        ],
    )
    _bronze(
        spark,
        lh,
        "stores_tickets",
        "ticket_id string, card_no string, store string, at timestamp, total double",
        [
            [
                ("T1", "L1", "S01", _ts("2024-03-01T12:00:00"), 80.0),
                ("T2", None, "S01", _ts("2024-03-02T12:00:00"), 15.0),
                ("T3", "L9", "S02", _ts("2024-03-03T12:00:00"), 25.0),
            ]
        ],
    )
    _bronze(
        spark,
        lh,
        "web_events",
        "hit_id string, cookie string, user_id string, ts timestamp, type string",
        [
            [
                ("h1", "K1", None, _ts("2024-01-09T10:00:00"), "page_view"),
                ("h2", "K1", "C1", _ts("2024-01-09T10:05:00"), "login"),
                ("h3", "K1", None, _ts("2024-01-20T18:00:00"), "page_view"),
                ("h4", "K9", None, _ts("2024-01-21T08:00:00"), "page_view"),
                ("h5", "K9", None, _ts("2024-01-21T08:10:00"), "page_view"),
                # a shared computer: logged in once as C1, twice as C2
                ("h6", "K5", "C1", _ts("2024-04-01T10:00:00"), "login"),
                ("h7", "K5", "C2", _ts("2024-04-02T10:00:00"), "login"),
                ("h8", "K5", "C2", _ts("2024-04-03T10:00:00"), "login"),
                ("h9", "K5", None, _ts("2024-04-04T10:00:00"), "page_view"),
            ],
            [("h3", "K1", None, _ts("2024-01-20T18:00:00"), "page_view")],
        ],
    )
    _bronze(
        spark,
        lh,
        "email_events",
        "subscriber_id string, ts timestamp, type string",
        [
            [
                ("S1", _ts("2024-01-05T07:00:00"), "send"),
                ("S1", _ts("2024-01-05T08:00:00"), "open"),
                ("S1", _ts("2024-01-05T09:00:00"), "bounce"),
            ],
            [("S1", _ts("2024-01-05T08:00:00"), "open")],  # no event id: deduped by content
        ],
    )
    _bronze(
        spark,
        lh,
        "crm_contacts",
        "contact_id string, person_id string, ts timestamp, reason string, medium string",
        [[("X1", "K2", _ts("2024-02-10T15:00:00"), "complaint", "Phone")]],
    )
    _graph(spark, lh, GRAPH)
    return app_config


def _assert_key(df: DataFrame, key: list[str]) -> None:
    assert df.filter(" OR ".join(f"{k} IS NULL" for k in key)).count() == 0
    assert df.groupBy(*key).count().filter("count > 1").count() == 0


@pytest.mark.slow
def test_360_view(spark: SparkSession, world: AppConfig) -> None:
    """Orders, lines and interactions; then an idempotent re-run; then a late link."""
    lh = Lakehouse(world.lakehouse)
    metrics = run_interactions(spark, world, "run-1")

    orders = {r["order_key"]: r for r in lh.read(spark, "gold", "orders").collect()}
    assert sorted(orders) == [
        "ecommerce:O1",
        "ecommerce:O2",
        "ecommerce:O3",
        "stores:T1",
        "stores:T2",
        "stores:T3",
    ]
    assert orders["ecommerce:O1"]["status"] == "shipped"  # latest delivery wins
    assert orders["ecommerce:O1"]["channel"] == "online"
    assert orders["ecommerce:O2"]["amount"] == pytest.approx(40.0)  # sum of its lines
    assert orders["stores:T1"]["channel"] == "store"
    assert orders["stores:T1"]["customer_id"] == "cust-A"
    assert orders["stores:T2"]["customer_id"] is None  # anonymous ticket kept
    assert orders["stores:T3"]["customer_id"] is None  # card not (yet) in the graph
    assert orders["stores:T3"]["record_key"] == "stores:loyalty:L9"
    assert metrics["orders"] == 6 and metrics["orders_store"] == 3

    lines = lh.read(spark, "gold", "order_lines")
    assert lines.count() == 3
    line = lines.filter("line_key = 'ecommerce:O2:2'").first()
    assert line is not None
    assert line["amount"] == pytest.approx(10.0) and line["customer_id"] == "cust-B"

    inter = lh.read(spark, "gold", "interactions")
    rows = {r["event_key"]: r for r in inter.collect()}
    web = [r for r in rows.values() if r["kind"] == "web_event"]
    assert {r["anonymous_id"]: r["customer_id"] for r in web if r["anonymous_id"] == "K1"} == {
        "K1": "cust-A"
    }
    assert all(r["customer_id"] == "cust-A" for r in web if r["anonymous_id"] == "K1")
    assert all(r["customer_id"] is None for r in web if r["anonymous_id"] == "K9")
    assert len(web) == 9  # h3 delivered twice, kept once
    shared = {
        r["event_key"].split(":")[-1]: r["customer_id"] for r in web if r["anonymous_id"] == "K5"
    }
    assert shared == {"h6": "cust-A", "h7": "cust-B", "h8": "cust-B", "h9": "cust-B"}
    sessions = sorted(
        (r["anonymous_id"], r["customer_id"], r["event_ts"])
        for r in rows.values()
        if r["kind"] == "web_session" and r["anonymous_id"] != "K5"
    )
    assert sessions == [
        ("K1", "cust-A", _ts("2024-01-09T10:00:00")),
        ("K1", "cust-A", _ts("2024-01-20T18:00:00")),
        ("K9", None, _ts("2024-01-21T08:00:00")),
    ]
    email = [r for r in rows.values() if r["kind"] == "email_event"]
    assert sorted(r["event_type"] for r in email) == ["open", "send"]  # bounce filtered, dedup
    assert all(r["customer_id"] == "cust-A" and r["channel"] == "email" for r in email)
    contact = rows["crm:contacts:contact:X1"]
    assert (contact["customer_id"], contact["channel"]) == ("cust-B", "phone")
    order_ev = rows["order:ecommerce:O3"]
    assert order_ev["event_type"] == "cancelled" and order_ev["customer_id"] == "cust-B"
    assert rows["order:stores:T2"]["anonymous_id"] == "T2"
    assert metrics["anonymous_ids_linked"] == 2
    assert metrics["anonymous_ids_with_several_customers"] == 1

    _assert_key(lh.read(spark, "gold", "orders"), ["order_key"])
    _assert_key(lines, ["line_key"])
    _assert_key(lines, ["order_key", "line_id"])
    _assert_key(inter, ["event_key"])

    # a re-run on the same input changes no row of any table
    before = sorted(tuple(r) for r in lh.read(spark, "gold", "interactions").collect())
    run_interactions(spark, world, "run-2")
    after = sorted(tuple(r) for r in lh.read(spark, "gold", "interactions").collect())
    assert before == after
    for table in ("orders", "order_lines", "interactions"):
        last = lh.delta_table(spark, "gold", table).history(1).first()
        assert last is not None
        m = last["operationMetrics"]
        changed = sum(
            int(m.get(k, "0"))
            for k in ("numTargetRowsUpdated", "numTargetRowsInserted", "numTargetRowsDeleted")
        )
        assert changed == 0, (table, m)

    # the loyalty card L9 gets linked to cust-B: its ticket is attached on the next run
    _graph(spark, lh, [*GRAPH, ("stores:loyalty:L9", "cust-B")])
    run_interactions(spark, world, "run-3")
    t3 = lh.read(spark, "gold", "orders").filter("order_key = 'stores:T3'").first()
    assert t3 is not None and t3["customer_id"] == "cust-B"


def test_bad_expression_names_the_mapping(spark: SparkSession) -> None:
    bronze = spark.createDataFrame([("1", "2024-01-01")], "id string, ts string")
    good = EventMapping(kind="contact", fields={"event_ts": "ts", "event_id": "id"})
    assert mapped_events(bronze, "crm", "calls", good).first()["event_id"] == "1"
    for fields in ({"event_ts": "no_such_column"}, {"event_ts": "("}):
        bad = EventMapping(kind="contact", fields=fields)
        with pytest.raises(ConfigError, match="crm: entities.calls"):
            mapped_events(bronze, "crm", "calls", bad)


def test_mapping_validation() -> None:
    with pytest.raises(ConfigError, match="order_ts"):
        validate_mapping("s", "e", EventMapping(kind="order", fields={"order_id": "id"}))
    with pytest.raises(ConfigError, match="line_id"):
        validate_mapping("s", "e", EventMapping(kind="order_line", fields={"order_id": "id"}))
    with pytest.raises(ConfigError, match="links"):
        validate_mapping(
            "s", "e", EventMapping(kind="contact", fields={"event_ts": "ts"}, links={"x": "id"})
        )
    unknown = validate_mapping(
        "s", "e", EventMapping(kind="contact", fields={"event_ts": "ts", "page_url": "u"})
    )
    assert unknown == ["page_url"]
