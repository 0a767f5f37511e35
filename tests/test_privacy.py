"""Privacy and activation end to end on a small lakehouse: erasure (every layer, bridge split,
suppression at re-ingestion, audit without PII), consent-aware exports, the sync-back feed and
VACUUM.

One world is built per module (ingest -> standardise -> stand-in match -> identify -> survive
-> 360 view) and the tests share it, in file order:

* Alicia Zorglub has two records (shop ``A1``, crm ``A2``) and an order; she is erased by email;
* Xavier (shop ``X1``) bridges Bob (shop ``B1``) and Carol (crm ``C1``) into one customer; his
  record is erased;
* Dave opted out of email, Erin opted in.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from unification.config import (
    AppConfig,
    ColumnSpec,
    ConsentMapping,
    EntityConfig,
    EventMapping,
    LakehouseConfig,
    PersonMapping,
    SourceConfig,
)
from unification.lakehouse import Lakehouse
from unification.privacy.erase import ErasureRequest, erase
from unification.privacy.export import run_export
from unification.privacy.hashing import sha256_hex
from unification.privacy.hygiene import find_pii
from unification.privacy.settings import ActivationSettings, Segment
from unification.privacy.syncback import run_sync_back
from unification.privacy.vacuum import run_vacuum
from unification.schemas import MATCH_PAIRS_CORE, RECORD_CLUSTERS

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
# runs the real ingest, standardise, survive and (inside the erasure) identify stages
pytestmark = pytest.mark.slow

ALICIA = ("Alicia", "Zorglub", "alicia.zorglub@zmail.fr", "+33612345601", "12345601")
XAVIER = ("Xavier", "Pontbridge", "xavier.pontbridge@zmail.fr", "+33612345603", "12345603")
OTHERS = ("Durand", "Petit", "Optout", "Optin")  # last names of Bob, Carol, Dave, Erin

SHOP_HEADER = "id,email,first_name,last_name,phone,country,updated_at,email_optin,email_optin_at"
SHOP_ROWS = [
    "A1,alicia.zorglub@zmail.fr,Alicia,Zorglub,06 12 34 56 01,FR,2024-01-10 10:00:00,1,"
    "2024-01-10 10:00:00",
    "B1,bob.durand@zmail.fr,Bob,Durand,06 12 34 56 02,FR,2024-01-11 10:00:00,1,2024-01-11 10:00:00",
    "X1,xavier.pontbridge@zmail.fr,Xavier,Pontbridge,06 12 34 56 03,FR,2024-01-12 10:00:00,1,"
    "2024-01-12 10:00:00",
    "D1,dave.optout@zmail.fr,Dave,Optout,06 12 34 56 04,FR,2024-01-13 10:00:00,0,"
    "2024-03-01 10:00:00",
    "E1,erin.optin@zmail.fr,Erin,Optin,06 12 34 56 05,FR,2024-01-14 10:00:00,1,2024-03-01 10:00:00",
]
CRM_HEADER = "id,email,first_name,last_name,mobile,updated_at"
CRM_ROWS = [
    "A2,ALICIA.ZORGLUB@ZMAIL.FR,Alicia,Zorglub,+33612345601,2024-02-01 09:00:00",
    "C1,carol.petit@zmail.fr,Carol,Petit,+33612345607,2024-02-02 09:00:00",
]
ORDER_HEADER = "order_id,customer_id,order_date,amount"
ORDER_ROWS = [
    "O1,A1,2024-03-01 12:00:00,50.0",
    "O2,B1,2024-03-02 12:00:00,20.0",
    "O3,E1,2024-03-03 12:00:00,30.0",
]


def rk(source: str, source_id: str) -> str:
    entity = {"shop": "customers", "crm": "contacts"}[source]
    return f"{source}:{entity}:{source_id}"


def _sources() -> list[SourceConfig]:
    def cols(names: list[str], required: tuple[str, ...] = ("id",)) -> list[ColumnSpec]:
        specs = []
        for n in names:
            kind = "timestamp" if n.endswith(("_at", "_date")) else "string"
            fmt = "yyyy-MM-dd HH:mm:ss" if kind == "timestamp" else None
            if n == "amount":
                kind = "double"
            if n == "email_optin":
                kind = "int"
            specs.append(ColumnSpec(name=n, type=kind, format=fmt, required=n in required))
        return specs

    csv_opts = {"header": "true", "sep": ",", "encoding": "UTF-8"}
    shop = SourceConfig(
        name="shop",
        entities={
            "customers": EntityConfig(
                path="shop/customers*.csv",
                format="csv",
                options=csv_opts,
                key=["id"],
                columns=cols(SHOP_HEADER.split(","), ("id", "updated_at")),
                person=PersonMapping(
                    source_id="id",
                    updated_at="updated_at",
                    fields={
                        "first_name": "first_name",
                        "last_name": "last_name",
                        "email": "email",
                        "phone": "phone",
                        "country": "country",
                    },
                ),
                consent=[
                    ConsentMapping(
                        channel="email",
                        opt_in="email_optin = 1",
                        at="email_optin_at",
                        when="email_optin IS NOT NULL",
                    )
                ],
            ),
            "orders": EntityConfig(
                path="shop/orders*.csv",
                format="csv",
                options=csv_opts,
                key=["order_id"],
                columns=cols(ORDER_HEADER.split(","), ("order_id",)),
                events=[
                    EventMapping(
                        kind="order",
                        fields={
                            "order_id": "order_id",
                            "order_ts": "order_date",
                            "amount": "amount",
                        },
                        links={"shop:customers": "customer_id"},
                    )
                ],
            ),
        },
    )
    crm = SourceConfig(
        name="crm",
        entities={
            "contacts": EntityConfig(
                path="crm/contacts*.csv",
                format="csv",
                options=csv_opts,
                key=["id"],
                columns=cols(CRM_HEADER.split(","), ("id", "updated_at")),
                person=PersonMapping(
                    source_id="id",
                    updated_at="updated_at",
                    fields={
                        "first_name": "first_name",
                        "last_name": "last_name",
                        "email": "email",
                        "mobile": "mobile",
                    },
                ),
            )
        },
    )
    return [shop, crm]


def _write_csv(path: Path, header: str, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def _stand_in_match(spark: SparkSession, lh: Lakehouse) -> None:
    """What the match stage would write: A1~A2, and X1 linked to both B1 and C1."""
    clusters = [
        [rk("shop", "A1"), rk("crm", "A2")],
        [rk("shop", "B1"), rk("shop", "X1"), rk("crm", "C1")],
        [rk("shop", "D1")],
        [rk("shop", "E1")],
    ]
    rows = [(k, min(c), len(c), "m") for c in clusters for k in c]
    lh.write(spark.createDataFrame(rows, RECORD_CLUSTERS), "silver", "record_clusters")
    pairs = [
        (rk("crm", "A2"), rk("shop", "A1"), 12.0, 0.999, "splink", "m"),
        (rk("shop", "B1"), rk("shop", "X1"), 9.0, 0.998, "splink", "m"),
        (rk("crm", "C1"), rk("shop", "X1"), 9.0, 0.998, "splink", "m"),
        (rk("crm", "C1"), rk("shop", "B1"), -3.0, 0.11, "splink", "m"),  # not a link
    ]
    lh.write(spark.createDataFrame(pairs, MATCH_PAIRS_CORE), "silver", "match_pairs")


#: customer ids before the erasure (written as the identify stage would have)
CUSTOMERS = {
    rk("shop", "A1"): "C-0001",
    rk("crm", "A2"): "C-0001",
    rk("shop", "B1"): "C-0002",
    rk("shop", "X1"): "C-0002",
    rk("crm", "C1"): "C-0002",
    rk("shop", "D1"): "C-0003",
    rk("shop", "E1"): "C-0004",
}


def _stand_in_identify_and_360(spark: SparkSession, lh: Lakehouse) -> None:
    """``gold.identity_graph`` as identify would write it for the stand-in clusters, and the
    360 tables as the interactions stage would (both stages are tested on their own)."""
    from datetime import datetime

    from unification.identity.tables import create_table
    from unification.schemas import IDENTITY_GRAPH, INTERACTIONS, ORDERS

    t = datetime(2024, 1, 1)
    graph = [
        (k, k.split(":")[0], k.split(":")[1], k.split(":")[2], c, 1.0, t, t, "r1")
        for k, c in CUSTOMERS.items()
    ]
    create_table(spark, lh, "gold", "identity_graph", IDENTITY_GRAPH)
    lh.write(spark.createDataFrame(graph, IDENTITY_GRAPH), "gold", "identity_graph")
    orders = [
        (
            f"shop:{o}",
            "shop",
            o,
            CUSTOMERS[rk("shop", c)],
            rk("shop", c),
            "online",
            t,
            a,
            None,
            None,
            None,
        )
        for o, c, a in (("O1", "A1", 50.0), ("O2", "B1", 20.0), ("O3", "E1", 30.0))
    ]
    lh.write(spark.createDataFrame(orders, ORDERS), "gold", "orders")
    events = [
        (f"order:{o[0]}", o[3], o[4], None, "shop", "order", "online", "purchase", t, o[7])
        for o in orders
    ]
    events.append(("web:1", None, None, "cookie-1", "web", "web_event", "web", "view", t, None))
    lh.write(spark.createDataFrame(events, INTERACTIONS), "gold", "interactions")


def _features(spark: SparkSession, lh: Lakehouse, mode: str = "append") -> None:
    graph = lh.read(spark, "gold", "identity_graph").select("customer_id").distinct()
    feats = graph.select(
        "customer_id",
        F.lit(date(2024, 6, 1)).alias("as_of"),
        F.lit("vip").alias("lifecycle_stage"),
        F.lit("Champions").alias("rfm_segment"),
        F.lit(3).cast("long").alias("order_count"),
        F.lit(True).alias("is_customer"),
    )
    lh.write(feats, "gold", "customer_features", mode=mode)  # type: ignore[arg-type]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def world(
    _spark_session: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    from unification.ingest import run_ingest
    from unification.standardise import run_standardise
    from unification.standardise.settings import StandardiseSettings
    from unification.survivorship import run_survive

    spark = _spark_session
    root = tmp_path_factory.mktemp("privacy")
    data = root / "data"
    _write_csv(data / "shop" / "customers_1.csv", SHOP_HEADER, SHOP_ROWS)
    _write_csv(data / "shop" / "orders_1.csv", ORDER_HEADER, ORDER_ROWS)
    _write_csv(data / "crm" / "contacts_1.csv", CRM_HEADER, CRM_ROWS)
    cfg = AppConfig(
        config_path=str(root / "test.yml"),
        data_root=str(data),
        sources_dir=str(root / "sources"),
        models_dir=str(root / "models"),
        lakehouse=LakehouseConfig(root=str(root / "lakehouse")),
        standardise=StandardiseSettings(default_region="FR", phone_validation="possible"),
        activation=ActivationSettings(
            segments=[Segment(name="vip", where="lifecycle_stage = 'vip'")]
        ),
    )
    cfg.activation.exports.dir = str(root / "exports")
    cfg.sources = _sources()
    lh = Lakehouse(cfg.lakehouse)
    logs = _Collect()
    ours = logging.getLogger("unification")  # the library's own loggers, at every level
    ours.addHandler(logs)
    previous_level = ours.level
    ours.setLevel(logging.DEBUG)
    t0 = time.perf_counter()
    run_ingest(spark, cfg, "r1")
    run_standardise(spark, cfg, "r1")
    _stand_in_match(spark, lh)
    _stand_in_identify_and_360(spark, lh)
    run_survive(spark, cfg, "r1")
    _features(spark, lh)
    ids = {
        r["record_key"]: r["customer_id"]
        for r in lh.read(spark, "gold", "identity_graph").collect()
    }
    print(f"world built in {time.perf_counter() - t0:.1f}s")
    yield {"cfg": cfg, "lh": lh, "root": root, "data": data, "ids_before": ids, "logs": logs}
    ours.removeHandler(logs)
    ours.setLevel(previous_level)


@pytest.fixture(scope="module")
def feeds_before(_spark_session: SparkSession, world: dict[str, Any]) -> list[dict[str, Any]]:
    """The sync-back feed run twice with no change in between (before any erasure)."""
    return [run_sync_back(_spark_session, world["cfg"], f"sb{i}") for i in (1, 2)]


@pytest.fixture(scope="module")
def erased(
    _spark_session: SparkSession, world: dict[str, Any], feeds_before: list[dict[str, Any]]
) -> dict[str, Any]:
    """Alicia erased by email (customer scope), Xavier's bridging record erased by key."""
    spark, cfg = _spark_session, world["cfg"]
    requests = [
        ErasureRequest("email", "  Alicia.Zorglub@Zmail.FR ", "REQ-1"),
        ErasureRequest("record", "shop:customers:X1", "REQ-2"),
    ]
    t0 = time.perf_counter()
    result = erase(spark, cfg, requests, "erase-1")
    print(f"erase in {time.perf_counter() - t0:.1f}s: {result.metrics()}")
    after = run_sync_back(spark, cfg, "sb3")
    return {"result": result, "feed_after": after}


def _table_rows(root: Path) -> dict[str, list[str]]:
    """Every current Delta table of the lakehouse, each row as JSON text (read without Spark)."""
    from deltalake import DeltaTable

    out: dict[str, list[str]] = {}
    for log in sorted(root.glob("*/*/_delta_log")):
        table = log.parent
        df = DeltaTable(str(table)).to_pandas()
        out[f"{table.parent.name}.{table.name}"] = [
            json.dumps(r, default=str) for r in df.to_dict(orient="records")
        ]
    return out


def _holds(rows: list[str], tokens: tuple[str, ...], *, case: bool = False) -> list[str]:
    """Rows containing one of ``tokens`` (case-insensitive unless ``case``)."""
    if case:
        return [r for r in rows if any(t in r for t in tokens)]
    low = [t.lower() for t in tokens]
    return [r for r in rows if any(t in r.lower() for t in low)]


# --------------------------------------------------------------------------- erasure
def test_erased_person_is_in_no_current_table_version(
    erased: dict[str, Any], world: dict[str, Any]
) -> None:
    tables = _table_rows(Path(world["lh"].cfg.root))
    assert {"bronze.shop_customers", "silver.person_records", "gold.golden_profiles"} <= set(tables)
    for person in (ALICIA, XAVIER):
        leaks = {t: _holds(rows, person) for t, rows in tables.items()}
        assert not any(leaks.values()), {t: v[:2] for t, v in leaks.items() if v}
    # the others are still there
    bronze = " ".join(tables["bronze.shop_customers"] + tables["bronze.crm_contacts"])
    for name in OTHERS:
        assert name in bronze
    # her order went too (bronze, gold orders, gold interactions)
    assert not any('"O1"' in r or "shop:O1" in r for r in tables["bronze.shop_orders"])
    assert not any("shop:O1" in r for r in tables["gold.orders"] + tables["gold.interactions"])
    m = erased["result"].metrics()
    assert m["records_erased"] == 3 and m["customers_erased"] == 1
    assert m["rows_deleted"]["bronze.shop_customers"] == 2  # A1 and X1
    assert m["rows_deleted"]["bronze.crm_contacts"] == 1  # A2
    assert m["rows_deleted"]["bronze.shop_orders"] == 1


def test_erasing_a_bridging_record_splits_the_customers(
    spark: SparkSession, erased: dict[str, Any], world: dict[str, Any]
) -> None:
    lh, before = world["lh"], world["ids_before"]
    assert before[rk("shop", "B1")] == before[rk("crm", "C1")] == before[rk("shop", "X1")]
    graph = {
        r["record_key"]: r["customer_id"]
        for r in lh.read(spark, "gold", "identity_graph").collect()
    }
    assert rk("shop", "X1") not in graph and rk("shop", "A1") not in graph
    assert graph[rk("shop", "B1")] != graph[rk("crm", "C1")]
    # the part with the smallest record key keeps the id; the other is a recorded split
    assert graph[rk("crm", "C1")] == before[rk("crm", "C1")]
    history = lh.read(spark, "gold", "customer_id_history").where(F.col("run_id") == "erase-1")
    events = {
        (r["event_type"], r["customer_id"], r["related_customer_id"]) for r in history.collect()
    }
    assert ("split", graph[rk("shop", "B1")], before[rk("crm", "C1")]) in events
    assert ("retired", before[rk("shop", "A1")], None) in events
    # unaffected customers keep their ids
    for key in (rk("shop", "D1"), rk("shop", "E1")):
        assert graph[key] == before[key]
    clusters = {
        r["record_key"]: r["cluster_id"]
        for r in lh.read(spark, "silver", "record_clusters").collect()
    }
    assert clusters[rk("shop", "B1")] != clusters[rk("crm", "C1")]
    assert set(clusters) == {rk("shop", "B1"), rk("crm", "C1"), rk("shop", "D1"), rk("shop", "E1")}
    profiles = lh.read(spark, "gold", "golden_profiles")
    assert profiles.count() == 4  # B1, C1, D1, E1


def test_erasure_audit_and_suppression_hold_no_pii(
    spark: SparkSession, erased: dict[str, Any], world: dict[str, Any]
) -> None:
    lh = world["lh"]
    log = {r["request_id"]: r for r in lh.read(spark, "ops", "erasure_log").collect()}
    assert set(log) == {"REQ-1", "REQ-2"}
    alicia = log["REQ-1"]
    assert alicia["identifier_kind"] == "email" and alicia["status"] == "erased"
    assert alicia["identifier_hash"] == sha256_hex(ALICIA[2])
    assert (alicia["records_erased"], alicia["customers_affected"]) == (2, 1)
    assert log["REQ-2"]["identifier_hash"] == sha256_hex("shop:customers:X1")
    text = json.dumps([r.asDict() for r in log.values()], default=str)
    assert not find_pii(text) and not _holds([text], ALICIA + XAVIER)
    supp = {(r["kind"], r["hash"]) for r in lh.read(spark, "ops", "suppression").collect()}
    assert ("email", sha256_hex(ALICIA[2])) in supp
    assert ("phone", sha256_hex(ALICIA[3])) in supp
    assert ("record", sha256_hex("crm:contacts:A2")) in supp
    assert ("record", sha256_hex("shop:customers:X1")) in supp


def test_reingesting_the_original_files_does_not_bring_them_back(
    spark: SparkSession, erased: dict[str, Any], world: dict[str, Any]
) -> None:
    from unification.ingest import run_ingest

    cfg, lh, data = world["cfg"], world["lh"], world["data"]
    # the very same file again (same checksum: a no-op), and a re-delivery with new rows, her
    # row written another way, a quarantined row of hers, and a new person
    shutil.copy(data / "shop" / "customers_1.csv", data / "shop" / "customers_copy.csv")
    _write_csv(
        data / "shop" / "customers_2.csv",
        SHOP_HEADER,
        [
            *SHOP_ROWS,
            "A1,ALICIA.ZORGLUB@ZMAIL.FR,Alicia,Zorglub,+33 6 12 34 56 01,FR,"
            "2024-05-01 10:00:00,1,2024-05-01 10:00:00",
            "A9,alicia.zorglub@zmail.fr,Alicia,Zorglub,,FR,not a date,1,",
            "F1,frank.new@zmail.fr,Frank,Newman,06 12 34 56 09,FR,2024-05-02 10:00:00,1,"
            "2024-05-02 10:00:00",
        ],
    )
    _write_csv(
        data / "shop" / "orders_2.csv", ORDER_HEADER, [*ORDER_ROWS, "O9,F1,2024-05-03 12:00:00,9.0"]
    )
    metrics = run_ingest(spark, cfg, "r2")
    customers = metrics["entities"]["shop.customers"]
    assert customers["files_skipped"] == 2  # customers_1 (known) and its copy
    assert customers["rows_read"] == 8
    assert customers["rows_suppressed"] == 4  # A1 twice, X1, A9 (quarantined otherwise)
    assert customers["rows_read"] == (
        customers["rows_accepted"] + customers["rows_quarantined"] + customers["rows_suppressed"]
    )
    assert metrics["entities"]["shop.orders"]["rows_suppressed"] == 1  # O1 of A1
    tables = _table_rows(Path(lh.cfg.root))
    for t in ("bronze.shop_customers", "bronze.shop_orders", "bronze._quarantine"):
        assert not _holds(tables.get(t, []), ALICIA + XAVIER), t
    assert _holds(tables["bronze.shop_customers"], ("Newman",))
    assert not find_pii(json.dumps(metrics, default=str))


# --------------------------------------------------------------------------- exports
def test_exports_hold_no_opted_out_or_erased_person(
    spark: SparkSession, erased: dict[str, Any], world: dict[str, Any]
) -> None:
    cfg, lh = world["cfg"], world["lh"]
    # after the erasure Bob has a new customer id (the split): no feature row, so no segment,
    # until the next features run, simulated here
    _features(spark, lh, mode="overwrite")
    email = run_export(spark, cfg, "vip", "email", "x1")
    assert email["path"].endswith(".csv") and Path(email["path"]).is_file()
    with open(email["path"], encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["email"] for r in rows) == ["bob.durand@zmail.fr", "erin.optin@zmail.fr"]
    assert set(rows[0]) == {"customer_id", "email", "first_name", "last_name", "country"}
    assert email["opted_out"] == 1  # Dave
    assert email["no_consent"] == 1  # Carol: the crm states no email consent
    assert email["members"] == 4 and email["exported"] == 2

    ads = run_export(spark, cfg, "vip", "ads", "x2", fmt="parquet")
    import pyarrow.parquet as pq

    audience = pq.read_table(ads["path"]).to_pylist()
    assert {r["email_sha256"] for r in audience} == {
        sha256_hex("bob.durand@zmail.fr"),
        sha256_hex("erin.optin@zmail.fr"),
    }
    # meta convention: E.164 digits without '+'
    assert sha256_hex("33612345605") in {r["phone_sha256"] for r in audience}
    assert set(audience[0]) == {"email_sha256", "phone_sha256"}

    # masking, and a suppressed person still present in gold is left out
    from unification.privacy.suppression import add_to_suppression

    add_to_suppression(spark, lh, [("email", sha256_hex("bob.durand@zmail.fr"), "t")])
    cfg.activation.exports.masking = {"last_name": "mask", "first_name": "drop"}
    try:
        masked = run_export(spark, cfg, "vip", "email", "x3")
    finally:
        cfg.activation.exports.masking = {}
    with open(masked["path"], encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["email"], r["last_name"]) for r in rows] == [("erin.optin@zmail.fr", "O.")]
    assert "first_name" not in rows[0]
    assert masked["suppressed"] == 1
    log = lh.read(spark, "ops", "export_log").collect()
    assert {r["run_id"] for r in log} >= {"x1", "x2", "x3"}
    assert not find_pii(json.dumps([r.asDict() for r in log], default=str))


# --------------------------------------------------------------------------- sync-back
def _feed(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_syncback_is_incremental_and_idempotent(
    feeds_before: list[dict[str, Any]], erased: dict[str, Any], world: dict[str, Any]
) -> None:
    first, second = feeds_before
    assert first["sources"]["shop"]["mode"] == "snapshot"
    shop = _feed(first["sources"]["shop"]["path"])
    assert {r["source_id"] for r in shop} == {"A1", "B1", "X1", "D1", "E1"}
    assert all("customer_id" in r["changes"].split("|") for r in shop)
    crm = {r["source_id"]: r for r in _feed(first["sources"]["crm"]["path"])}
    # the crm records get the email consent stated in the shop
    assert crm["A2"]["consent_email"] == "true" and crm["C1"]["consent_email"] == "true"
    # a second run with no change in between: an empty delta (a header-only file per source)
    for src in ("shop", "crm"):
        assert second["sources"][src]["mode"] == "changes"
        assert second["sources"][src]["rows"] == 0
        assert _feed(second["sources"][src]["path"]) == []
    assert second["rows"] == 0

    after = erased["feed_after"]
    ids = world["ids_before"]
    shop3 = _feed(after["sources"]["shop"]["path"])
    deleted = [r for r in shop3 if r["changes"] == "deleted"]
    assert [r["customer_id"] for r in deleted] == [ids[rk("shop", "A1")]]
    assert deleted[0]["source_id"] == "" and deleted[0]["email"] == ""
    moved = [r for r in shop3 if r["source_id"] == "B1"]
    assert moved and "customer_id" in moved[0]["changes"]
    crm3 = _feed(after["sources"]["crm"]["path"])
    assert ids[rk("crm", "A2")] in {r["customer_id"] for r in crm3 if r["changes"] == "deleted"}
    for rows in (shop3, crm3):
        text = json.dumps(rows)
        assert not _holds([text], ALICIA + XAVIER)


# --------------------------------------------------------------------------- PII hygiene
def test_logs_run_log_and_report_carry_no_pii(
    spark: SparkSession, erased: dict[str, Any], world: dict[str, Any]
) -> None:
    from unification.publish.report import build_report

    cfg, lh = world["cfg"], world["lh"]
    everyone = ALICIA + XAVIER + OTHERS + ("Bob", "Carol", "Dave", "Erin", "@zmail.fr")
    logs = world["logs"].messages
    assert logs, "no log collected"
    assert not find_pii(logs), find_pii(logs)[:3]
    assert not _holds(logs, ALICIA + XAVIER)
    run_log = [r["metrics_json"] or "" for r in lh.read(spark, "ops", "run_log").collect()]
    assert not find_pii(run_log) and not _holds(run_log, everyone, case=True)
    html = build_report(spark, cfg, "erase-1")
    assert "Run summary" in html
    assert not find_pii(html) and not _holds([html], everyone, case=True)


# --------------------------------------------------------------------------- the CLI
def test_cli_commands(spark: SparkSession, erased: dict[str, Any], world: dict[str, Any]) -> None:
    """``unify erase --dry-run`` and ``unify export`` errors on the same world (the CLI reuses
    the running session); the library behind the commands is tested above."""
    import yaml
    from typer.testing import CliRunner

    from unification.cli import app

    root: Path = world["root"]
    sources = root / "sources"
    sources.mkdir(exist_ok=True)
    for src in _sources():
        (sources / f"{src.name}.yml").write_text(
            yaml.safe_dump(src.model_dump(exclude_defaults=True)), encoding="utf-8"
        )
    conf = root / "cli.yml"
    conf.write_text(
        yaml.safe_dump(
            {
                "sources_dir": str(sources),
                "data_root": str(world["data"]),
                "lakehouse": {"root": world["lh"].cfg.root},
                "spark": {"shuffle_partitions": 2},
                "standardise": {"default_region": "FR", "phone_validation": "possible"},
                "activation": {
                    "segments": [{"name": "vip", "where": "lifecycle_stage = 'vip'"}],
                    "exports": {"dir": str(root / "exports")},
                },
            }
        ),
        encoding="utf-8",
    )
    runner = CliRunner()
    root_logger = logging.getLogger()
    saved = (root_logger.handlers[:], root_logger.level)
    checkpoints = spark.sparkContext.getCheckpointDir()
    try:
        _cli_calls(runner, app, conf, root)
    finally:  # the CLI configures logging and the session's checkpoint folder: put them back
        root_logger.handlers[:] = saved[0]
        root_logger.setLevel(saved[1])
        if checkpoints:
            spark.sparkContext.setCheckpointDir(checkpoints)


def _cli_calls(runner: Any, app: Any, conf: Path, root: Path) -> None:
    out = runner.invoke(
        app,
        ["erase", "--customer-id", "C-NOBODY", "--dry-run", "--conf", str(conf)],
    )
    assert out.exit_code == 0, out.output
    assert "requests_not_found" in out.output and "dry run" in out.output
    out = runner.invoke(app, ["export", "--segment", "nope", "--channel", "sms", "-c", str(conf)])
    assert out.exit_code == 2 and "nope" in out.output
    out = runner.invoke(app, ["export", "--segment", "vip", "--channel", "fax", "-c", str(conf)])
    assert out.exit_code != 0
    out = runner.invoke(app, ["erase", "--conf", str(conf)])
    assert out.exit_code != 0


# --------------------------------------------------------------------------- vacuum (last)
def test_vacuum_purges_erased_rows_from_disk(
    spark: SparkSession, erased: dict[str, Any], world: dict[str, Any]
) -> None:
    import pyarrow.parquet as pq

    from unification.privacy.errors import PrivacyError

    cfg, root = world["cfg"], Path(world["lh"].cfg.root)

    def files_with(tokens: tuple[str, ...]) -> list[str]:
        hits = []
        for f in root.rglob("*.parquet"):
            if "_delta_log" in f.parts:
                continue
            text = json.dumps(pq.read_table(f).to_pylist(), default=str).lower()
            if any(t.lower() in text for t in tokens):
                hits.append(str(f.relative_to(root)))
        return hits

    before = files_with(ALICIA[:3])
    assert before, "old versions still hold her rows until VACUUM"
    assert any("_change_data" in f for f in before)  # the golden change feed too
    with pytest.raises(PrivacyError, match="168"):
        run_vacuum(spark, cfg, "v0", retain_hours=0)
    metrics = run_vacuum(
        spark, cfg, "v1", retain_hours=0, force=True, layers=("bronze", "silver", "gold")
    )
    assert metrics["files_removed"] > 0 and metrics["tables"] >= 12
    assert files_with(ALICIA[:3]) == []
