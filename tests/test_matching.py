"""Matching building blocks: settings, guardrail, deterministic links, vetoes, metrics."""

from __future__ import annotations

import os
import sys

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from unification.errors import ConfigError, GuardrailError
from unification.matching.blocking import check_blocking, count_rule_comparisons
from unification.matching.clustering import apply_vetoes, constrained_components
from unification.matching.deterministic import deterministic_pairs
from unification.matching.evaluation import cluster_metrics, group_false_merges
from unification.matching.model import (
    DataProfile,
    FieldProfile,
    active_comparisons,
    comparison_creator,
    model_input_columns,
    rule_fields,
    spark_db_api,
)
from unification.matching.settings import (
    ComparisonSpec,
    DeterministicRule,
    MatchingSettings,
)
from unification.matching.training import correct_u_for_matches

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

MATCH_COLS = "record_key string, first_name string, last_name string, birth_date date, email string"


# ----------------------------------------------------------------------------- settings


def test_default_settings_build_splink_comparisons() -> None:
    settings = MatchingSettings()
    for i, spec in enumerate(settings.comparisons):
        comparison = comparison_creator(spec, f"matching.comparisons[{i}]").get_comparison("spark")
        assert comparison.output_column_name


def test_conf_declares_the_default_model() -> None:
    from pathlib import Path

    from unification.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "conf" / "demo.yml")
    assert cfg.matching == MatchingSettings()


def test_unknown_comparison_class_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"matching.comparisons\[3\].type.*NameComparisn"):
        comparison_creator(
            ComparisonSpec(field="x", type="NameComparisn"), "matching.comparisons[3]"
        )


def test_comparisons_without_data_are_skipped() -> None:
    profile = DataProfile(
        records=100,
        fields={
            "first_name": FieldProfile(90, 40),
            "last_name": FieldProfile(90, 50),
            "last_name_core": FieldProfile(90, 50),
            "birth_name": FieldProfile(0, 0),
            "email": FieldProfile(0, 0),
            "mobile": FieldProfile(0, 0),
            "birth_date": FieldProfile(80, 70),
            "address_line1": FieldProfile(0, 0),
            "postal_code": FieldProfile(0, 0),
            "city": FieldProfile(60, 10),
            "landline": FieldProfile(0, 0),
        },
    )
    keep, skipped = active_comparisons(MatchingSettings(), profile)
    kept = [c.fields[0] for c in keep]
    assert kept == ["first_name", "last_name", "birth_date", "address_line1"]  # location: city
    assert any("email" in s for s in skipped) and any("mobile" in s for s in skipped)


def test_rule_fields_of_lists_and_sql() -> None:
    assert rule_fields(["first_name", "substr(birth_date, 1, 4)"]) == ["first_name", "birth_date"]
    assert rule_fields("l.email = r.email and l.city <> r.city") == ["email", "city"]


def test_model_input_columns_from_sql_conditions() -> None:
    model = {
        "comparisons": [
            {
                "comparison_levels": [
                    {"sql_condition": "`email_l` IS NULL OR `email_r` IS NULL"},
                    {"sql_condition": "jaro_winkler(first_name_l, first_name_r) >= 0.9"},
                ]
            }
        ]
    }
    assert model_input_columns(model) == ["email", "first_name"]


def test_u_correction_removes_the_matches_share() -> None:
    model = {
        "probability_two_random_records_match": 0.01,
        "comparisons": [
            {
                "comparison_levels": [
                    {"is_null_level": True},
                    {"m_probability": 0.9, "u_probability": 0.0095},
                    {"m_probability": 0.1, "u_probability": 0.9905},
                ]
            }
        ],
    }
    changed = correct_u_for_matches(model, sampled_pairs=1e4)
    levels = model["comparisons"][0]["comparison_levels"]
    # (0.0095 - 0.01 * 0.9) / 0.99 = 0.000505
    assert levels[1]["u_probability"] == pytest.approx(0.000505, rel=1e-2)
    assert levels[1]["u_probability"] + levels[2]["u_probability"] == pytest.approx(1.0)
    assert changed == 1


# ----------------------------------------------------------------------------- guardrail


def test_blocking_guardrail_names_rule_and_largest_block(spark: SparkSession) -> None:
    rows = [(f"r{i}", "jean", "inconnu" if i < 30 else f"n{i}", None, None) for i in range(40)]
    df = spark.createDataFrame(rows, MATCH_COLS)
    assert count_rule_comparisons(df, ["last_name"], 40).comparisons == 30 * 29 // 2
    with pytest.raises(GuardrailError) as err:
        check_blocking(df, [["first_name"], ["last_name"]], max_comparisons=500, records=40)
    msg = str(err.value)
    assert "[first_name]" in msg and "780" in msg and "'jean' (40 records)" in msg
    assert "[last_name]" not in msg  # 435 comparisons: under the bound
    assert "max_comparisons_per_rule" in msg


def test_blocking_counts_sql_rules(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("a", "x", "d", None, None), ("b", "x", "d", None, None), ("c", "x", "e", None, None)],
        MATCH_COLS,
    )
    assert count_rule_comparisons(df, "l.first_name = r.first_name", 3).comparisons == 3
    assert count_rule_comparisons(df, ["first_name", "last_name"], 3).comparisons == 1


# ----------------------------------------------------------------------------- deterministic


def test_deterministic_links_respect_consistency_and_group_size(spark: SparkSession) -> None:
    rows = [
        ("a1", "jean", "dupont", None, "jean@x.fr"),
        ("a2", "jean", None, None, "jean@x.fr"),
        ("a3", None, "dupont", None, "jean@x.fr"),
        # a family e-mail: two first names -> not deterministic
        ("f1", "jean", "martin", None, "famille@x.fr"),
        ("f2", "marie", "martin", None, "famille@x.fr"),
        # a placeholder that slipped through: too many records
        *[(f"p{i}", f"n{i}", None, None, "contact@x.fr") for i in range(8)],
    ]
    df = spark.createDataFrame(rows, MATCH_COLS)
    rule = DeterministicRule(
        name="email", fields=["email"], consistent_fields=["first_name"], max_group_size=6
    )
    out = {
        (r.record_key_l, r.record_key_r, r.match_rule)
        for r in deterministic_pairs(df, [rule]).collect()
    }
    assert out == {("a1", "a2", "email"), ("a1", "a3", "email"), ("a2", "a3", "email")}


def test_deterministic_rule_names_are_joined(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("a", "jean", "x", None, "e@x.fr"), ("b", "jean", "x", None, "e@x.fr")], MATCH_COLS
    )
    rules = [
        DeterministicRule(name="email", fields=["email"]),
        DeterministicRule(name="name", fields=["first_name", "last_name"]),
    ]
    out = deterministic_pairs(df, rules).collect()
    assert [(r.record_key_l, r.record_key_r, r.match_rule) for r in out] == [
        ("a", "b", "email+name")
    ]


# ----------------------------------------------------------------------------- vetoes


def test_vetoes_flag_contradictory_pairs(spark: SparkSession) -> None:
    spark_db_api(spark, MatchingSettings())  # registers Splink's similarity UDFs
    import datetime as dt

    recs = spark.createDataFrame(
        [
            ("a", "jean", "dupont", dt.date(1980, 3, 12), None),
            ("b", "marie", "dupont", dt.date(1980, 3, 12), None),  # other first name
            ("c", "jeanpierre", "dupont", dt.date(1980, 12, 3), None),  # compound, day/month
            ("d", "jean", "dupont", dt.date(2008, 11, 1), None),  # junior
            ("e", "dupont", "jean", None, None),  # swapped names
        ],
        MATCH_COLS,
    )
    pairs = spark.createDataFrame(
        [("a", "b"), ("a", "c"), ("a", "d"), ("a", "e")], "record_key_l string, record_key_r string"
    )
    out = {
        (r.record_key_r, r.veto)
        for r in apply_vetoes(pairs, recs, MatchingSettings().veto_rules).collect()
    }
    assert out == {("b", "first_name"), ("c", None), ("d", "birth_date"), ("e", None)}


def test_constrained_components_split_on_the_weakest_link() -> None:
    # jean - (nameless, family e-mail) - marie: jean and marie cannot be the same person
    keys = ["jean", "nameless", "marie", "jean2"]
    edges = [("jean", "nameless", 0.97), ("nameless", "marie", 0.99), ("jean", "jean2", 1.0)]
    out = constrained_components(keys, edges, {("jean", "marie")})
    assert out["jean"] == out["jean2"] != out["marie"]
    assert out["nameless"] == out["marie"]  # the stronger link wins
    assert out["marie"] == "marie" and out["jean"] == "jean"  # smallest key names the cluster


# ----------------------------------------------------------------------------- evaluation


def test_metrics_on_a_hand_made_example(spark: SparkSession) -> None:
    # clusters {a,b,c} {d} {e}; persons {a,b} {c,d} {e}
    df = spark.createDataFrame(
        [
            ("a", "C1", "P1"),
            ("b", "C1", "P1"),
            ("c", "C1", "P2"),
            ("d", "C2", "P2"),
            ("e", "C3", "P3"),
        ],
        "record_key string, cluster_id string, person_id string",
    )
    m = cluster_metrics(df)
    assert (m["predicted_pairs"], m["true_pairs"], m["true_positive_pairs"]) == (3, 2, 1)
    assert m["pairwise_precision"] == pytest.approx(1 / 3)
    assert m["pairwise_recall"] == pytest.approx(1 / 2)
    assert m["pairwise_f1"] == pytest.approx(0.4)
    assert m["b3_precision"] == pytest.approx(11 / 15)
    assert m["b3_recall"] == pytest.approx(4 / 5)
    assert m["b3_f1"] == pytest.approx(2 * (11 / 15) * 0.8 / (11 / 15 + 0.8))
    assert m["clusters_with_several_persons"] == 1 and m["persons_split_over_clusters"] == 1


def test_perfect_clustering_scores_one(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("a", "C1", "P1"), ("b", "C1", "P1"), ("c", "C2", "P2")],
        "record_key string, cluster_id string, person_id string",
    )
    m = cluster_metrics(df)
    assert m["pairwise_f1"] == 1.0 and m["b3_f1"] == 1.0


def test_household_false_merges(spark: SparkSession) -> None:
    labelled = spark.createDataFrame(
        [("a", "C1", "P1"), ("b", "C1", "P2"), ("c", "C2", "P3"), ("d", "C3", "P4")],
        "record_key string, cluster_id string, person_id string",
    )
    persons = spark.createDataFrame(
        [("P1", "H1"), ("P2", "H1"), ("P3", "H2"), ("P4", "H2")], "person_id string, group string"
    )
    res = group_false_merges(labelled, persons, "group")
    assert res == {"groups": 2, "merged_groups": 1, "merged_person_pairs": 1}


def test_label_records_ignores_records_without_truth(spark: SparkSession) -> None:
    from unification.matching.evaluation import label_records

    records = spark.createDataFrame(
        [("s:e:1", "s", "e", "1"), ("s:e:2", "s", "e", "2")],
        "record_key string, source string, entity string, source_id string",
    )
    clusters = spark.createDataFrame(
        [("s:e:1", "s:e:1"), ("s:e:2", "s:e:1")], "record_key string, cluster_id string"
    )
    truth = spark.createDataFrame(
        [("s", "1", "P")], "source string, source_id string, person_id string"
    )
    out = label_records(records, clusters, truth).collect()
    assert [(r.record_key, r.cluster_id, r.person_id) for r in out] == [("s:e:1", "s:e:1", "P")]
    assert F is not None


def test_vetoes_follow_the_trained_model() -> None:
    from unification.matching.predict import active_vetoes

    def model(m_last: float) -> dict:
        levels = [{"is_null_level": True}, {"m_probability": 1 - m_last}, {"m_probability": m_last}]
        return {"comparisons": [{"output_column_name": "first_name", "comparison_levels": levels}]}

    rules = MatchingSettings().veto_rules
    assert [r.name for r in active_vetoes(model(0.01), rules)] == ["first_name", "birth_date"]
    # names that often disagree between records of one person: no first-name veto
    assert [r.name for r in active_vetoes(model(0.2), rules)] == ["birth_date"]
