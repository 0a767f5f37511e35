"""run_features end to end on a small simulated customer base written straight to gold."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.config import AppConfig
from unification.features import run_features
from unification.features.stage import FeatureInputError
from unification.interactions.schemas import ORDER_LINES
from unification.lakehouse import Lakehouse
from unification.schemas import INTERACTIONS, ORDERS

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

START = date(2023, 1, 1)
CATEGORIES = ("shoes", "socks", "bags", "coats")


def simulate(n: int = 400, seed: int = 3, days: int = 600) -> tuple[list, list, list, list]:
    """A BG/NBD-like population: purchases at a gamma-distributed rate, dropout after each
    purchase with a beta-distributed probability, gamma-gamma spend, plus email, web, CRM."""
    rng = np.random.default_rng(seed)
    orders, lines, inter, graph = [], [], [], []
    for i in range(n):
        cid = f"c{i:04d}"
        birth = int(rng.integers(0, days - 60))
        graph.append((f"shop:customers:{i}", "shop", "customers", str(i), cid, 1.0,
                      datetime(2023, 1, 1) + timedelta(days=birth), None, None))  # fmt: skip
        is_buyer = rng.random() < 0.75
        lam, drop = rng.gamma(0.9, 1 / 25), rng.beta(1.2, 4.0)
        nu = rng.gamma(4.0, 15.0)
        t, alive, k = float(birth), is_buyer, 0
        while alive and t < days:
            k += 1
            ts = datetime(2023, 1, 1) + timedelta(days=t, hours=int(rng.integers(8, 20)))
            amount = round(float(rng.gamma(5.0, nu / 5.0)) + 1.0, 2)
            channel = "store" if rng.random() < 0.3 else "online"
            key = f"shop:{cid}-{k}"
            status = "cancelled" if rng.random() < 0.03 else "paid"
            orders.append(
                (key, "shop", f"{cid}-{k}", cid, None, channel, ts, amount, "EUR", None, status)
            )
            cat = CATEGORIES[int(rng.integers(0, 4))]
            lines.append(
                (f"{key}:1", key, "shop", f"{cid}-{k}", "1", cid, ts, "p", cat, 1.0, amount, amount)
            )
            inter.append((f"order:{key}", cid, None, None, "shop", "order", channel,
                          "purchase" if status == "paid" else status, ts, amount))  # fmt: skip
            alive = rng.random() > drop
            t += float(rng.exponential(1 / lam))
        for j in range(int(rng.poisson(6))):
            ts = datetime(2023, 1, 1) + timedelta(days=float(rng.uniform(birth, days)))
            inter.append(
                (
                    f"mail:{cid}:{j}",
                    cid,
                    None,
                    None,
                    "mail",
                    "email_event",
                    "email",
                    "send",
                    ts,
                    None,
                )
            )
            if rng.random() < 0.4:
                inter.append((f"mail:{cid}:{j}:o", cid, None, None, "mail", "email_event", "email", "open", ts + timedelta(hours=2), None))  # fmt: skip
        for j in range(int(rng.poisson(3))):
            ts = datetime(2023, 1, 1) + timedelta(days=float(rng.uniform(birth, days)))
            inter.append((f"web:{cid}:{j}", cid, None, f"k{i}", "web", "web_session", "web", "session", ts, None))  # fmt: skip
    # anonymous traffic is ignored by the features
    inter.append(("web:anon", None, None, "k-anon", "web", "web_session", "web", "session",
                  datetime(2024, 1, 1), None))  # fmt: skip
    return orders, lines, inter, graph


def _write_gold(spark: SparkSession, lh: Lakehouse, data: tuple[list, list, list, list]) -> None:
    orders, lines, inter, graph = data
    lh.write(spark.createDataFrame(orders, ORDERS), "gold", "orders", mode="overwrite")
    lh.write(spark.createDataFrame(lines, ORDER_LINES), "gold", "order_lines", mode="overwrite")
    lh.write(spark.createDataFrame(inter, INTERACTIONS), "gold", "interactions", mode="overwrite")
    graph_schema = (
        "record_key string, source string, entity string, source_id string, customer_id string, "
        "link_confidence double, first_seen timestamp, last_seen timestamp, _run_id string"
    )
    lh.write(spark.createDataFrame(graph, graph_schema), "gold", "identity_graph", mode="overwrite")


def _assert_key(df: DataFrame, key: list[str]) -> None:
    assert df.filter(" OR ".join(f"{k} IS NULL" for k in key)).count() == 0
    assert df.groupBy(*key).count().filter("count > 1").count() == 0


def _last_merge_changes(lh: Lakehouse, spark: SparkSession, table: str) -> int:
    last = lh.delta_table(spark, "gold", table).history(1).first()
    assert last is not None
    m = last["operationMetrics"]
    keys = ("numTargetRowsUpdated", "numTargetRowsInserted", "numTargetRowsDeleted")
    return sum(int(m.get(k, "0")) for k in keys)


@pytest.mark.slow
def test_run_features_end_to_end(spark: SparkSession, app_config: AppConfig) -> None:
    lh = Lakehouse(app_config.lakehouse)
    with pytest.raises(FeatureInputError):
        run_features(spark, app_config, "r0", as_of=date(2024, 6, 1))
    _write_gold(spark, lh, simulate())

    first = date(2024, 5, 1)
    m1 = run_features(spark, app_config, "r1", as_of=first)
    feats = lh.read(spark, "gold", "customer_features")
    _assert_key(feats, ["customer_id", "as_of"])
    assert m1["customers"] == feats.count() > 300
    assert m1["transitions"] == 0  # first snapshot: baseline, no trigger flood
    assert lh.read(spark, "gold", "lifecycle_transitions").count() == 0

    # CLV fitted on aggregated groups; sane parameters and outputs
    bg = m1["clv"]["bgnbd"]
    assert 0 < bg["r"] < 10 and 0 < bg["a"] and 0 < bg["b"]
    assert m1["clv"]["bgnbd_groups"] <= m1["clv"]["bgnbd_customers"]
    dist = m1["distributions"]
    assert 0 <= dist["p_alive"]["p05"] <= dist["p_alive"]["p95"] <= 1
    assert dist["clv"]["p50"] > 0 and dist["clv"]["nulls"] == 0
    assert 0 <= dist["churn_score"]["p05"] <= dist["churn_score"]["p95"] <= 1
    assert dist["order_count"]["p05"] >= 1

    # propensity vs BG/NBD ranking, churn score vs 1 - P(alive): evaluated on a time split
    prop = m1["propensity"]
    assert "skipped" not in prop, prop
    assert prop["auc_model"] is not None and prop["auc_model"] > 0.6
    assert prop["auc_bgnbd_expected_purchases"] is not None
    assert 0 <= prop["calibration"]["brier"] < 0.25
    assert sum(b["n"] for b in prop["calibration"]["buckets"]) == prop["n_test"]
    churn = m1["churn"]
    assert churn["auc_one_minus_p_alive_one_time"] == pytest.approx(0.5, abs=0.01)
    assert churn["auc_churn_score_one_time"] > 0.55
    assert churn["auc_churn_score_all"] > 0.6

    row = feats.filter(F.col("is_customer")).first()
    assert row is not None and row["rfm_segment"] is not None and row["propensity"] is not None
    assert set(m1["lifecycle_stages"]) <= {
        "visitor", "prospect", "new_customer", "repeat_customer", "vip", "at_risk", "lapsed"
    }  # fmt: skip
    assert {"lapsed", "new_customer", "repeat_customer", "prospect"} <= set(m1["lifecycle_stages"])

    # a later snapshot: transitions against the previous one, both snapshots kept
    second = date(2024, 7, 1)
    m2 = run_features(spark, app_config, "r2", as_of=second)
    assert m2["previous_as_of"] == first.isoformat()
    moves = lh.read(spark, "gold", "lifecycle_transitions")
    _assert_key(moves, ["customer_id", "as_of"])
    assert moves.count() == m2["transitions"] > 0
    feats = lh.read(spark, "gold", "customer_features")
    _assert_key(feats, ["customer_id", "as_of"])
    assert feats.select("as_of").distinct().count() == 2
    check = (
        moves.alias("m")
        .join(feats.filter(F.col("as_of") == second).alias("n"), "customer_id")
        .join(feats.filter(F.col("as_of") == first).alias("o"), "customer_id", "left")
        .filter(
            (F.col("m.to_stage") != F.col("n.lifecycle_stage"))
            | ~F.col("m.from_stage").eqNullSafe(F.col("o.lifecycle_stage"))
            | F.col("m.from_stage").eqNullSafe(F.col("m.to_stage"))
        )
    )
    assert check.count() == 0

    # re-running the past as_of (later data and a later snapshot exist) reproduces it exactly:
    # the MERGE changes no row of either table
    run_features(spark, app_config, "r3", as_of=first)
    assert _last_merge_changes(lh, spark, "customer_features") == 0
    assert _last_merge_changes(lh, spark, "lifecycle_transitions") == 0
    assert lh.read(spark, "gold", "customer_features").filter("_run_id = 'r3'").count() == 0
