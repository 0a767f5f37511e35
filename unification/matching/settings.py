"""Typed settings of the ``matching`` stage (section ``matching:`` of the run config).

The probabilistic model is declared here and trained by ``unify train``: which canonical
fields are compared and how (named comparison classes of ``splink.comparison_library``), how
candidate pairs are generated (blocking rules), how the parameters are estimated, and the
thresholds and guardrails of routine ``unify match`` runs.

Field names refer to the columns of the matching input (see
:mod:`unification.matching.prepare`): the canonical fields of ``silver.person_records``
(names as folded matching keys) plus ``id_<name>`` for every identifier declared in a source
mapping (``id_loyalty_card``).

A blocking rule is either a list of fields (all equal: Splink's ``block_on``) or a Spark SQL
condition over ``l.`` and ``r.``.

Examples:
    ```yaml
    matching:
      comparisons:
        - {field: first_name, type: NameComparison}
        - {field: birth_date, type: DateOfBirthComparison, args: {input_is_string: false}}
        - {field: city, type: ExactMatch, term_frequency_adjustments: true}
      blocking_rules_for_prediction:
        - [last_name, birth_date]
        - "l.email = r.email"
      match_threshold: 0.95
    ```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

BlockingRuleSpec = list[str] | str


def _rules(*rules: BlockingRuleSpec) -> list[BlockingRuleSpec]:
    return list(rules)


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ComparisonSpec(_Settings):
    """One comparison of the model.

    ``type`` names a class of ``splink.comparison_library`` (``NameComparison``,
    ``ExactMatch``, ``JaroWinklerAtThresholds``, ``DateOfBirthComparison``...). ``field`` is
    its first argument (a list for classes taking several columns, e.g.
    ``ForenameSurnameComparison``); ``args`` are its keyword arguments. With
    ``type: CustomComparison``, ``levels`` holds Splink comparison-level dicts
    (``sql_condition``, ``label_for_charts``, ``is_null_level``, ``tf_adjustment_column``...)
    and ``field`` lists the columns they use.
    """

    field: str | list[str]
    type: str
    args: dict[str, Any] = Field(default_factory=dict)
    term_frequency_adjustments: bool | None = Field(
        default=None,
        description="turn term-frequency adjustments on for the exact-match level "
        "(None: the class default)",
    )
    levels: list[dict[str, Any]] = Field(default_factory=list)
    description: str | None = None

    @property
    def fields(self) -> list[str]:
        """The input columns this comparison reads."""
        return [self.field] if isinstance(self.field, str) else list(self.field)


class DeterministicRule(_Settings):
    """Records equal on ``fields`` (all non-null) are linked without scoring.

    Safeguards, because one wrong deterministic link merges two people for sure:

    * ``consistent_fields``: a shared value is used only when, among all the records holding it,
      each of these fields has at most one distinct non-null value (a family e-mail used by
      *Jean* and *Marie* Dupont is left to the probabilistic model);
    * ``condition`` (Spark SQL over ``l.`` and ``r.``) must hold for each pair;
    * values shared by more than ``max_group_size`` records are ignored (and reported):
      placeholders, not people.
    """

    name: str
    fields: list[str]
    consistent_fields: list[str] = Field(default_factory=list)
    condition: str | None = None
    max_group_size: int = Field(default=6, ge=2)


class VetoRule(_Settings):
    """Two records for which ``condition`` (Spark SQL over ``l.`` and ``r.``) holds cannot be
    the same person: their pair never links, and a cluster holding both is split (the weakest
    links giving way first)."""

    name: str
    condition: str
    comparison: str | None = Field(
        default=None,
        description="model comparison (output column name) measuring the same field: the veto "
        "is only used when the trained model says records of one person rarely disagree on it",
    )
    max_m_disagree: float = Field(
        default=0.03,
        gt=0,
        le=1,
        description="the veto is off when m of the comparison's last level ('all other') is "
        "above this: in such data the field is too noisy to forbid a link",
    )


class TrainingSettings(_Settings):
    """How ``unify train`` estimates the parameters (Splink's recommended sequence)."""

    probability_two_random_records_match: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="set it when known; otherwise estimated from p_rules and recall",
    )
    p_rules: list[BlockingRuleSpec] = Field(
        default_factory=lambda: _rules(
            ["email"],
            ["first_name", "last_name", "birth_date"],
            "l.first_name = r.first_name and l.birth_date = r.birth_date "
            "and levenshtein(l.last_name, r.last_name) <= 2",
        ),
        description="near-certain rules whose matches estimate the share of matching pairs",
    )
    recall: float = Field(
        default=0.7, gt=0, le=1, description="estimated recall of p_rules together"
    )
    u_max_pairs: float = Field(default=5e6, gt=0, description="random pairs sampled for u")
    seed: int = 42
    em_blocking_rules: list[BlockingRuleSpec] = Field(
        default_factory=lambda: _rules(
            ["first_name", "last_name", "birth_date"],
            ["last_name", "birth_date"],
            ["first_name", "birth_date"],
            ["email"],
            ["mobile"],
            ["first_name", "last_name", "postal_code"],
        ),
        description="one EM session per rule; each estimates m of the comparisons it does "
        "not block on. Strict rules keep households and homonyms out of the training pairs. "
        "Rules whose fields are empty in the data are skipped.",
    )
    em_fallback_rules: list[BlockingRuleSpec] = Field(
        default_factory=lambda: _rules(["first_name", "last_name"], ["birth_date"], ["city"]),
        description="run in order, only while some comparison still has no m estimate "
        "(data without the fields of em_blocking_rules)",
    )
    em_max_pairs: float | None = Field(
        default=None, description="cap of blocked pairs per EM session (None: all)"
    )
    correct_u_for_matches: bool = Field(
        default=True,
        description="remove from u the share of true matches in the random sample "
        "(u_observed = (1 - p) u + p m): with many duplicates per person, sampled pairs "
        "include matches and inflate u of strong identifiers (e-mail, mobile)",
    )
    estimate_without_term_frequencies: bool = False
    max_iterations: int = 25
    em_convergence: float = 1e-4


def _null(*cols: str) -> str:
    """SQL: the pair is not comparable (every column null on one side)."""
    left = " and ".join(f"{c}_l is null" for c in cols)
    right = " and ".join(f"{c}_r is null" for c in cols)
    return f"({left}) or ({right})"


_SWAPPED = "first_name_l = last_name_r and last_name_l = first_name_r"
_USER = "substring_index(email_{s}, '@', 1)"
_DOMAIN = "substring_index(email_{s}, '@', -1)"
_USER_LETTERS = "regexp_replace(substring_index(email_{s}, '@', 1), '[^a-z]', '')"
_USER_DIGITS = "regexp_replace(substring_index(email_{s}, '@', 1), '[^0-9]', '')"


def _level(sql: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"sql_condition": sql, "label_for_charts": label, **extra}


def _default_comparisons() -> list[ComparisonSpec]:
    """The generic person model (documented in docs/MATCHING.md).

    Location (address, postcode, city, landline) is one comparison, not four: they are
    strongly correlated (a household shares all of them) and Fellegi-Sunter adds independent
    evidence, so four comparisons would count one fact four times.
    """
    return [
        ComparisonSpec(
            field=["first_name", "last_name"],
            type="CustomComparison",
            description="first name: exact, swapped with the last name, fuzzy, compound "
            "prefix (Jean / Jean-Pierre)",
            levels=[
                _level(_null("first_name"), "null", is_null_level=True),
                _level(
                    "first_name_l = first_name_r",
                    "exact",
                    tf_adjustment_column="first_name",
                    tf_adjustment_weight=1.0,
                ),
                _level(_SWAPPED, "first and last names swapped"),
                _level("jaro_winkler(first_name_l, first_name_r) >= 0.92", "Jaro-Winkler >= 0.92"),
                _level(
                    "least(length(first_name_l), length(first_name_r)) >= 3 and "
                    "(startswith(first_name_l, first_name_r) or startswith(first_name_r, first_name_l))",
                    "compound prefix",
                ),
                _level("jaro_winkler(first_name_l, first_name_r) >= 0.8", "Jaro-Winkler >= 0.8"),
                _level("ELSE", "all other"),
            ],
        ),
        ComparisonSpec(
            field=["last_name", "last_name_core", "birth_name", "first_name"],
            type="CustomComparison",
            description="family name: exact, swapped with the first name, without particles, "
            "birth name, fuzzy",
            levels=[
                _level(_null("last_name", "birth_name"), "null", is_null_level=True),
                _level(
                    "last_name_l = last_name_r",
                    "exact",
                    tf_adjustment_column="last_name",
                    tf_adjustment_weight=1.0,
                ),
                _level(_SWAPPED, "first and last names swapped"),
                _level("last_name_core_l = last_name_core_r", "exact without particles"),
                _level(
                    "birth_name_l = last_name_r or last_name_l = birth_name_r "
                    "or birth_name_l = birth_name_r",
                    "birth name matches",
                ),
                _level("jaro_winkler(last_name_l, last_name_r) >= 0.92", "Jaro-Winkler >= 0.92"),
                _level("jaro_winkler(last_name_l, last_name_r) >= 0.8", "Jaro-Winkler >= 0.8"),
                _level("ELSE", "all other"),
            ],
        ),
        ComparisonSpec(
            field="birth_date",
            type="DateOfBirthComparison",
            args={"input_is_string": False},
            term_frequency_adjustments=True,
        ),
        ComparisonSpec(
            field="email",
            type="CustomComparison",
            description="e-mail: exact, a typo in the user name's letters, typo in the domain "
            "(no term frequencies: an address's frequency counts the person's own duplicates; "
            "user names differing only by separators or by their digits are not evidence: "
            "name-based addresses of two homonyms look like that, jean.martin2@ and "
            "jeanmartin7@)",
            levels=[
                _level(_null("email"), "null", is_null_level=True),
                _level("email_l = email_r", "exact"),
                _level(
                    f"{_DOMAIN.format(s='l')} = {_DOMAIN.format(s='r')} "
                    f"and length({_USER.format(s='l')}) >= 6 "
                    f"and {_USER_DIGITS.format(s='l')} = {_USER_DIGITS.format(s='r')} "
                    f"and levenshtein({_USER_LETTERS.format(s='l')}, "
                    f"{_USER_LETTERS.format(s='r')}) between 1 and 2",
                    "typo in the user name",
                ),
                _level(
                    f"{_USER.format(s='l')} = {_USER.format(s='r')} "
                    f"and levenshtein({_DOMAIN.format(s='l')}, {_DOMAIN.format(s='r')}) <= 2",
                    "typo in the domain",
                ),
                _level("ELSE", "all other"),
            ],
        ),
        ComparisonSpec(field="mobile", type="ExactMatch"),
        ComparisonSpec(
            field=["address_line1", "postal_code", "city", "landline"],
            type="CustomComparison",
            description="location: address, landline, postcode, city (one fact, not four)",
            levels=[
                _level(
                    _null("address_line1", "postal_code", "city", "landline"),
                    "null",
                    is_null_level=True,
                ),
                _level(
                    "address_line1_l = address_line1_r and "
                    "(postal_code_l = postal_code_r or city_l = city_r)",
                    "same address",
                ),
                _level(
                    "jaro_winkler(address_line1_l, address_line1_r) >= 0.9 and "
                    "(postal_code_l = postal_code_r or city_l = city_r)",
                    "similar address",
                ),
                _level("landline_l = landline_r", "same landline"),
                _level("postal_code_l = postal_code_r", "same postcode"),
                _level("city_l = city_r", "same city", tf_adjustment_column="city"),
                _level("ELSE", "all other"),
            ],
        ),
    ]


class MatchingSettings(BaseModel):
    """Settings of the matching stage. Defaults live here; YAML overrides them."""

    model_config = ConfigDict(extra="forbid")

    model_file: str = Field(
        default="splink_model.json", description="trained model, relative to models_dir"
    )
    summary_file: str = Field(
        default="training_summary.json", description="training summary, relative to models_dir"
    )
    comparisons: list[ComparisonSpec] = Field(default_factory=_default_comparisons)
    blocking_rules_for_prediction: list[BlockingRuleSpec] = Field(
        default_factory=lambda: _rules(
            ["first_name", "last_name"],
            ["last_name", "birth_date"],
            ["first_name", "birth_date"],
            ["email"],
            ["mobile"],
            ["landline"],
            ["postal_code", "first_name"],
            ["address_line1", "postal_code"],
            ["first_name", "city"],
            ["substring_index(email, '@', 1)"],
            ["substring(email, 1, 6)", "substring_index(email, '@', -1)"],
            ["right(substring_index(email, '@', 1), 5)", "substring_index(email, '@', -1)"],
        ),
    )
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    deterministic_rules: list[DeterministicRule] = Field(
        default_factory=lambda: [
            DeterministicRule(
                name="email",
                fields=["email"],
                consistent_fields=["first_name", "birth_date"],
            ),
            DeterministicRule(
                name="loyalty_card",
                fields=["id_loyalty_card"],
                consistent_fields=["first_name", "birth_date"],
            ),
        ]
    )
    veto_rules: list[VetoRule] = Field(
        default_factory=lambda: [
            VetoRule(
                name="first_name",
                comparison="first_name",
                condition="l.first_name is not null and r.first_name is not null "
                "and jaro_winkler(l.first_name, r.first_name) < 0.75 "
                "and not startswith(l.first_name, r.first_name) "
                "and not startswith(r.first_name, l.first_name) "
                "and not (least(length(l.first_name), length(r.first_name)) <= 2 "
                "and left(l.first_name, 1) = left(r.first_name, 1)) "
                "and not (l.first_name <=> r.last_name or l.last_name <=> r.first_name)",
            ),
            VetoRule(
                name="birth_date",
                comparison="birth_date",
                condition="l.birth_date is not null and r.birth_date is not null "
                "and abs(datediff(l.birth_date, r.birth_date)) > 366 "
                "and levenshtein(date_format(l.birth_date, 'yyyyMMdd'), "
                "date_format(r.birth_date, 'yyyyMMdd')) > 1 "
                "and not (year(l.birth_date) = year(r.birth_date) "
                "and month(l.birth_date) = day(r.birth_date) "
                "and day(l.birth_date) = month(r.birth_date))",
            ),
        ],
        description="pairs that can never link (contradictory identities)",
    )
    match_threshold: float = Field(
        default=0.95,
        gt=0,
        lt=1,
        description="match probability at or above which a scored pair links two records",
    )
    pairs_min_probability: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="scored pairs below this probability are not kept in silver.match_pairs",
    )
    max_comparisons_per_rule: float = Field(
        default=5e7,
        gt=0,
        description="guardrail: predict fails when one blocking rule would generate more "
        "comparisons",
    )
    min_field_coverage: float = Field(
        default=0.001,
        ge=0,
        lt=1,
        description="share of records that must hold a field for its comparisons and "
        "blocking rules to be used (entirely empty fields are always skipped)",
    )
    max_cluster_size: int = Field(
        default=25, ge=2, description="clusters larger than this are reported"
    )
    break_lineage_method: Literal["parquet", "persist", "checkpoint", "delta_lake_table"] | None = (
        Field(
            default=None,
            description="how Splink materialises intermediate tables (None: parquet in the "
            "Spark checkpoint dir when one is set, else persist)",
        )
    )
    num_partitions: int | None = Field(
        default=None, description="partitions Splink repartitions to (None: Splink default)"
    )
    engine: Literal["spark", "duckdb", "auto"] = Field(
        default="auto",
        description="where `unify match` scores and clusters: `spark` (Splink on Spark, the "
        "distributed path; the only engine that scores incrementally), `duckdb` (Splink on an "
        "in-process DuckDB over the collected matching input: one machine, much faster there, "
        "same clusters, always a full match), `auto` (the default: duckdb when Spark's master "
        "is local, spark otherwise); see unification/matching/duckdb_engine.py",
    )

    @field_validator("blocking_rules_for_prediction")
    @classmethod
    def _not_empty(cls, value: list[BlockingRuleSpec]) -> list[BlockingRuleSpec]:
        if not value:
            raise ValueError("at least one blocking rule is needed")
        return value
