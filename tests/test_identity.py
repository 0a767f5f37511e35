"""Identity transforms on small inline frames (no tables): cuts, decisions, id plan, graph."""

from __future__ import annotations

import hashlib
import math
import os
import sys
from datetime import datetime

import pytest
from pyspark.sql import DataFrame, SparkSession

import unification.identity as identity
from unification.identity import (
    apply_decisions,
    build_identity_graph,
    cut_component,
    history_events,
    plan_customer_ids,
)
from unification.identity.components import plan_decisions
from unification.identity.ids import customer_of_record
from unification.schemas import IDENTITY_GRAPH

# Python workers (the cannot-link cut is a grouped pandas UDF) must run this interpreter, not
# whatever python3 is on PATH. TODO(integrator): set spark.pyspark.python in unification.spark.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

T0 = datetime(2024, 1, 1)
T1 = datetime(2024, 6, 1)


def _groups(mapping: dict[str, str]) -> set[frozenset[str]]:
    out: dict[str, set[str]] = {}
    for node, part in mapping.items():
        out.setdefault(part, set()).add(node)
    return {frozenset(v) for v in out.values()}


# ----------------------------------------------------------------------------- pure Python
def test_public_api_exports_resolve() -> None:
    for name in identity.__all__:
        assert callable(getattr(identity, name)), name
    with pytest.raises(AttributeError):
        identity.no_such_name  # noqa: B018


def test_cut_component_cuts_weakest_link() -> None:
    parts = cut_component("abcd", [("a", "b", 9.0), ("b", "c", 1.0), ("c", "d", 8.0)], [("a", "d")])
    assert _groups(parts) == {frozenset("ab"), frozenset("cd")}
    assert parts == {"a": "a", "b": "a", "c": "c", "d": "c"}


def test_cut_component_separates_through_a_bridge_record() -> None:
    # a and d never match directly: x bridges them; the weaker of the bridge's links goes.
    edges = [("a", "b", 10.0), ("a", "x", 5.0), ("x", "d", 2.0), ("d", "e", 7.0)]
    parts = cut_component("abdex", edges, [("a", "d")])
    assert _groups(parts) == {frozenset("abx"), frozenset("de")}


def test_cut_component_without_conflict_keeps_component() -> None:
    parts = cut_component("abc", [("a", "b", 1.0), ("b", "c", -3.0)], [])
    assert _groups(parts) == {frozenset("abc")}


def test_cut_component_several_cannot_links_and_isolated_nodes() -> None:
    edges = [("a", "b", 5.0), ("b", "c", 4.0), ("c", "d", 3.0), ("a", "d", float("nan"))]
    parts = cut_component("abcdz", edges, [("a", "c"), ("b", "d")])
    groups = _groups(parts)
    assert frozenset("z") in groups
    for x, y in [("a", "c"), ("b", "d")]:
        assert parts[x] != parts[y]
    assert parts["a"] == parts["b"]  # the strongest link survives


def test_cannot_link_beats_contradicting_must_links() -> None:
    edges = [("a", "b", math.inf), ("b", "c", math.inf)]
    parts = cut_component("abc", edges, [("a", "c")])
    assert parts["a"] != parts["c"]
    assert _groups(parts) == {frozenset("ab"), frozenset("c")}


def test_plan_decisions_joins_clusters_and_finds_components_to_cut() -> None:
    rows = [
        ("must_link", "a", "e", "X", "Y"),
        ("must_link", "e", "g", "Y", "Z"),
        ("cannot_link", "a", "g", "X", "Z"),  # same component after the must-links: cut
        ("cannot_link", "p", "q", "P", "Q"),  # different clusters: nothing to do
        ("cannot_link", "m", "n", "M", "M"),  # one cluster: cut
        ("cannot_link", "m", "p", "M", "P"),  # across components: no edge inside M
    ]
    plan = plan_decisions(rows)
    assert plan.component_of["X"] == plan.component_of["Y"] == plan.component_of["Z"] == "X"
    assert plan.affected == {"X", "M"}
    assert "P" not in plan.component_of
    assert [e[2:] for e in plan.decision_edges if e[0] == "M"] == [("m", "n")]
    assert sorted(e[1] for e in plan.decision_edges if e[0] == "X") == [
        "cannot_link",
        "must_link",
        "must_link",
    ]


# ----------------------------------------------------------------------------- Spark
def _clusters(spark: SparkSession, groups: dict[str, str]) -> DataFrame:
    return spark.createDataFrame(sorted(groups.items()), "record_key string, cluster_id string")


def _pairs(
    spark: SparkSession, rows: list[tuple[str, str, float | None, float | None]]
) -> DataFrame:
    return spark.createDataFrame(
        [(lo, hi, w, p, "splink") for lo, hi, w, p in rows],
        "record_key_l string, record_key_r string, match_weight double, "
        "match_probability double, match_rule string",
    )


def _decisions(spark: SparkSession, rows: list[tuple[str, str, str]]) -> DataFrame:
    return spark.createDataFrame(
        [(k, *sorted((a, b)), True) for k, a, b in rows],
        "kind string, record_key_l string, record_key_r string, active boolean",
    )


def _final_groups(df: DataFrame) -> set[frozenset[str]]:
    return _groups({r.record_key: r.cluster_id for r in df.collect()})


def test_apply_decisions_must_link_and_cannot_link(spark: SparkSession) -> None:
    clusters = _clusters(
        spark,
        {"a": "K1", "b": "K1", "x": "K1", "d": "K1", "e": "K2", "f": "K3", "g": "K4", "h": "K4"},
    )
    pairs = _pairs(
        spark,
        [
            ("a", "b", 12.0, 0.99),
            ("a", "x", 6.0, 0.9),
            ("d", "x", 3.0, 0.7),  # the weakest link of the bridge
            ("e", "f", -5.0, 0.01),  # below threshold, in different clusters: not an edge
            ("g", "h", None, 1.0),  # deterministic pair
        ],
    )
    decisions = _decisions(
        spark,
        [
            ("cannot_link", "a", "d"),
            ("must_link", "e", "f"),
            ("cannot_link", "b", "zz"),  # zz does not exist: ignored
            ("cannot_link", "a", "g"),  # already apart: nothing to do
        ],
    )
    final = clusters.transform(apply_decisions(pairs, decisions)).collect()
    assert len(final) == 8  # one row per record
    rows = {r.record_key: r for r in final}
    assert _groups({k: r.cluster_id for k, r in rows.items()}) == {
        frozenset("abx"),
        frozenset("d"),
        frozenset("ef"),
        frozenset("gh"),
    }
    assert rows["d"].cut_by_decision and rows["a"].cut_by_decision
    assert not rows["e"].cut_by_decision and not rows["g"].cut_by_decision


def test_apply_decisions_without_decisions_keeps_clusters(spark: SparkSession) -> None:
    clusters = _clusters(spark, {"a": "K1", "b": "K1", "c": "K2"})
    final = clusters.transform(apply_decisions(_pairs(spark, []), _decisions(spark, [])))
    assert _final_groups(final) == {frozenset("ab"), frozenset("c")}


def _final(spark: SparkSession, groups: dict[str, list[str]]) -> DataFrame:
    return spark.createDataFrame(
        [(rk, label, False) for label, rks in groups.items() for rk in rks],
        "record_key string, cluster_id string, cut_by_decision boolean",
    )


def _previous(spark: SparkSession, ids: dict[str, list[str]]) -> DataFrame:
    return spark.createDataFrame(
        [(rk, cid, T0) for cid, rks in ids.items() for rk in rks],
        "record_key string, customer_id string, first_seen timestamp",
    )


def _registry(
    spark: SparkSession, created: dict[str, datetime], gone: tuple[str, ...] = ()
) -> DataFrame:
    rows = [(cid, at, cid in gone) for cid, at in created.items()]
    rows += [(cid, T0, True) for cid in gone if cid not in created]
    return spark.createDataFrame(rows, "customer_id string, created_at timestamp, gone boolean")


def _plan(
    spark: SparkSession,
    groups: dict[str, list[str]],
    previous: dict[str, list[str]],
    created: dict[str, datetime],
    **kwargs: object,
) -> dict[str, list[tuple[str | None, str | None, int]]]:
    """{action: [(customer_id, related, n_records)]} plus {"cluster:<label>": [(id, ...)]}."""
    plan = _final(spark, groups).transform(
        plan_customer_ids(
            _previous(spark, previous),
            _registry(spark, created, kwargs.pop("gone", ())),  # type: ignore[arg-type]
            **kwargs,  # type: ignore[arg-type]
        )
    )
    out: dict[str, list[tuple[str | None, str | None, int]]] = {}
    for r in plan.collect():
        out.setdefault(r.action, []).append((r.customer_id, r.related_customer_id, r.n_records))
        if r.cluster_id is not None and r.action != "merged":
            out.setdefault(f"cluster:{r.cluster_id}", []).append(
                (r.customer_id, r.related_customer_id, r.n_records)
            )
    return out


def _expected_id(seed: str) -> str:
    return "C" + hashlib.sha256(seed.encode()).hexdigest()[:16].upper()


def test_first_run_creates_deterministic_ids(spark: SparkSession) -> None:
    out = _plan(spark, {"k1": ["s:e:2", "s:e:1"], "k2": ["s:e:3"]}, {}, {})
    assert sorted(out["created"]) == sorted(
        [(_expected_id("s:e:1"), None, 2), (_expected_id("s:e:3"), None, 1)]
    )
    assert set(out) == {"created", "cluster:k1", "cluster:k2"}


def test_continuation_keeps_ids_whatever_the_cluster_labels(spark: SparkSession) -> None:
    out = _plan(
        spark,
        {"new-label-1": ["a", "b"], "new-label-2": ["c"], "new-label-3": ["d", "e"]},
        {"C1": ["a", "b"], "C2": ["c"], "C3": ["d"]},
        {"C1": T0, "C2": T0, "C3": T0},
    )
    assert sorted(out["unchanged"]) == [("C1", None, 2), ("C2", None, 1)]
    assert out["continued"] == [("C3", None, 2)]  # e joined C3: same id, no event
    assert set(out) == {"unchanged", "continued"} | {f"cluster:new-label-{i}" for i in (1, 2, 3)}


def test_merge_older_id_survives_even_when_smaller(spark: SparkSession) -> None:
    out = _plan(
        spark,
        {"k": ["a", "b", "c", "d", "e", "x"]},
        {"OLD": ["a"], "YOUNG": ["b", "c", "d", "e"]},
        {"OLD": T0, "YOUNG": T1},
    )
    assert out["cluster:k"] == [("OLD", None, 6)]
    assert out["merged"] == [("YOUNG", "OLD", 4)]
    assert "created" not in out and "split" not in out


def test_merge_most_records_policy_and_ties_to_oldest(spark: SparkSession) -> None:
    out = _plan(
        spark,
        {"k": ["a", "b", "c", "d", "e"]},
        {"OLD": ["a"], "YOUNG": ["b", "c", "d", "e"]},
        {"OLD": T0, "YOUNG": T1},
        survivor="most_records",
    )
    assert out["merged"] == [("OLD", "YOUNG", 1)]
    tie = _plan(
        spark,
        {"k": ["a", "b", "c", "d"]},
        {"OLD": ["c", "d"], "YOUNG": ["a", "b"]},
        {"OLD": T0, "YOUNG": T1},
        survivor="most_records",
    )
    assert tie["merged"] == [("YOUNG", "OLD", 2)]


def test_split_largest_part_keeps_id_others_split_from_it(spark: SparkSession) -> None:
    out = _plan(
        spark,
        {"k1": ["c"], "k2": ["a", "b"], "k3": ["d", "n"]},
        {"C1": ["a", "b", "c", "d"]},
        {"C1": T0},
    )
    assert out["cluster:k2"] == [("C1", None, 2)]
    assert sorted(out["split"]) == sorted(
        [(_expected_id("c"), "C1", 1), (_expected_id("d"), "C1", 2)]
    )
    assert out["continued"] == [("C1", None, 2)]


def test_equal_parts_go_to_the_larger_cluster_then_smallest_record(spark: SparkSession) -> None:
    out = _plan(spark, {"k1": ["b", "z"], "k2": ["a"]}, {"C1": ["a", "b"]}, {"C1": T0})
    assert out["cluster:k1"] == [("C1", None, 2)]  # 1 record each: the larger cluster wins
    out = _plan(spark, {"k1": ["b"], "k2": ["a"]}, {"C1": ["a", "b"]}, {"C1": T0})
    assert out["cluster:k2"] == [("C1", None, 1)]  # then the smallest record key


def test_new_cluster_with_records_of_two_ids_splits_from_the_oldest_on_ties(
    spark: SparkSession,
) -> None:
    out = _plan(
        spark,
        {"k1": ["a1", "a2"], "k2": ["b1", "b2"], "k3": ["a3", "b3"]},
        {"A": ["a1", "a2", "a3"], "B": ["b1", "b2", "b3"]},
        {"A": T1, "B": T0},
    )
    assert out["split"] == [(_expected_id("a3"), "B", 2)]


def test_retired_ids_and_reused_hash_gets_salted(spark: SparkSession) -> None:
    plain = _expected_id("a")
    out = _plan(spark, {"k": ["a"]}, {"GONE": ["zz"]}, {"GONE": T0, plain: T0}, gone=(plain,))
    assert out["retired"] == [("GONE", None, 1)]
    [(new_id, _, _)] = out["created"]
    assert new_id != plain and new_id == _expected_id("a\x1f1")


def test_salt_is_derived_from_the_data_not_the_run(spark: SparkSession) -> None:
    # The plain hash and the first salt are taken (one in use, one merged away): the first
    # free salt is used, and two plans on the same data mint the same id.
    plain, first = _expected_id("a"), _expected_id("a\x1f1")
    groups = {"k": ["a"], "j": ["b1", "b2"]}
    previous = {plain: ["b1", "b2"]}  # the cluster of b1, b2 holds the plain hash of "a"
    created = {plain: T0, first: T0}
    once = _plan(spark, groups, previous, created, gone=(first,))
    again = _plan(spark, groups, previous, created, gone=(first,))
    [(new_id, _, _)] = once["created"]
    assert new_id == _expected_id("a\x1f2")
    assert once == again
    assert once["cluster:j"] == [(plain, None, 2)]


def test_history_events_have_stable_unique_ids(spark: SparkSession) -> None:
    plan = spark.createDataFrame(
        [
            ("k1", "C1", "unchanged", None, 2, None),
            ("k2", "C2", "created", None, 1, "new"),
            ("k2", "C3", "merged", "C1", 1, "m"),
            (None, "C4", "retired", None, 3, "r"),
        ],
        "cluster_id string, customer_id string, action string, related_customer_id string, "
        "n_records long, reason string",
    )
    events = plan.transform(history_events(run_id="r1", at=T1)).collect()
    assert sorted(e.event_type for e in events) == ["created", "merged", "retired"]
    assert len({e.event_id for e in events}) == 3
    again = plan.transform(history_events(run_id="r9", at=T0)).collect()
    assert {e.event_id for e in again} == {e.event_id for e in events}


def test_identity_graph_confidence_and_seen_dates(spark: SparkSession) -> None:
    assigned = customer_of_record(
        _final(
            spark, {"k1": ["s:e:a", "s:e:b", "s:e:c"], "k2": ["s:e:d"], "k3": ["s:e:m", "s:e:n"]}
        ),
        spark.createDataFrame(
            [("k1", "C1", "continued", 3), ("k2", "C2", "created", 1), ("k3", "C3", "created", 2)],
            "cluster_id string, customer_id string, action string, n_records long",
        ),
    )
    records = spark.createDataFrame(
        [
            (f"s:e:{x}", "s", "e", x, T1 if x == "a" else None)
            for x in ["a", "b", "c", "d", "m", "n"]
        ],
        "record_key string, source string, entity string, source_id string, updated_at timestamp",
    )
    pairs = _pairs(
        spark,
        [("s:e:a", "s:e:b", 8.0, 0.9), ("s:e:b", "s:e:c", 3.0, 0.6), ("s:e:a", "s:e:d", 1.0, 0.4)],
    )
    must = spark.createDataFrame([("s:e:m", "s:e:n")], "record_key_l string, record_key_r string")
    previous = spark.createDataFrame(
        [("s:e:a", T0, T0), ("s:e:b", T0, T0)],
        "record_key string, first_seen timestamp, last_seen timestamp",
    )
    run_ts = datetime(2025, 1, 1)
    graph = assigned.transform(
        build_identity_graph(records, pairs, must, previous, run_id="r1", run_ts=run_ts)
    )
    assert graph.schema.names == IDENTITY_GRAPH.names
    rows = {r.source_id: r for r in graph.collect()}
    assert {k: r.link_confidence for k, r in rows.items()} == {
        "a": 0.9,
        "b": 0.9,
        "c": 0.6,
        "d": 1.0,  # alone in its customer (its pair with a is across customers)
        "m": 1.0,  # must-link
        "n": 1.0,
    }
    assert (rows["a"].first_seen, rows["a"].last_seen) == (T0, T1)  # source moved on
    assert (rows["b"].first_seen, rows["b"].last_seen) == (T0, T0)  # no timestamp: kept
    assert (rows["c"].first_seen, rows["c"].last_seen) == (run_ts, run_ts)  # new, no timestamp
    assert {r.customer_id for r in rows.values()} == {"C1", "C2", "C3"}


def test_identity_settings_validate() -> None:
    from pydantic import ValidationError

    from unification.identity.settings import IdentitySettings

    assert IdentitySettings().model_dump() == {"id_prefix": "C", "merge_survivor": "oldest"}
    assert IdentitySettings(id_prefix="CUST", merge_survivor="most_records").id_prefix == "CUST"
    for bad in ({"id_prefix": "1C"}, {"merge_survivor": "newest"}, {"unknown": 1}):
        with pytest.raises(ValidationError):
            IdentitySettings(**bad)  # type: ignore[arg-type]
