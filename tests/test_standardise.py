"""Cleaners (Column -> Column) and the bronze -> silver.person_records build."""

from __future__ import annotations

import datetime as dt
import os
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from unification.config import (
    AppConfig,
    ColumnSpec,
    EntityConfig,
    PersonMapping,
    RunConfig,
    SourceConfig,
)
from unification.lakehouse import Lakehouse
from unification.schemas import PERSON_RECORDS
from unification.standardise import columns as C
from unification.standardise import run_standardise
from unification.standardise.settings import StandardiseSettings

# pandas UDFs (unidecode, phonenumbers) run in Python workers: use this interpreter
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

S = StandardiseSettings()


def _one_col(spark: SparkSession, values: list[str | None], fn) -> list:  # type: ignore[no-untyped-def]
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i int, v string")
    return [r[0] for r in df.orderBy("i").select(fn(F.col("v"))).collect()]


# ----------------------------------------------------------------------------- names


def test_clean_name_titles_case_particles_compound(spark: SparkSession) -> None:
    out = _one_col(
        spark,
        [
            "  Mme  Hélène ",
            "DE LA FONTAINE",
            "jean - pierre",
            "M. McDonald",
            "Mr",
            "d’artagnan",
            "",
        ],
        lambda c: C.clean_name(c, S.names.titles, S.names.particles),
    )
    assert out == [
        "Hélène",
        "de la Fontaine",
        "Jean-Pierre",
        "McDonald",
        None,
        "d'Artagnan",
        None,
    ]


def test_name_keys_fold_and_compact(spark: SparkSession) -> None:
    values = ["Hélène", "Jean-Pierre", "jean pierre", "De La Tour", "Delatour", "Dr Œdipe", None]
    keys = _one_col(spark, values, lambda c: C.name_key(c, S.names.titles))
    assert keys == ["helene", "jeanpierre", "jeanpierre", "delatour", "delatour", "oedipe", None]
    cores = _one_col(
        spark,
        ["de la Fontaine", "La Fontaine", "d'Artagnan", "Le"],
        lambda c: C.name_core_key(c, S.names.particles),
    )
    assert cores == ["fontaine", "fontaine", "artagnan", "le"]


def test_gender_from_codes_and_titles(spark: SparkSession) -> None:
    assert _one_col(spark, ["Femme", "h", "2", "Mr", "?"], C.clean_gender) == [
        "F",
        "M",
        "F",
        "M",
        None,
    ]
    out = _one_col(
        spark,
        ["Mme", "M.", "Dr"],
        lambda c: C.title_gender(c, S.names.female_titles, S.names.male_titles),
    )
    assert out == ["F", "M", None]


# ----------------------------------------------------------------------------- email


def test_normalise_email_provider_rules_and_placeholders(spark: SparkSession) -> None:
    values = [
        " Jean.Dupont+promo@GoogleMail.com ",
        "jeandupont@gmail.com",
        "marie.curie+x@orange.fr",  # plus tags are aliases everywhere by default
        "Paul.Martin@Hotmail.FR",
        "noemail@orange.fr",
        "test@test.com",
        "pas-de-mail@free.fr",
        "jean@example.com",
        "not an email",
        "jean@@gmail.com",
        None,
    ]
    out = _one_col(spark, values, lambda c: C.normalise_email(c, S.email))
    assert out == [
        "jeandupont@gmail.com",
        "jeandupont@gmail.com",
        "marie.curie@orange.fr",
        "paul.martin@hotmail.fr",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ]


def test_email_provider_lists_are_configurable(spark: SparkSession) -> None:
    settings = S.email.model_copy(update={"plus_tag_domains": ["gmail.com"], "dotless_domains": []})
    out = _one_col(
        spark,
        ["jean.dupont+a@gmail.com", "marie+x@orange.fr"],
        lambda c: C.normalise_email(c, settings),
    )
    assert out == ["jean.dupont@gmail.com", "marie+x@orange.fr"]


# ----------------------------------------------------------------------------- phone


def test_french_phones_to_e164(spark: SparkSession) -> None:
    values = ["06 12 34 56 78", "06.12.34.56.78", "+33 6 12 34 56 78", "0033612345678",
              "+33 (0)6 12 34 56 78", "612345678", "01 23 45 67 89", "123", None]  # fmt: skip
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i int, v string")
    rows = df.orderBy("i").select(C.parse_phone(F.col("v"), F.lit("FR")).alias("p")).collect()
    e164 = [r.p.e164 for r in rows]
    assert e164 == ["+33612345678"] * 6 + ["+33123456789", None, None]
    assert rows[0].p.mobile is True and rows[6].p.mobile is False


def test_possible_numbers_are_kept_when_configured(spark: SparkSession) -> None:
    # 07 00 ... is not an allocated French range: rejected when strict, kept when "possible"
    df = spark.createDataFrame([("07 00 12 34 56",)], "v string")
    strict = df.select(C.parse_phone(F.col("v"), F.lit("FR"), "valid").alias("p")).first().p
    loose = df.select(C.parse_phone(F.col("v"), F.lit("FR"), "possible").alias("p")).first().p
    assert strict.e164 is None
    assert loose.e164 == "+33700123456" and loose.mobile is None


def test_phone_region_from_record(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("0470 12 34 56", "BE"), ("0470 12 34 56", "FR")], "v string, r string"
    )
    out = [r[0] for r in df.select(C.phone_e164(F.col("v"), F.col("r"))).collect()]
    assert out == ["+32470123456", "+33470123456"]  # the region decides


# ----------------------------------------------------------------------------- dates


def test_birth_dates_formats_and_plausibility(spark: SparkSession) -> None:
    values = ["1980-03-12", "19800312", "12/03/1980", "2/3/1980", "31/02/1980", "01/01/1900",
              "1850-06-01", "2999-01-01", "garbage", None]  # fmt: skip
    as_of = F.to_date(F.lit("2024-06-01"))
    out = _one_col(
        spark,
        values,
        lambda c: C.plausible_birth_date(
            C.parse_date(c, S.birth_date.formats), S.birth_date, as_of
        ),
    )
    d = dt.date
    assert out == [d(1980, 3, 12), d(1980, 3, 12), d(1980, 3, 12), d(1980, 3, 2), None, None,
                   None, None, None, None]  # fmt: skip


# ----------------------------------------------------------------------------- address & misc


def test_address_city_postal_country(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [
            ("12, av. des Champs-Élysées", "St-Étienne Cedex 2", "1000", "France"),
            ("3 bd Haussmann", "Paris 15e", "75 015", "fr"),
            ("", "Lyon", "7501X", "Belgique"),
        ],
        "a string, c string, p string, k string",
    )
    country = C.clean_country(F.col("k"), S.country_aliases)
    pc = C.clean_postal_code(F.col("p"), country, S.address)
    rows = df.select(
        C.clean_address_line(F.col("a"), S.address).alias("a"),
        C.clean_city(F.col("c"), S.address).alias("c"),
        pc.alias("p"),
        C.postal_code_is_valid(pc, country, S.address).alias("ok"),
        country.alias("k"),
    ).collect()
    assert [tuple(r) for r in rows] == [
        ("12 AVENUE DES CHAMPS ELYSEES", "SAINT ETIENNE", "01000", True, "FR"),
        ("3 BOULEVARD HAUSSMANN", "PARIS", "75015", True, "FR"),
        (None, "LYON", "7501X", False, "BE"),
    ]


def test_placeholders_are_nulled(spark: SparkSession) -> None:
    values = ["Inconnu", " N/A ", "0000000000", "1111111111", "Non renseigné", "Dupont", "  "]
    out = _one_col(
        spark,
        values,
        lambda c: C.null_placeholders(c, S.placeholder_values, S.placeholder_patterns),
    )
    assert out == [None, None, None, None, None, "Dupont", None]


def test_identifier_cleaning(spark: SparkSession) -> None:
    assert _one_col(spark, ["ab-12 34", "0000", " "], C.clean_identifier) == ["AB1234", None, None]


# ----------------------------------------------------------------------------- person_records


def _crm_source() -> SourceConfig:
    return SourceConfig(
        name="crm",
        entities={
            "contacts": EntityConfig(
                path="crm/*.csv",
                format="csv",
                key=["id"],
                columns=[
                    ColumnSpec(name=c)
                    for c in [
                        "id",
                        "civ",
                        "prenom",
                        "nom",
                        "dob",
                        "mail",
                        "tel",
                        "num",
                        "rue",
                        "cp",
                        "ville",
                        "card",
                        "maj",
                    ]
                ],  # fmt: skip
                person=PersonMapping(
                    source_id="id",
                    updated_at="maj",
                    fields={
                        "title": "civ",
                        "first_name": "prenom",
                        "last_name": "nom",
                        "birth_date": "dob",
                        "email": "mail",
                        "phone": "tel",
                        "address_line1": "concat_ws(' ', num, rue)",
                        "postal_code": "cp",
                        "city": "ville",
                        "country": "'FR'",
                    },
                    identifiers={"loyalty_card": "card"},
                ),
            )
        },
    )


BRONZE_COLS = ["id", "civ", "prenom", "nom", "dob", "mail", "tel", "num", "rue", "cp", "ville",
               "card", "maj", "_batch_id", "_ingested_at", "_row_number"]  # fmt: skip


def _bronze_rows() -> list[tuple]:
    t1, t2 = "2024-01-01 10:00:00", "2024-03-01 10:00:00"
    i1, i2 = dt.datetime(2024, 1, 2), dt.datetime(2024, 3, 2)
    return [
        # C1 delivered twice (update): the later updated_at wins
        ("C1", "Mme", "helene", "DUPONT", "12/03/1980", "h.dupont@gmail.com", "0612345678",
         "3", "rue de la Paix", "75002", "Paris", "12 34", t1, "b1", i1, 1),
        ("C1", "Mme", "Hélène", "Dupont", "12/03/1980", "Helene.Dupont@gmail.com", "06 12 34 56 78",
         "3", "rue de la Paix", "75002", "Paris", "1234", t2, "b2", i2, 1),
        # C2 delivered twice identically (exact duplicate row)
        ("C2", "M.", "Jean", "Martin", "1850-01-01", "noemail@orange.fr", "123",
         None, None, "7500", None, "inconnu", t1, "b1", i1, 2),
        ("C2", "M.", "Jean", "Martin", "1850-01-01", "noemail@orange.fr", "123",
         None, None, "7500", None, "inconnu", t1, "b1", i1, 2),
        # C3 without any contact data
        ("C3", None, "Paul", "inconnu", None, None, None, None, None, None, None, None, t1,
         "b1", i1, 3),
    ]  # fmt: skip


def _app(app_config: AppConfig) -> AppConfig:
    cfg = app_config.model_copy(deep=True)
    cfg.sources = [_crm_source()]
    cfg.run = RunConfig(as_of="2024-06-01")
    return cfg


def _write_bronze(spark: SparkSession, lh: Lakehouse, rows: list[tuple]) -> None:
    schema = (
        ", ".join(f"{c} string" for c in BRONZE_COLS[:-2])
        + ", _ingested_at timestamp, _row_number long"
    )
    df = spark.createDataFrame(rows, schema).withColumn("maj", F.to_timestamp("maj"))
    lh.write(df, "bronze", "crm_contacts", mode="overwrite", overwrite_schema=True)


def test_person_records_from_tiny_bronze(spark: SparkSession, app_config: AppConfig) -> None:
    cfg = _app(app_config)
    lh = Lakehouse(cfg.lakehouse)
    _write_bronze(spark, lh, _bronze_rows())

    metrics = run_standardise(spark, cfg, "run-1")
    out = lh.read(spark, "silver", "person_records")

    assert [f.name for f in out.schema.fields] == [f.name for f in PERSON_RECORDS.fields]
    # key unique and not null
    agg = out.agg(F.count("*").alias("n"), F.countDistinct("record_key").alias("d"),
                  F.sum(F.col("record_key").isNull().cast("int")).alias("nulls")).first()  # fmt: skip
    assert (agg.n, agg.d, agg.nulls) == (3, 3, 0)
    assert metrics["records"] == 3

    rows = {r.record_key: r for r in out.collect()}
    c1 = rows["crm:contacts:C1"]
    assert (c1.first_name, c1.last_name, c1.gender) == ("Hélène", "Dupont", "F")
    assert c1.email == "helenedupont@gmail.com" and c1.email_raw == "Helene.Dupont@gmail.com"
    assert c1.phone == "+33612345678" and c1.mobile == "+33612345678"
    assert c1.birth_date == dt.date(1980, 3, 12) and c1.birth_date_valid is True
    assert (c1.address_line1, c1.postal_code, c1.city, c1.country) == (
        "3 RUE DE LA PAIX", "75002", "PARIS", "FR")  # fmt: skip
    assert c1.identifiers == {"loyalty_card": "1234"}
    assert c1.updated_at == dt.datetime(2024, 3, 1, 10, 0)
    assert c1._batch_id == "b2" and c1._run_id == "run-1"

    c2 = rows["crm:contacts:C2"]
    assert c2.email is None and c2.email_valid is False
    assert c2.phone is None and c2.phone_valid is False
    assert c2.birth_date is None and c2.birth_date_valid is False
    assert c2.postal_code == "07500"  # leading zero restored
    assert c2.identifiers is None and c2.gender == "M"

    c3 = rows["crm:contacts:C3"]
    assert c3.last_name is None and c3.email_valid is None and c3.phone_valid is None
    assert c3.address_valid is None and c3.birth_date_valid is None


def test_person_records_rerun_is_idempotent(spark: SparkSession, app_config: AppConfig) -> None:
    cfg = _app(app_config)
    lh = Lakehouse(cfg.lakehouse)
    _write_bronze(spark, lh, _bronze_rows())
    run_standardise(spark, cfg, "run-1")
    first = sorted(map(tuple, lh.read(spark, "silver", "person_records").collect()), key=str)

    run_standardise(spark, cfg, "run-2")
    second = sorted(map(tuple, lh.read(spark, "silver", "person_records").collect()), key=str)
    assert first == second  # unchanged rows keep run-1, nothing rewritten

    # a record no longer delivered is deleted, a changed one is updated with the new run id
    _write_bronze(spark, lh, [r for r in _bronze_rows() if r[0] != "C3"])
    run_standardise(spark, cfg, "run-3")
    third = {r.record_key: r for r in lh.read(spark, "silver", "person_records").collect()}
    assert set(third) == {"crm:contacts:C1", "crm:contacts:C2"}
    assert {r._run_id for r in third.values()} == {"run-1"}


def test_missing_bronze_is_reported(spark: SparkSession, app_config: AppConfig) -> None:
    cfg = _app(app_config)
    metrics = run_standardise(spark, cfg, "run-x")
    assert metrics["records"] == 0 and metrics["missing_bronze"] == ["crm:contacts"]
