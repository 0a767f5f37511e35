"""RFM, lifecycle, transitions, CLV scoring in Spark and point-in-time base features."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession

from unification.errors import ConfigError
from unification.features.base import base_features
from unification.features.clv import (
    BgNbdParams,
    GammaGammaParams,
    bgnbd_expected_purchases,
    bgnbd_p_alive,
    customer_lifetime_value,
)
from unification.features.clv_spark import ClvModels, score_frame, with_clv
from unification.features.lifecycle import transitions, with_lifecycle_stage
from unification.features.propensity import (
    auc_from_histogram,
    calibration_from_histogram,
    evaluate_churn,
)
from unification.features.rfm import quintile_boundaries, with_rfm
from unification.features.settings import (
    ClvSettings,
    FeatureSettings,
    LifecycleSettings,
    LifecycleStage,
    RfmSettings,
)
from unification.interactions.schemas import ORDER_LINES
from unification.schemas import INTERACTIONS, ORDERS

# pandas UDF workers must run this interpreter (numpy, scipy), not whatever python3 is on PATH
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def test_default_rfm_grid_covers_every_cell_once() -> None:
    segments = RfmSettings().segments
    for r in range(1, 6):
        for f in range(1, 6):
            hits = [s.name for s in segments if s.r[0] <= r <= s.r[1] and s.f[0] <= f <= s.f[1]]
            assert len(hits) == 1, (r, f, hits)


def test_rfm_scores_and_segments(spark: SparkSession) -> None:
    rows = [
        # id, is_customer, recency_days, order_count, monetary_total
        ("a", True, 1, 10, 1000.0),
        ("b", True, 5, 1, 10.0),
        ("c", True, 5, 1, 20.0),
        ("d", True, 30, 1, 30.0),
        ("e", True, 60, 2, 40.0),
        ("f", True, 90, 3, 50.0),
        ("g", True, 200, 4, 60.0),
        ("h", True, 300, 1, 70.0),
        ("i", True, 400, 6, 80.0),
        ("j", True, 500, 1, 90.0),
        ("z", False, None, 0, 0.0),
    ]
    df = spark.createDataFrame(
        rows,
        "customer_id string, is_customer boolean, recency_days int, order_count long, "
        "monetary_total double",
    )
    bounds = quintile_boundaries(df, 0.0)
    assert bounds["order_count"] == [1.0, 1.0, 2.0, 4.0]
    out = {r["customer_id"]: r for r in df.transform(with_rfm(bounds, RfmSettings())).collect()}
    # ties share a score: every one-order customer has F = 1
    assert {out[c]["rfm_f"] for c in "bcdhj"} == {1}
    assert out["a"]["rfm_score"] == "555" and out["a"]["rfm_segment"] == "Champions"
    assert (out["j"]["rfm_r"], out["j"]["rfm_segment"]) == (1, "Hibernating")
    assert out["b"]["rfm_r"] == out["c"]["rfm_r"] == 5
    assert out["b"]["rfm_segment"] == "New customers"
    assert out["i"]["rfm_segment"] == "Can't lose them"
    assert out["z"]["rfm_r"] is None and out["z"]["rfm_segment"] is None
    assert [out[c]["rfm_m"] for c in "bcdefghij"] == sorted(out[c]["rfm_m"] for c in "bcdefghij")


def _stage_frame(spark: SparkSession) -> DataFrame:
    rows = [
        ("lapsed", True, 400, 5, 5, 0, 0),
        ("risk", True, 200, 1, 1, 0, 0),
        ("vip", True, 10, 4, 5, 0, 0),
        ("repeat", True, 10, 2, 5, 0, 0),
        ("new", True, 10, 1, 2, 3, 0),
        ("prospect", False, None, 0, None, 2, 0),
        ("visitor", False, None, 0, None, 0, 0),
    ]
    return spark.createDataFrame(
        rows,
        "customer_id string, is_customer boolean, recency_days int, order_count long, "
        "rfm_m int, email_events_total long, contacts_total long",
    )


def test_lifecycle_stages(spark: SparkSession) -> None:
    stages = LifecycleSettings().stages
    out = _stage_frame(spark).transform(with_lifecycle_stage(stages)).collect()
    got = {r["customer_id"]: r["lifecycle_stage"] for r in out}
    assert got == {
        "lapsed": "lapsed",
        "risk": "at_risk",
        "vip": "vip",
        "repeat": "repeat_customer",
        "new": "new_customer",
        "prospect": "prospect",
        "visitor": "visitor",
    }
    with pytest.raises(ConfigError, match="lifecycle"):
        _stage_frame(spark).transform(
            with_lifecycle_stage([LifecycleStage(name="x", when="no_such_column > 1")])
        )
    with pytest.raises(ConfigError, match="lifecycle"):
        _stage_frame(spark).transform(with_lifecycle_stage([LifecycleStage(name="x", when="(")]))


def test_lifecycle_settings_reject_duplicate_names() -> None:
    with pytest.raises(ValueError, match="more than once"):
        LifecycleSettings(stages=[LifecycleStage(name="a", when="true")] * 2)


def test_transitions(spark: SparkSession) -> None:
    schema = "customer_id string, as_of date, lifecycle_stage string"
    prev = spark.createDataFrame(
        [("a", date(2024, 1, 1), "new_customer"), ("b", date(2024, 1, 1), "prospect"),
         ("gone", date(2024, 1, 1), "visitor")],
        schema,
    )  # fmt: skip
    cur = spark.createDataFrame(
        [("a", date(2024, 2, 1), "repeat_customer"), ("b", date(2024, 2, 1), "prospect"),
         ("c", date(2024, 2, 1), "visitor")],
        schema,
    )  # fmt: skip
    rows = sorted(tuple(r) for r in transitions(cur, prev, date(2024, 1, 1)).collect())
    assert rows == [
        ("a", date(2024, 2, 1), date(2024, 1, 1), "new_customer", "repeat_customer"),
        ("c", date(2024, 2, 1), date(2024, 1, 1), None, "visitor"),
    ]
    assert transitions(cur, None, None).count() == 0
    assert transitions(cur, None, None, emit_initial=True).count() == 3


def test_clv_scoring_in_spark_matches_numpy(spark: SparkSession) -> None:
    bg = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    gg = GammaGammaParams(p=6.25, q=3.74, v=15.44)
    models = ClvModels(bgnbd=bg, gamma_gamma=gg)
    settings = ClvSettings(time_unit_days=7, horizon_days=360, period_days=30)
    rows = [
        ("a", 2, 30.43, 38.86, 22.35),
        ("b", 0, 0.0, 38.86, None),
        ("n", None, None, None, None),
    ]
    df = spark.createDataFrame(
        rows,
        "customer_id string, bg_frequency int, bg_recency double, bg_T double, gg_monetary double",
    )
    out = {r["customer_id"]: r for r in df.transform(with_clv(models, settings, 91)).collect()}
    x, tx, t = np.array([2.0, 0.0]), np.array([30.43, 0.0]), np.array([38.86, 38.86])
    assert [out[c]["p_alive"] for c in "ab"] == pytest.approx(bgnbd_p_alive(bg, x, tx, t), abs=1e-6)
    expected = bgnbd_expected_purchases(bg, 13.0, x, tx, t)
    assert [out[c]["expected_purchases"] for c in "ab"] == pytest.approx(expected, abs=1e-6)
    rate = 1.1 ** (30 / 365) - 1
    clv = customer_lifetime_value(
        bg, gg, x, tx, t, np.array([22.35, 0.0]), periods=12, period_length=30 / 7,
        discount_rate=rate,
    )  # fmt: skip
    assert [out[c]["clv"] for c in "ab"] == pytest.approx(clv, abs=1e-5)
    assert out["b"]["churn_score"] == pytest.approx(1 - out["b"]["p_purchase"])
    assert all(out["n"][c] is None for c in ("p_alive", "clv", "churn_score"))  # null, not NaN
    # the scorer is plain pandas too
    pdf = pd.DataFrame({"bg_frequency": [2], "bg_recency": [30.43], "bg_T": [38.86],
                        "gg_monetary": [22.35]})  # fmt: skip
    assert score_frame(models, settings, 91)(pdf)["clv"][0] == pytest.approx(clv[0], abs=1e-5)
    # without a fitted model every CLV column is null
    empty = {
        r["customer_id"]: r for r in df.transform(with_clv(ClvModels(), settings, 91)).collect()
    }
    assert empty["a"]["p_alive"] is None


# ----------------------------------------------------------------- point in time
def _ts(s: str) -> datetime:
    return datetime.fromisoformat(s)


def _gold(spark: SparkSession, extra_orders: list[tuple], extra_events: list[tuple]) -> tuple:
    orders = [
        ("shop:1", "shop", "1", "c1", None, "online", _ts("2024-01-05T10:00:00"), 100.0, "EUR", None, "paid"),
        ("shop:2", "shop", "2", "c1", None, "online", _ts("2024-02-05T10:00:00"), 50.0, "EUR", None, "paid"),
        ("pos:3", "pos", "3", "c2", None, "store", _ts("2024-02-10T10:00:00"), 30.0, "EUR", "S1", None),
        ("pos:4", "pos", "4", "c2", None, "store", _ts("2024-02-11T10:00:00"), 99.0, "EUR", "S1", "returned"),
        ("pos:5", "pos", "5", None, None, "store", _ts("2024-02-12T10:00:00"), 10.0, "EUR", "S1", None),
        *extra_orders,
    ]  # fmt: skip
    lines = [
        ("shop:1:1", "shop:1", "shop", "1", "1", "c1", None, "p1", "shoes", 1.0, 100.0, 100.0),
        ("shop:2:1", "shop:2", "shop", "2", "1", "c1", None, "p2", "socks", 1.0, 50.0, 50.0),
        ("pos:3:1", "pos:3", "pos", "3", "1", "c2", None, "p2", "socks", 1.0, 30.0, 30.0),
    ]  # fmt: skip
    inter = [
        ("order:shop:1", "c1", None, None, "shop", "order", "online", "purchase", _ts("2024-01-05T10:00:00"), 100.0),
        ("order:shop:2", "c1", None, None, "shop", "order", "online", "purchase", _ts("2024-02-05T10:00:00"), 50.0),
        ("order:pos:3", "c2", None, None, "pos", "order", "store", "purchase", _ts("2024-02-10T10:00:00"), 30.0),
        ("e1", "c1", None, None, "mail", "email_event", "email", "send", _ts("2024-01-01T08:00:00"), None),
        ("e2", "c1", None, None, "mail", "email_event", "email", "open", _ts("2024-01-01T09:00:00"), None),
        ("e3", "c1", None, None, "mail", "email_event", "email", "send", _ts("2024-01-15T08:00:00"), None),
        ("w1", "c3", None, "k3", "web", "web_session", "web", "session", _ts("2024-02-01T08:00:00"), None),
        ("w2", None, None, "k9", "web", "web_session", "web", "session", _ts("2024-02-01T08:00:00"), None),
        ("x1", "c4", None, None, "crm", "contact", "phone", "question", _ts("2024-02-02T08:00:00"), None),
        *extra_events,
    ]  # fmt: skip
    return (
        spark.createDataFrame(orders, ORDERS),
        spark.createDataFrame(lines, ORDER_LINES),
        spark.createDataFrame(inter, INTERACTIONS),
    )


def _rows(df: DataFrame) -> dict[str, dict]:
    return {r["customer_id"]: r.asDict() for r in df.collect()}


def test_base_features_values_and_point_in_time(spark: SparkSession) -> None:
    settings = FeatureSettings()
    as_of = date(2024, 3, 1)
    orders, lines, inter = _gold(spark, [], [])
    before = _rows(base_features(orders, lines, inter, None, as_of, settings))
    assert sorted(before) == ["c1", "c2", "c3", "c4"]  # the anonymous visitor has no row
    c1, c2 = before["c1"], before["c2"]
    assert (c1["order_count"], c1["monetary_total"], c1["aov"]) == (2, 150.0, 75.0)
    assert c1["recency_days"] == (as_of - date(2024, 2, 5)).days
    assert (c1["bg_frequency"], c1["bg_recency"], c1["bg_T"]) == (1, 31 / 7, 56 / 7)
    assert c1["gg_monetary"] == 50.0
    assert (c1["email_sends"], c1["email_opens"], c1["email_open_rate"]) == (2, 1, 0.5)
    assert c1["channel_share"] == {"email": 1 / 3, "online": 2 / 3} or c1["channel_share"] == {
        "email": pytest.approx(0.333333),
        "online": pytest.approx(0.666667),
    }
    assert c1["preferred_channel"] == "online"
    assert c1["top_category"] == "shoes"
    assert c1["tenure_days"] == (as_of - date(2024, 1, 1)).days
    assert c2["order_count"] == 1 and c2["monetary_total"] == 30.0  # the return is excluded
    assert before["c3"]["is_customer"] is False and before["c3"]["web_sessions"] == 1
    assert before["c4"]["contacts_total"] == 1

    # data after as_of (a new order, a new email open, a new customer) changes nothing
    later_orders = [
        ("shop:9", "shop", "9", "c1", None, "online", _ts("2024-03-01T00:00:00"), 500.0, "EUR", None, "paid"),
        ("shop:10", "shop", "10", "c5", None, "online", _ts("2024-03-05T00:00:00"), 5.0, "EUR", None, "paid"),
    ]  # fmt: skip
    later_events = [
        ("order:shop:9", "c1", None, None, "shop", "order", "online", "purchase", _ts("2024-03-01T00:00:00"), 500.0),
        ("e9", "c1", None, None, "mail", "email_event", "email", "open", _ts("2024-03-02T00:00:00"), None),
        ("order:shop:10", "c5", None, None, "shop", "order", "online", "purchase", _ts("2024-03-05T00:00:00"), 5.0),
    ]  # fmt: skip
    orders2, lines2, inter2 = _gold(spark, later_orders, later_events)
    after = _rows(base_features(orders2, lines2, inter2, None, as_of, settings))
    assert after == before


def test_histogram_auc_and_calibration() -> None:
    rng = np.random.default_rng(0)
    score = rng.random(400).round(2)
    label = (rng.random(400) < score).astype(int)
    # exact AUC: P(score_pos > score_neg) + 0.5 P(tie)
    pos, neg = score[label == 1], score[label == 0]
    exact = ((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean()
    hist = (
        pd.DataFrame({"v": score, "pos": label, "neg": 1 - label})
        .groupby("v", as_index=False)
        .sum()
    )
    assert auc_from_histogram(hist) == pytest.approx(exact, abs=1e-4)
    assert auc_from_histogram(hist.assign(pos=0)) is None
    cal = calibration_from_histogram(hist)
    assert cal["brier"] == pytest.approx(((score - label) ** 2).mean(), abs=1e-5)
    assert sum(b["n"] for b in cal["buckets"]) == 400
    assert [b["mean_predicted"] for b in cal["buckets"]] == sorted(
        b["mean_predicted"] for b in cal["buckets"]
    )


def test_churn_evaluation_separates_one_time_buyers(spark: SparkSession) -> None:
    rows = [
        # is_customer, bg_frequency, p_alive, churn_score, label (1 = bought again)
        (True, 0, 1.0, 0.9, 0),
        (True, 0, 1.0, 0.8, 0),
        (True, 0, 1.0, 0.3, 1),
        (True, 2, 0.9, 0.2, 1),
        (True, 2, 0.2, 0.95, 0),
        (True, 3, 0.5, 0.6, 1),
        (False, None, None, None, 0),
    ]
    df = spark.createDataFrame(
        rows,
        "is_customer boolean, bg_frequency int, p_alive double, churn_score double, label int",
    )
    out = evaluate_churn(df)
    assert (out["n_one_time"], out["n_repeat"]) == (3, 3)
    assert out["auc_churn_score_one_time"] == 1.0
    assert out["auc_one_minus_p_alive_one_time"] == 0.5  # constant for one-time buyers
    assert out["churn_rate_one_time"] == pytest.approx(2 / 3, abs=1e-4)


def test_conf_features_section_matches_documented_defaults() -> None:
    import yaml

    repo = Path(__file__).resolve().parents[1]
    raw = yaml.safe_load((repo / "conf" / "base.yml").read_text(encoding="utf-8"))["features"]
    conf = FeatureSettings.model_validate(raw)
    default = FeatureSettings()
    assert [(s.name, s.when) for s in conf.lifecycle.stages] == [
        (s.name, s.when) for s in default.lifecycle.stages
    ]
    assert conf.lifecycle.customer_definition == default.lifecycle.customer_definition
