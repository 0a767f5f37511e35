"""Privacy and activation building blocks: settings, hashing conventions, masking, log
redaction, re-clustering components, request parsing (one tiny Spark frame at most)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from pydantic import ValidationError
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from unification.config import load_config
from unification.errors import ConfigError
from unification.privacy.erase import ErasureRequest, read_requests, requests_from_options
from unification.privacy.errors import PrivacyError
from unification.privacy.hashing import (
    ads_email,
    ads_name,
    ads_phone,
    masked,
    sha256,
    sha256_hex,
)
from unification.privacy.hygiene import RedactingFilter, find_pii, redact
from unification.privacy.reclustering import components
from unification.privacy.settings import (
    ActivationSettings,
    ErasureSettings,
    RetentionSettings,
    Segment,
)
from unification.privacy.vacuum import purge_exports, run_vacuum

REPO = Path(__file__).resolve().parents[1]


def test_settings_defaults_and_validation() -> None:
    cfg = load_config(REPO / "conf" / "demo.yml")
    assert cfg.privacy.erasure.scope == "customer"
    assert {s.name for s in cfg.activation.segments} >= {"vip", "win_back", "champions"}
    assert cfg.activation.exports.columns["ads"] == ["email_sha256", "phone_sha256"]
    with pytest.raises(ValidationError, match="identify"):
        ErasureSettings(rerun_stages=["survive"])
    assert ErasureSettings(rerun_stages=["features", "survive", "identify"]).rerun_stages == [
        "identify",
        "survive",
        "features",
    ]
    with pytest.raises(ValidationError, match="more than once"):
        ActivationSettings(segments=[Segment(name="a", where="x"), Segment(name="a", where="y")])
    with pytest.raises(ValidationError, match="letters"):
        Segment(name="no spaces please", where="true")
    with pytest.raises(ValidationError, match="interval"):
        RetentionSettings(log_retention="30 days")
    with pytest.raises(KeyError, match="declared"):
        ActivationSettings().segment("nope")


def test_bad_privacy_config_names_the_key(tmp_path: Path) -> None:
    conf = tmp_path / "bad.yml"
    conf.write_text(
        f"extends: {REPO / 'conf' / 'demo.yml'}\nsources_dir: {REPO / 'conf' / 'sources'}\n"
        "activation:\n  exports:\n    format: xlsx\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="activation.exports.format"):
        load_config(conf)


def test_ad_platform_normalisation_before_hashing(spark: SparkSession) -> None:
    row = (
        spark.createDataFrame(
            [(" Jean.Dupont@GoogleMail.com ", "+33612345678", " Jean-Pierre ")],
            "email string, phone string, name string",
        )
        .select(
            ads_email(F.col("email"), "meta").alias("meta_email"),
            ads_email(F.col("email"), "google").alias("google_email"),
            ads_phone(F.col("phone"), "meta").alias("meta_phone"),
            ads_phone(F.col("phone"), "google").alias("google_phone"),
            ads_name(F.col("name"), "meta").alias("meta_name"),
            ads_name(F.col("name"), "google").alias("google_name"),
            sha256(ads_email(F.col("email"), "meta")).alias("meta_email_sha256"),
            sha256(F.lit(None).cast("string")).alias("null_hash"),
            masked("email", F.col("email"), "mask").alias("m_email"),
            masked("phone", F.col("phone"), "mask").alias("m_phone"),
            masked("last_name", F.col("name"), "mask").alias("m_name"),
            masked("phone", F.col("phone"), "hash").alias("h_phone"),
        )
        .first()
    )
    assert row is not None
    assert row["meta_email"] == "jean.dupont@googlemail.com"
    assert row["google_email"] == "jeandupont@googlemail.com"
    assert (row["meta_phone"], row["google_phone"]) == ("33612345678", "+33612345678")
    assert (row["meta_name"], row["google_name"]) == ("jeanpierre", "jean-pierre")
    assert row["meta_email_sha256"] == hashlib.sha256(b"jean.dupont@googlemail.com").hexdigest()
    assert row["meta_email_sha256"] == sha256_hex("jean.dupont@googlemail.com")
    assert row["null_hash"] is None
    assert row["m_email"] == "J***@GoogleMail.com"
    assert row["m_phone"] == "+3361*****78"
    assert row["m_name"] == "J."
    assert row["h_phone"] == sha256_hex("33612345678")
    assert masked("x", F.col("email"), "drop") is None


def test_redaction_of_logs() -> None:
    assert redact("sent to jean.dupont@mail.fr and +33 6 12 34 56 78") == (
        "sent to <email> and <phone>"
    )
    assert redact("call 06 12 34 56 78 or 0612345678") == "call <phone> or <phone>"
    kept = "run 20261101T120000Z-ab12cd34 as of 2026-11-01 12:00:00: 1234567 rows, 0.95"
    assert redact(kept) == kept
    assert find_pii({"a": ["x@y.fr"]}) == ["x@y.fr"]
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "mail %s", ("a@b.fr",), None)
    assert RedactingFilter().filter(record) and record.getMessage() == "mail <email>"


def test_components_split_a_bridge() -> None:
    comp = components(["b", "c", "d"], [("b", "x"), ("x", "c")])  # x is gone
    assert comp == {"b": "b", "c": "c", "d": "d"}
    comp = components(["a", "b", "c"], [("b", "c"), ("c", "a")])
    assert set(comp.values()) == {"a"}


def test_requests_parsing(tmp_path: Path) -> None:
    reqs = requests_from_options(emails=["a@b.fr"], records=["shop:1"], request_id="T-9")
    assert [(r.kind, r.request_id) for r in reqs] == [("email", "T-9"), ("record", "T-9-2")]
    assert "a@b.fr" not in repr(reqs[0])
    with pytest.raises(PrivacyError, match="unknown identifier kind"):
        ErasureRequest("name", "Jean")
    path = tmp_path / "requests.csv"
    path.write_text("kind,value,request_id\n# a comment\nemail,x@y.fr,R1\nphone,0612345678\n")
    out = read_requests(str(path))
    assert [(r.kind, r.value, r.request_id) for r in out][0] == ("email", "x@y.fr", "R1")
    assert out[1].kind == "phone" and len(out[1].request_id) == 32


def test_vacuum_refuses_short_retention_and_purges_old_exports(tmp_path: Path) -> None:
    from unification.config import AppConfig

    with pytest.raises(PrivacyError, match="168"):
        run_vacuum(None, AppConfig(), "r", retain_hours=1)  # type: ignore[arg-type]
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text("x")
    new.write_text("y")
    import os
    import time

    os.utime(old, (time.time() - 40 * 86400, time.time() - 40 * 86400))
    assert purge_exports(tmp_path, 30) == 1
    assert not old.exists() and new.exists()
    assert purge_exports(tmp_path, 0) == 0
