"""Bronze ingestion end to end on small inline files: contract, quarantine, reconciliation,
idempotency, rejections, formats."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.config import AppConfig, ColumnSpec, EntityConfig, SourceConfig
from unification.errors import ConfigError, ContractError, ReconciliationError
from unification.ingest import ingest as ingest_module
from unification.ingest import ingest_entity, run_ingest, tables
from unification.ingest.settings import IngestSettings
from unification.lakehouse import Lakehouse

CUSTOMERS = EntityConfig(
    path="shop/customers_*.csv",
    format="csv",
    key=["customer_id"],
    columns=[
        ColumnSpec(name="customer_id", type="int", required=True),
        ColumnSpec(name="email", required=True),
        ColumnSpec(name="city"),
        ColumnSpec(name="birth_date", type="date", format="dd/MM/yyyy"),
        ColumnSpec(name="score", type="double"),
    ],
)

GOOD_CSV = (
    "customer_id,email,city,birth_date,score,Loyalty Tier\n"
    '1,a@x.fr,"Paris, 75",15/01/1990,1.5,gold\n'
    '2,b@x.fr,"Saint-Malo\nquai",1990-02-01,,\n'
    "3,c@x.fr,Lyon,,2,silver\n"
)
BAD_CSV = (
    "customer_id,email,city,birth_date,score,Loyalty Tier\n"
    "10,ok@x.fr,Lyon,01/01/1980,3.0,\n"  # 1 accepted
    "abc,bad@x.fr,Lyon,,,\n"  # 2 bad int
    "11,,Nice,,,\n"  # 3 missing email
    "12,d@x.fr,Nice\n"  # 4 malformed: too few fields
    "10,again@x.fr,Lyon,,,\n"  # 5 duplicate key of row 1
    "13,e@x.fr,Pau,31/02/1990,x,\n"  # 6 two bad values
    "14,f@x.fr,Pau,,,\n"  # 7 accepted
)


def _config(
    app_config: AppConfig, entities: dict[str, EntityConfig], **settings: object
) -> AppConfig:
    cfg = app_config.model_copy(deep=True)
    cfg.sources = [SourceConfig(name="shop", entities=entities)]
    cfg.ingest = IngestSettings(**settings)  # type: ignore[arg-type]
    return cfg


def _write(cfg: AppConfig, name: str, content: str | bytes) -> Path:
    path = Path(cfg.data_root) / "shop" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _table(spark: SparkSession, cfg: AppConfig, table: str) -> DataFrame:
    return Lakehouse(cfg.lakehouse).read(spark, "bronze", table)


def _versions(spark: SparkSession, cfg: AppConfig, names: list[str]) -> dict[str, int | None]:
    lh = Lakehouse(cfg.lakehouse)
    return {n: lh.version(spark, "bronze", n) for n in names}


def _assert_key(df: DataFrame, key: list[str]) -> None:
    stats = df.agg(
        F.count(F.lit(1)).alias("n"),
        F.count_distinct(*[F.col(k) for k in key]).alias("distinct"),
        F.sum(F.when(F.greatest(*[F.col(k).isNull() for k in key]), 1).otherwise(0)).alias("nulls"),
    ).first()
    assert stats is not None
    assert stats["n"] == stats["distinct"], f"key {key} not unique"
    assert (stats["nulls"] or 0) == 0, f"key {key} has nulls"


# --------------------------------------------------------------------------- CSV contract
def test_csv_contract_quarantine_reasons_and_reconciliation(
    spark: SparkSession, app_config: AppConfig
) -> None:
    cfg = _config(app_config, {"customers": CUSTOMERS})
    good = _write(cfg, "customers_001.csv", GOOD_CSV)
    bad = _write(cfg, "customers_002.csv", BAD_CSV)

    metrics = run_ingest(spark, cfg, "run-1")

    assert metrics["files_ingested"] == 2
    assert metrics["rows_read"] == 10 == metrics["rows_accepted"] + metrics["rows_quarantined"]
    assert metrics["rows_accepted"] == 5
    assert metrics["quarantine_reasons"] == {
        "malformed": 1,
        "missing_value": 1,
        "bad_type": 2,
        "duplicate_key": 1,
    }

    bronze = _table(spark, cfg, "shop_customers")
    rows = {r["customer_id"]: r for r in bronze.collect()}
    assert sorted(rows) == [1, 2, 3, 10, 14]
    assert rows[1]["city"] == "Paris, 75" and rows[2]["city"] == "Saint-Malo\nquai"
    assert rows[1]["birth_date"] == date(1990, 1, 15)
    assert rows[2]["birth_date"] == date(1990, 2, 1)  # ISO is always understood
    assert rows[1]["score"] == 1.5 and rows[2]["score"] is None
    assert rows[1]["Loyalty_Tier"] == "gold"  # extra column kept, Delta-safe name
    assert rows[14]["_row_number"] == 7 and rows[10]["_row_number"] == 1
    assert rows[1]["_batch_id"] != rows[10]["_batch_id"]
    assert rows[10]["_source_file"] == str(bad)
    assert rows[1]["_source"] == "shop" and rows[1]["_entity"] == "customers"
    assert rows[1]["_run_id"] == "run-1" and len(rows[1]["_row_hash"]) == 64
    assert dict(bronze.dtypes)["customer_id"] == "int"
    assert dict(bronze.dtypes)["birth_date"] == "date"

    quarantine = _table(spark, cfg, "_quarantine")
    reasons = {r["row_number"]: (r["reason"], r["raw"]) for r in quarantine.collect()}
    assert reasons[2][0] == "cannot parse 'abc' as int in column customer_id"
    assert reasons[3][0] == "missing required column value: email"
    assert reasons[4][0].startswith("malformed CSV row: wrong number of fields (the header has 6)")
    assert reasons[4][1] == "12,d@x.fr,Nice"  # the raw record
    assert reasons[5][0] == "duplicate key customer_id=10 in file (first at row 1)"
    assert reasons[6][0] == (
        "cannot parse '31/02/1990' as date in column birth_date (format dd/MM/yyyy); "
        "cannot parse 'x' as double in column score"
    )
    assert json.loads(reasons[2][1])["customer_id"] == "abc"  # raw row as JSON text

    batches = {r["source_file"]: r for r in _table(spark, cfg, "_batches").collect()}
    assert batches[str(good)]["rows_read"] == 3 and batches[str(good)]["rows_quarantined"] == 0
    b = batches[str(bad)]
    assert (b["rows_read"], b["rows_accepted"], b["rows_quarantined"]) == (7, 2, 5)
    assert b["status"] == "succeeded" and b["checksum"] == f"sha256:{b['batch_id']}"

    _assert_key(bronze, list(tables.BRONZE_KEY))
    _assert_key(quarantine, list(tables.QUARANTINE_KEY))
    _assert_key(_table(spark, cfg, "_batches"), list(tables.BATCHES_KEY))

    # another Delta reader (delta-rs, no Spark) opens the bronze table
    import deltalake

    arrow = deltalake.DeltaTable(str(Path(cfg.lakehouse.root) / "bronze" / "shop_customers"))
    table = arrow.to_pyarrow_table()
    assert table.num_rows == 5
    assert "_row_hash" in table.column_names


def test_second_run_and_renamed_copy_add_nothing(
    spark: SparkSession, app_config: AppConfig
) -> None:
    cfg = _config(app_config, {"customers": CUSTOMERS})
    first = _write(cfg, "customers_001.csv", BAD_CSV)
    _write(cfg, "customers_001_copy.csv", BAD_CSV)  # same content, same run: one batch
    m1 = run_ingest(spark, cfg, "run-1")
    assert (m1["files_ingested"], m1["files_skipped"]) == (1, 1)
    names = ["shop_customers", "_quarantine", "_batches"]
    before = _versions(spark, cfg, names)

    shutil.copy(first, Path(cfg.data_root) / "shop" / "customers_999_redelivered.csv")
    m2 = run_ingest(spark, cfg, "run-2")

    assert m2["files_ingested"] == 0 and m2["files_skipped"] == 3
    assert m2["rows_read"] == 0
    assert _versions(spark, cfg, names) == before  # no commit at all on any table


def test_crash_before_batches_record_is_repaired_without_duplicates(
    spark: SparkSession, app_config: AppConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(app_config, {"customers": CUSTOMERS})
    _write(cfg, "customers_001.csv", BAD_CSV)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr(tables, "record_batches", crash)
    with pytest.raises(RuntimeError, match="killed"):
        run_ingest(spark, cfg, "run-1")
    monkeypatch.undo()
    metrics = run_ingest(spark, cfg, "run-2")

    assert metrics["files_ingested"] == 1
    assert _table(spark, cfg, "shop_customers").count() == 2
    assert _table(spark, cfg, "_quarantine").count() == 5
    assert _table(spark, cfg, "_batches").count() == 1


# --------------------------------------------------------------------------- rejections
def test_missing_required_column_rejects_file_and_leaves_tables_unchanged(
    spark: SparkSession, app_config: AppConfig
) -> None:
    cfg = _config(app_config, {"customers": CUSTOMERS})
    _write(cfg, "customers_001.csv", GOOD_CSV)
    run_ingest(spark, cfg, "run-1")
    names = ["shop_customers", "_quarantine"]
    before = _versions(spark, cfg, names)
    bad = _write(cfg, "customers_002.csv", "customer_id,city\n20,Lyon\n")
    semi = _write(cfg, "customers_003.csv", "customer_id;email;city\n21;g@x.fr;Pau\n")

    with pytest.raises(ContractError) as err:
        run_ingest(spark, cfg, "run-2")

    message = str(err.value)
    assert str(bad) in message and "missing required column(s) ['email']" in message
    assert str(semi) in message and "wrong separator" in message
    assert _versions(spark, cfg, names) == before
    batches = _table(spark, cfg, "_batches").filter("status = 'rejected'").collect()
    assert sorted(r["source_file"] for r in batches) == [str(bad), str(semi)]
    assert all(r["rows_accepted"] == 0 and r["reason"] for r in batches)

    # a known rejected batch is skipped afterwards (the run no longer fails on it)
    again = run_ingest(spark, cfg, "run-3")
    assert again["files_previously_rejected"] == 2 and again["files_rejected"] == 0


def test_rejection_can_be_tolerated(spark: SparkSession, app_config: AppConfig) -> None:
    cfg = _config(app_config, {"customers": CUSTOMERS}, fail_on_rejected_file=False)
    _write(cfg, "customers_001.csv", "customer_id,city\n20,Lyon\n")
    metrics = run_ingest(spark, cfg, "run-1")
    assert metrics["files_rejected"] == 1
    assert metrics["rejected_files"][0]["reason"].startswith("missing required column(s)")
    assert _table(spark, cfg, "shop_customers").count() == 0  # empty table, contract schema


def test_reconciliation_failure_writes_nothing(
    spark: SparkSession, app_config: AppConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(app_config, {"customers": CUSTOMERS})
    path = _write(cfg, "customers_001.csv", GOOD_CSV)
    real = ingest_module.inspect_csv

    def one_row_more(*args: object, **kwargs: object) -> object:
        facts = real(*args, **kwargs)  # type: ignore[arg-type]
        return type(facts)(facts.header, (facts.rows or 0) + 1, facts.truncated)

    monkeypatch.setattr(ingest_module, "inspect_csv", one_row_more)
    with pytest.raises(ReconciliationError) as err:
        run_ingest(spark, cfg, "run-1")
    assert str(path) in str(err.value)
    assert "rows read 4 (counted in the file) != rows parsed by Spark 3" in str(err.value)
    lh = Lakehouse(cfg.lakehouse)
    assert lh.read_or_none(spark, "bronze", "_batches") is None
    assert lh.read_or_none(spark, "bronze", "_quarantine") is None
    bronze = lh.read_or_none(spark, "bronze", "shop_customers")
    assert bronze is None or bronze.count() == 0


def test_empty_header_only_and_truncated_files(spark: SparkSession, app_config: AppConfig) -> None:
    cfg = _config(app_config, {"customers": CUSTOMERS})
    _write(cfg, "customers_001.csv", "")
    _write(cfg, "customers_002.csv", "customer_id,email\n")
    _write(cfg, "customers_003.csv", 'customer_id,email,city\n1,a@x.fr,Paris\n2,b@x.fr,"Ly')
    _write(cfg, "customers_004.csv", "customer_id,email\n5,e@x.fr\n Customer_ID ,email\n")
    metrics = run_ingest(spark, cfg, "run-1")
    assert metrics["files_ingested"] == 4
    assert (metrics["rows_read"], metrics["rows_accepted"]) == (4, 2)
    q = sorted(_table(spark, cfg, "_quarantine").collect(), key=lambda r: r["source_file"])
    assert [r["reason"] for r in q] == [
        "truncated last row: the file ends inside a quoted field",
        "row repeats the header",
    ]
    batches = {Path(r["source_file"]).name: r for r in _table(spark, cfg, "_batches").collect()}
    assert batches["customers_001.csv"]["reason"] == "empty file (0 bytes)"
    assert batches["customers_002.csv"]["rows_read"] == 0


# --------------------------------------------------------------------------- formats
def test_latin1_semicolon_file(spark: SparkSession, app_config: AppConfig) -> None:
    members = EntityConfig(
        path="shop/members_*.csv",
        format="csv",
        options={"sep": ";", "encoding": "ISO-8859-1"},
        key=["NUM_CARTE"],
        columns=[
            ColumnSpec(name="NUM_CARTE", required=True),
            ColumnSpec(name="NOM"),
            ColumnSpec(name="DATE_MAJ", type="timestamp", format="dd/MM/yyyy HH:mm:ss"),
        ],
    )
    cfg = _config(app_config, {"members": members}, verify_row_count=False)
    content = "num_carte;NOM;DATE_MAJ\n0042;Lefèvre;03/06/2025 14:23:19\n0043;Ŀœ\n"
    # glob characters in a file name are read literally
    _write(cfg, "members_[1].csv", content.replace("Ŀœ", "Müller;").encode("latin-1"))
    run_ingest(spark, cfg, "run-1")
    rows = sorted(_table(spark, cfg, "shop_members").collect(), key=lambda r: r["NUM_CARTE"])
    assert [r["NOM"] for r in rows] == ["Lefèvre", "Müller"]
    assert rows[0]["NUM_CARTE"] == "0042"  # strings stay as delivered
    assert rows[0]["DATE_MAJ"] == datetime(2025, 6, 3, 14, 23, 19)
    assert rows[1]["DATE_MAJ"] is None
    [batch] = _table(spark, cfg, "_batches").collect()
    assert batch["rows_read"] == 2  # counted by Spark when verify_row_count is off


def test_json_lines(spark: SparkSession, app_config: AppConfig) -> None:
    events = EntityConfig(
        path="shop/events_*.jsonl",
        format="json",
        key=["event_id"],
        columns=[
            ColumnSpec(name="event_id", required=True),
            ColumnSpec(name="qty", type="int"),
            ColumnSpec(name="ts", type="timestamp", format="yyyy-MM-dd'T'HH:mm:ss.SSSX"),
        ],
    )
    cfg = _config(app_config, {"events": events})
    lines = [
        '{"event_id": "e1", "qty": 2, "ts": "2024-03-01T10:00:00.000Z", "meta": {"a": [1]}}',
        "",
        '{"event_id": "e2", "qty": "2.0", "ts": null}',
        '{"event_id": "e3", "qty": "many"}',
        "not json at all",
        '["an", "array"]',
        '{"event_id": "e4", "event_id": "e5"}',
        '{"qty": 1}',
        '{"event_id": "e1"}',
    ]
    _write(cfg, "events_001.jsonl", "\n".join(lines) + "\n")
    metrics = run_ingest(spark, cfg, "run-1")
    assert metrics["rows_read"] == 8 == metrics["rows_accepted"] + metrics["rows_quarantined"]
    bronze = {r["event_id"]: r for r in _table(spark, cfg, "shop_events").collect()}
    assert sorted(bronze) == ["e1", "e2"]
    assert bronze["e1"]["qty"] == 2 and bronze["e2"]["qty"] == 2
    assert bronze["e1"]["ts"] == datetime(2024, 3, 1, 10, 0)
    assert json.loads(bronze["e1"]["meta"]) == {"a": [1]}  # extra nested field kept as JSON
    q = {r["row_number"]: r for r in _table(spark, cfg, "_quarantine").collect()}
    assert q[3]["reason"] == "cannot parse 'many' as int in column qty"
    assert q[4]["reason"] == "malformed JSON record: not a valid JSON object"
    assert q[4]["raw"] == "not json at all"
    assert q[5]["reason"] == "malformed JSON record: not a valid JSON object"
    assert q[6]["reason"] == "malformed JSON record: a field name is repeated"
    assert q[7]["reason"] == "missing required column value: event_id"
    assert q[8]["reason"] == "duplicate key event_id=e1 in file (first at row 1)"


def test_json_file_without_a_required_field_is_rejected(
    spark: SparkSession, app_config: AppConfig
) -> None:
    events = EntityConfig(
        path="shop/events_*.jsonl",
        format="json",
        columns=[ColumnSpec(name="event_id", required=True), ColumnSpec(name="qty", type="int")],
    )
    cfg = _config(app_config, {"events": events})
    _write(cfg, "events_001.jsonl", '{"EventId": "e1"}\n{"EventId": "e2"}\n')
    report = ingest_entity(spark, cfg, "shop", "events", "run-1")
    [f] = report.files
    assert f.status == "rejected"
    assert "missing required column(s) ['event_id']" in (f.reason or "")
    lh = Lakehouse(cfg.lakehouse)
    assert lh.read_or_none(spark, "bronze", "_quarantine") is None
    assert lh.read(spark, "bronze", "shop_events").count() == 0


def test_parquet(spark: SparkSession, app_config: AppConfig) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tickets = EntityConfig(
        path="shop/tickets_*.parquet",
        format="parquet",
        key=["ticket_id"],
        columns=[
            ColumnSpec(name="ticket_id", type="long", required=True),
            ColumnSpec(name="amount", type="decimal"),
            ColumnSpec(name="qty", type="int"),
            ColumnSpec(name="day", type="date", format="dd/MM/yyyy"),
            ColumnSpec(name="at", type="timestamp"),
        ],
    )
    cfg = _config(app_config, {"tickets": tickets})
    path = Path(cfg.data_root) / "shop" / "tickets_001.parquet"
    path.parent.mkdir(parents=True)
    table = pa.table(
        {
            "TICKET_ID": pa.array([1, 2, None], pa.int64()),
            "amount": [10.5, 3.25, 1.0],
            "qty": [1.0, 2.5, 3.0],
            "day": [date(2024, 1, 2), date(2024, 1, 3), None],
            "at": [datetime(2024, 1, 2, 9, 30), None, None],
            "store": ["S1", "S2", "S3"],
        }
    )
    pq.write_table(table, path, row_group_size=2)
    metrics = run_ingest(spark, cfg, "run-1")
    assert (metrics["rows_read"], metrics["rows_accepted"]) == (3, 1)
    [row] = _table(spark, cfg, "shop_tickets").collect()
    assert row["ticket_id"] == 1 and float(row["amount"]) == 10.5 and row["qty"] == 1
    assert row["day"] == date(2024, 1, 2) and row["at"] == datetime(2024, 1, 2, 9, 30)
    assert row["store"] == "S1" and row["_row_number"] == 1
    reasons = {r["row_number"]: r["reason"] for r in _table(spark, cfg, "_quarantine").collect()}
    assert reasons == {
        2: "cannot parse '2.5' as int in column qty",
        3: "missing required column value: ticket_id",
    }


def test_parse_value_types(spark: SparkSession) -> None:
    from unification.ingest.rows import parse_value

    df = spark.createDataFrame(
        [("2.0", "2024", "15/01/2024", "yes", " 7 "), ("2.5", "2024-01-15", "2024-01-15", "t", "")],
        "i string, d string, f string, b string, l string",
    )
    out = df.select(
        parse_value(F.col("i"), ColumnSpec(name="i", type="int")).alias("i"),
        parse_value(F.col("d"), ColumnSpec(name="d", type="date")).alias("d"),
        parse_value(
            F.col("f"), ColumnSpec(name="f", type="date", format="MM/yyyy|dd/MM/yyyy")
        ).alias("f"),
        parse_value(F.col("b"), ColumnSpec(name="b", type="boolean")).alias("b"),
        parse_value(F.col("l"), ColumnSpec(name="l", type="long")).alias("l"),
    ).collect()
    assert tuple(out[0]) == (2, None, date(2024, 1, 15), True, 7)  # a bare year is not a date
    assert tuple(out[1]) == (None, date(2024, 1, 15), date(2024, 1, 15), True, None)


def test_invalid_options_are_a_config_error(spark: SparkSession, app_config: AppConfig) -> None:
    bad = CUSTOMERS.model_copy(update={"options": {"sep": ";;"}})
    cfg = _config(app_config, {"customers": bad})
    _write(cfg, "customers_001.csv", GOOD_CSV)
    with pytest.raises(ConfigError, match=r"sources shop: entities.customers.options: .*sep"):
        run_ingest(spark, cfg, "run-1")
