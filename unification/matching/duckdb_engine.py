"""Single-machine match engine: Splink on DuckDB, same model, same rules, same clusters.

``matching.engine`` selects how ``unify match`` scores and clusters:

* ``spark``: Splink's Spark backend (:mod:`unification.matching.predict`), the
  distributed path for clusters and Databricks;
* ``duckdb``: this module. The matching input is read with Spark (so the same
  ``silver.person_records`` and the same :mod:`.prepare` transform), collected once as Arrow
  and matched in an in-process DuckDB database: blocking guardrail, Splink predict, deterministic
  links, vetoes, connected components and the constrained re-clustering of conflicting
  clusters. Pairs and clusters come back as Spark DataFrames and are written with the same
  minimal-change Delta MERGEs;
* ``auto`` (the default): ``duckdb`` when Spark runs in local mode (one machine: DuckDB is
  10-40x faster than Spark on Splink's SQL there), ``spark`` otherwise. The DuckDB engine always
  matches every record (``run.mode: incremental`` applies to the Spark engine only): on one
  machine a full DuckDB match is faster than incremental scoring on Spark.

The model JSON holds Spark SQL (the dialect it was trained with). Its conditions, the SQL
blocking rules, the deterministic rules' conditions and the veto rules are transpiled to DuckDB
with sqlglot; Spark functions DuckDB lacks are defined as DuckDB macros of the same semantics
(``jaro_winkler``, ``substring_index``). m and u probabilities are used as saved. Both engines
give the same pairs, match weights and clusters; ``tests/test_match_engines.py`` and the parity
check of ``benchmarks/run.py`` verify it.

Examples:
    ```py
    cfg.matching.engine = "duckdb"
    run_match(spark, cfg, run_id)     # same tables, same metrics keys as the Spark engine
    ```
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from unification.matching.blocking import RuleCount, enforce_bound
from unification.matching.model import (
    UNIQUE_ID,
    DataProfile,
    FieldProfile,
    active_rules,
    equi_join_keys,
    min_non_null,
    model_input_columns,
    rule_fields,
    rule_label,
)
from unification.matching.settings import (
    BlockingRuleSpec,
    DeterministicRule,
    MatchingSettings,
    VetoRule,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from unification.config import AppConfig

logger = logging.getLogger(__name__)

#: DuckDB macros for the Spark SQL functions the model, rules and vetoes use
#: (``jaro_winkler`` is installed by :func:`install_jaro_winkler`).
DUCKDB_MACROS: tuple[str, ...] = (
    # Spark's substring_index(str, delim, count): left of the count-th delimiter (count > 0),
    # right of the count-th delimiter from the end (count < 0), the whole string when absent
    "CREATE OR REPLACE MACRO substring_index(s, d, n) AS CASE "
    "WHEN n > 0 THEN array_to_string(string_split(s, d)[1:n], d) "
    "WHEN n < 0 THEN array_to_string(string_split(s, d)[n:], d) ELSE '' END",
)

#: Spark master prefixes for which ``engine: auto`` picks DuckDB (one machine).
LOCAL_MASTERS = ("local",)


# ----------------------------------------------------------------------------- engine choice


def resolve_engine(spark: SparkSession, settings: MatchingSettings) -> str:
    """``spark`` or ``duckdb`` for this session (``auto``: DuckDB on a local master)."""
    engine = str(getattr(settings, "engine", "spark"))
    if engine != "auto":
        return engine
    try:
        master = spark.conf.get("spark.master", "") or ""
    except Exception:  # pragma: no cover - Spark Connect without the conf
        master = ""
    return "duckdb" if master.startswith(LOCAL_MASTERS) else "spark"


# ----------------------------------------------------------------------------- SQL dialect


def to_duckdb_sql(sql: str) -> str:
    """A Spark SQL expression (condition, blocking key) in DuckDB's dialect."""
    import sqlglot

    if sql.strip().upper() == "ELSE":
        return sql
    return str(sqlglot.transpile(sql, read="spark", write="duckdb")[0])


def duckdb_blocking_rule(rule: BlockingRuleSpec) -> Any:
    """``block_on`` of the transpiled key expressions, or the transpiled SQL condition."""
    from splink import block_on

    if isinstance(rule, list):
        return block_on(*[to_duckdb_sql(e) for e in rule])
    return to_duckdb_sql(rule)


def model_for_duckdb(model: dict[str, Any]) -> dict[str, Any]:
    """The saved (Spark SQL) model with every SQL condition transpiled to DuckDB.

    Comparison levels, m and u probabilities, term-frequency settings and the prior are kept
    as trained; only the SQL text and ``sql_dialect`` change.
    """
    out = copy.deepcopy(model)
    out["sql_dialect"] = "duckdb"
    for comp in out.get("comparisons", []):
        for level in comp.get("comparison_levels", []):
            if "sql_condition" in level:
                level["sql_condition"] = to_duckdb_sql(level["sql_condition"])
    rules: list[Any] = []
    for br in out.get("blocking_rules_to_generate_predictions", []) or []:
        if isinstance(br, dict):
            rules.append(
                {**br, "blocking_rule": to_duckdb_sql(br["blocking_rule"]), "sql_dialect": "duckdb"}
            )
        else:
            rules.append(to_duckdb_sql(str(br)))
    out["blocking_rules_to_generate_predictions"] = rules
    return out


def spark_jaro_winkler(first: str | None, second: str | None) -> float | None:
    """Jaro-Winkler similarity exactly as Splink's Spark UDF computes it.

    The UDF (``uk.gov.moj.dash.linkage.JaroWinklerSimilarity`` in Splink's jar) calls Apache
    commons-text ``JaroWinklerSimilarity``: matches searched from the shorter string within
    ``max(len) / 2 - 1``, transpositions counted as halves (``t / 2`` as a real number), common
    prefix up to 4, boost ``0.1 * prefix * (1 - j)`` only when ``j >= 0.7``. DuckDB's
    ``jaro_winkler_similarity`` rounds the half transpositions down, so it is sometimes higher
    (never lower, on 20,000 adversarial pairs). A null input gives 0.0 in Spark (see
    :func:`install_jaro_winkler`), None here.
    """
    if first is None or second is None:
        return None
    if first == second:
        return 1.0
    longer, shorter = (first, second) if len(first) > len(second) else (second, first)
    window = max(len(longer) // 2 - 1, 0)
    matched_at = [-1] * len(shorter)
    taken = [False] * len(longer)
    matches = 0
    for mi, ch in enumerate(shorter):
        for xi in range(max(mi - window, 0), min(mi + window + 1, len(longer))):
            if not taken[xi] and ch == longer[xi]:
                matched_at[mi] = xi
                taken[xi] = True
                matches += 1
                break
    if matches == 0:
        return 0.0
    ms1 = [c for c, i in zip(shorter, matched_at, strict=True) if i != -1]
    ms2 = [c for c, f in zip(longer, taken, strict=True) if f]
    half_transpositions = sum(1 for a, b in zip(ms1, ms2, strict=True) if a != b)
    prefix = 0
    for a, b in zip(first[:4], second[:4], strict=False):
        if a != b:
            break
        prefix += 1
    m = float(matches)
    j = (m / len(first) + m / len(second) + (m - half_transpositions / 2) / m) / 3
    return j if j < 0.7 else j + 0.1 * prefix * (1 - j)


def jaro_winkler_floor(sqls: Sequence[str]) -> float:
    """Lowest threshold ``jaro_winkler(...)`` is compared with in ``sqls`` (DuckDB SQL), minus
    a margin; 0 when it is used otherwise than compared with a number."""
    import sqlglot
    from sqlglot import exp

    floor = 1.0
    for sql in sqls:
        if "jaro_winkler" not in sql.lower() or sql.strip().upper() == "ELSE":
            continue
        tree = sqlglot.parse_one(sql, read="duckdb")
        for fn in tree.find_all(exp.Anonymous):
            if fn.name.lower() != "jaro_winkler":
                continue
            parent = fn.parent
            other = None
            if isinstance(parent, (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ, exp.NEQ)):
                other = parent.expression if parent.this is fn else parent.this
            if not isinstance(other, exp.Literal) or other.is_string:
                return 0.0
            floor = min(floor, float(other.this))
    return max(floor - 0.05, 0.0)


def install_jaro_winkler(con: duckdb.DuckDBPyConnection, floor: float = 0.0) -> None:
    """Define ``jaro_winkler(a, b)`` in DuckDB with the values of Splink's Spark UDF.

    DuckDB's built-in (fast, never below the Spark value) answers when it is below ``floor``
    (every comparison in the SQL is with a threshold above it, so the answer is the same);
    otherwise :func:`spark_jaro_winkler` (a Python UDF) computes the exact Spark value.
    """
    from duckdb import sqltypes

    con.create_function(
        "unify_spark_jaro_winkler",
        spark_jaro_winkler,
        [sqltypes.VARCHAR, sqltypes.VARCHAR],
        sqltypes.DOUBLE,
    )
    con.execute(
        "CREATE OR REPLACE MACRO jaro_winkler(a, b) AS CASE "
        "WHEN a IS NULL OR b IS NULL THEN 0.0::DOUBLE "  # the Spark UDF returns 0 for nulls
        f"WHEN jaro_winkler_similarity(a, b) < {float(floor)!r} "
        "THEN jaro_winkler_similarity(a, b) ELSE unify_spark_jaro_winkler(a, b) END"
    )


def duckdb_connection(
    threads: int | None = None, memory_limit: str | None = None, jaro_floor: float = 0.0
) -> Any:
    """An in-memory DuckDB connection with the Spark-compatible functions."""
    import duckdb

    con = duckdb.connect(":memory:")
    if threads:
        con.execute(f"SET threads TO {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = false")
    for macro in DUCKDB_MACROS:
        con.execute(macro)
    install_jaro_winkler(con, jaro_floor)
    return con


def model_sql(model: dict[str, Any], settings: MatchingSettings) -> list[str]:
    """Every DuckDB SQL text a match run evaluates (to size :func:`jaro_winkler_floor`)."""
    duck = model_for_duckdb(model)
    sqls = [
        str(level.get("sql_condition", ""))
        for comp in duck.get("comparisons", [])
        for level in comp.get("comparison_levels", [])
    ]
    sqls += [to_duckdb_sql(v.condition) for v in settings.veto_rules]
    sqls += [to_duckdb_sql(d.condition) for d in settings.deterministic_rules if d.condition]
    for rule in settings.blocking_rules_for_prediction:
        sqls += (
            [to_duckdb_sql(e) for e in rule] if isinstance(rule, list) else [to_duckdb_sql(rule)]
        )
    return sqls


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ----------------------------------------------------------------------------- the engine


@dataclass
class DuckDBMatch:
    """What :func:`match_table` computed (Arrow tables and counts)."""

    pairs: pa.Table  # match_pairs columns + veto, without _run_id
    clusters: pa.Table  # record_key, cluster_id, cluster_size
    profile: DataProfile
    counts: list[RuleCount]
    skipped_rules: list[str]
    vetoes: list[VetoRule]
    stats: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def profile_table(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]
) -> DataProfile:
    """:func:`unification.matching.model.profile_fields` in DuckDB (non-null and approximate
    distinct counts per column, one scan)."""
    present = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    cols = [c for c in dict.fromkeys(columns) if c in present]
    aggs = ["count(*)"]
    for c in cols:
        aggs += [f"count({_q(c)})", f"approx_count_distinct({_q(c)})"]
    row = con.execute(f"SELECT {', '.join(aggs)} FROM {table}").fetchall()[0]
    assert row is not None
    profile = DataProfile(records=int(row[0]))
    for i, c in enumerate(cols):
        profile.fields[c] = FieldProfile(int(row[1 + 2 * i]), int(row[2 + 2 * i]))
    return profile


def count_rule(
    con: duckdb.DuckDBPyConnection, table: str, rule: BlockingRuleSpec, records: int
) -> RuleCount:
    """:func:`unification.matching.blocking.count_rule_comparisons` in DuckDB."""
    keys = equi_join_keys(rule)
    label = rule_label(rule)
    if not keys:
        return RuleCount(label, records * (records - 1) // 2)
    names = [f"k{i}" for i in range(len(keys))]
    not_null = " AND ".join(f"{n} IS NOT NULL" for n in names)
    left = ", ".join(f"{to_duckdb_sql(a)} AS {n}" for (a, _b), n in zip(keys, names, strict=True))
    right = ", ".join(f"{to_duckdb_sql(b)} AS {n}" for (_a, b), n in zip(keys, names, strict=True))
    group = ", ".join(names)
    gl = f"SELECT {group}, count(*) AS nl FROM (SELECT {left} FROM {table}) WHERE {not_null} GROUP BY ALL"
    if all(a == b for a, b in keys):
        blocks = f"SELECT *, nl * (nl - 1) / 2 AS pairs FROM ({gl})"
    else:
        gr = (
            f"SELECT {group}, count(*) AS nr FROM (SELECT {right} FROM {table}) "
            f"WHERE {not_null} GROUP BY ALL"
        )
        blocks = f"SELECT gl.*, nl * nr / 2 AS pairs FROM ({gl}) gl JOIN ({gr}) gr USING ({group})"
    value = "concat_ws(' | ', " + ", ".join(f"CAST({n} AS VARCHAR)" for n in names) + ")"
    row = con.execute(f"SELECT sum(pairs) FROM ({blocks})").fetchall()[0]
    pairs = int(row[0] or 0) if row else 0
    top = con.execute(
        f"SELECT {value} AS value, nl FROM ({blocks}) ORDER BY nl DESC, value DESC LIMIT 3"
    ).fetchall()
    return RuleCount(label, pairs, [(str(v), int(n)) for v, n in top])


def check_blocking_duckdb(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rules: Sequence[BlockingRuleSpec],
    max_comparisons: float,
    records: int,
) -> list[RuleCount]:
    """:func:`unification.matching.blocking.check_blocking` in DuckDB (same error)."""
    return enforce_bound([count_rule(con, table, r, records) for r in rules], max_comparisons)


def deterministic_sql(table: str, rules: Sequence[DeterministicRule], columns: set[str]) -> str:
    """SQL of :func:`unification.matching.deterministic.deterministic_pairs`."""
    parts = []
    for rule in rules:
        if any(f not in columns for f in rule.fields):
            continue
        fields = [_q(f) for f in rule.fields]
        nn = " AND ".join(f"{f} IS NOT NULL" for f in fields)
        consistent = [f for f in rule.consistent_fields if f in columns]
        keep = [f"count(*) <= {int(rule.max_group_size)}"]
        keep += [f"count(DISTINCT {_q(f)}) <= 1" for f in consistent]
        groups = (
            f"SELECT {', '.join(fields)} FROM {table} WHERE {nn} "
            f"GROUP BY {', '.join(fields)} HAVING {' AND '.join(keep)}"
        )
        side = f"SELECT t.* FROM {table} t SEMI JOIN ({groups}) g USING ({', '.join(fields)})"
        cond = " AND ".join([f"l.{UNIQUE_ID} < r.{UNIQUE_ID}"] + [f"l.{f} = r.{f}" for f in fields])
        if rule.condition:
            cond += f" AND ({to_duckdb_sql(rule.condition)})"
        name = rule.name.replace("'", "''")
        parts.append(
            f"SELECT l.{UNIQUE_ID} AS record_key_l, r.{UNIQUE_ID} AS record_key_r, "
            f"'{name}' AS match_rule FROM ({side}) l JOIN ({side}) r ON {cond}"
        )
    if not parts:
        return (
            "SELECT NULL::VARCHAR AS record_key_l, NULL::VARCHAR AS record_key_r, "
            "NULL::VARCHAR AS match_rule WHERE false"
        )
    union = " UNION ALL ".join(parts)
    return (
        "SELECT record_key_l, record_key_r, "
        "array_to_string(list_sort(list_distinct(list(match_rule))), '+') AS match_rule "
        f"FROM ({union}) GROUP BY record_key_l, record_key_r"
    )


def veto_sql(rules: Sequence[VetoRule]) -> tuple[str, str]:
    """(names, any) DuckDB expressions over ``l``/``r``: the ``+``-joined names of the rules a
    pair breaks (NULL when none), and whether it breaks one."""
    if not rules:
        return "NULL::VARCHAR", "false"
    conds = [(r.name.replace("'", "''"), to_duckdb_sql(r.condition)) for r in rules]
    whens = ", ".join(f"CASE WHEN ({c}) THEN '{n}' END" for n, c in conds)
    names = f"nullif(concat_ws('+', {whens}), '')"
    anyof = " OR ".join(f"coalesce(({c}), false)" for _n, c in conds)
    return names, f"({anyof})"


def _components(con: duckdb.DuckDBPyConnection, nodes: str, edges: str) -> dict[str, int]:
    """Connected components of ``edges`` over ``nodes`` (union-find): record_key -> component.

    Component numbers are arbitrary; clusters are named by their smallest key afterwards.
    """
    keys = [r[0] for r in con.execute(f"SELECT record_key FROM {nodes}").fetchall()]
    index = {k: i for i, k in enumerate(keys)}
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in con.execute(f"SELECT record_key_l, record_key_r FROM {edges}").fetchall():
        ra, rb = find(index[a]), find(index[b])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {k: find(i) for k, i in index.items()}


def match_table(
    con: duckdb.DuckDBPyConnection,
    table: pa.Table,
    model: dict[str, Any],
    settings: MatchingSettings,
) -> DuckDBMatch:
    """Predict, link, veto and cluster ``table`` (the matching input as Arrow) in DuckDB.

    Raises:
        GuardrailError: a blocking rule would generate too many comparisons.
    """
    from splink import DuckDBAPI, Linker, SettingsCreator

    from unification.matching.clustering import constrained_components
    from unification.matching.predict import active_vetoes

    s = settings
    timings: dict[str, float] = {}
    con.register("__unify_input_arrow", table)
    con.execute("CREATE OR REPLACE TEMP TABLE unify_input AS SELECT * FROM __unify_input_arrow")
    con.unregister("__unify_input_arrow")
    columns = set(table.column_names)

    t0 = time.perf_counter()
    fields = [f for r in s.blocking_rules_for_prediction for f in rule_fields(r)]
    profile = profile_table(con, "unify_input", fields)
    floor = min_non_null(s, profile)
    rules, skipped = active_rules(s.blocking_rules_for_prediction, profile, floor)
    for label in skipped:
        logger.warning("match: blocking rule skipped (fields without data): %s", label)
    counts = check_blocking_duckdb(
        con, "unify_input", rules, s.max_comparisons_per_rule, profile.records
    )
    timings["blocking_analysis"] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    vetoes = active_vetoes(model, s.veto_rules)
    db_api = DuckDBAPI(connection=con)
    registered = db_api.register("unify_input", table_name="unify_match_input")
    creator = SettingsCreator.from_path_or_dict(model_for_duckdb(model))
    creator.blocking_rules_to_generate_predictions = [duckdb_blocking_rule(r) for r in rules]
    creator.retain_intermediate_calculation_columns = True
    # the settings were validated when the model was trained on Spark
    linker = Linker(registered, creator, log_level=None, validate_settings=False)
    predictions = linker.inference.predict(
        threshold_match_probability=s.pairs_min_probability, warning_mode="never"
    )
    pred_cols = [r[0] for r in con.execute(f"DESCRIBE {predictions.physical_name}").fetchall()]
    gammas = [c for c in pred_cols if c.startswith("gamma_")]
    weights = [c for c in pred_cols if c.startswith("mw_")]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE unify_scored AS SELECT "
        "least(record_key_l, record_key_r) AS record_key_l, "
        "greatest(record_key_l, record_key_r) AS record_key_r, "
        "match_weight::DOUBLE AS match_weight, match_probability::DOUBLE AS match_probability"
        + "".join(f", {_q(c)}" for c in gammas)
        + "".join(f", pow(2.0, {_q(c)})::DOUBLE AS {_q('bf_' + c[3:])}" for c in weights)
        + f" FROM {predictions.physical_name}"
    )
    explain = [*gammas, *["bf_" + c[3:] for c in weights]]

    con.execute(
        "CREATE OR REPLACE TEMP TABLE unify_det AS "
        + deterministic_sql("unify_input", s.deterministic_rules, columns)
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE unify_combined AS SELECT "
        "coalesce(s.record_key_l, d.record_key_l) AS record_key_l, "
        "coalesce(s.record_key_r, d.record_key_r) AS record_key_r, "
        "s.match_weight, s.match_probability, "
        "coalesce(d.match_rule, 'splink') AS match_rule"
        + "".join(f", s.{_q(c)}" for c in explain)
        + " FROM unify_scored s FULL OUTER JOIN unify_det d "
        "ON s.record_key_l = d.record_key_l AND s.record_key_r = d.record_key_r"
    )
    names, anyof_lr = veto_sql(vetoes)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE unify_pairs AS SELECT p.* REPLACE ("
        "CASE WHEN v.veto IS NOT NULL THEN 'veto:' || v.veto ELSE p.match_rule END AS match_rule"
        "), v.veto FROM unify_combined p LEFT JOIN ("
        f"SELECT c.record_key_l, c.record_key_r, {names} AS veto FROM unify_combined c "
        f"JOIN unify_input l ON l.{UNIQUE_ID} = c.record_key_l "
        f"JOIN unify_input r ON r.{UNIQUE_ID} = c.record_key_r"
        ") v USING (record_key_l, record_key_r)"
    )
    thr = float(s.match_threshold)
    row = con.execute(
        "SELECT count(*), "
        f"count(*) FILTER (match_rule = 'splink' AND match_probability >= {thr}), "
        "count(*) FILTER (match_rule <> 'splink' AND NOT starts_with(match_rule, 'veto:')), "
        "count(*) FILTER (match_rule <> 'splink' AND NOT starts_with(match_rule, 'veto:') "
        f"AND (match_probability IS NULL OR match_probability < {thr})), "
        "count(*) FILTER (veto IS NOT NULL) FROM unify_pairs"
    ).fetchall()[0]
    assert row is not None
    stats: dict[str, Any] = dict(
        zip(("pairs", "splink_links", "det_links", "det_only_links", "vetoed"), row, strict=True)
    )
    timings["predict"] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    con.execute(
        "CREATE OR REPLACE TEMP TABLE unify_edges AS SELECT record_key_l, record_key_r, "
        "CASE WHEN match_rule <> 'splink' THEN 1.0::DOUBLE ELSE match_probability END AS strength "
        f"FROM unify_pairs WHERE veto IS NULL AND (CASE WHEN match_rule <> 'splink' THEN 1.0 "
        f"ELSE match_probability END) >= {thr}"
    )
    comp = _components(con, "unify_input", "unify_edges")
    con.execute("CREATE OR REPLACE TEMP TABLE unify_comp (record_key VARCHAR, comp BIGINT)")
    import pyarrow as pa

    comp_table = pa.table({"record_key": list(comp.keys()), "comp": list(comp.values())})
    con.register("__unify_comp_arrow", comp_table)
    con.execute("INSERT INTO unify_comp SELECT * FROM __unify_comp_arrow")
    con.unregister("__unify_comp_arrow")

    cstats = {"conflicting_clusters": 0, "links_dropped_by_constraints": 0}
    fixes: list[tuple[str, str]] = []
    if vetoes:
        conflicts = con.execute(
            "WITH sized AS (SELECT record_key, comp, count(*) OVER (PARTITION BY comp) AS n "
            "FROM unify_comp), big AS (SELECT i.*, sized.comp FROM sized "
            f"JOIN unify_input i ON i.{UNIQUE_ID} = sized.record_key WHERE n >= 3) "
            "SELECT l.comp, l.record_key, r.record_key FROM big l JOIN big r "
            f"ON l.comp = r.comp AND l.record_key < r.record_key WHERE {anyof_lr}"
        ).fetchall()
        if conflicts:
            bad = sorted({c for c, _a, _b in conflicts})
            con.register("__unify_bad", pa.table({"comp": bad}))
            members = con.execute(
                "SELECT comp, record_key FROM unify_comp SEMI JOIN __unify_bad USING (comp)"
            ).fetchall()
            cedges = con.execute(
                "SELECT c.comp, e.record_key_l, e.record_key_r, e.strength FROM unify_edges e "
                "JOIN unify_comp c ON c.record_key = e.record_key_l "
                "SEMI JOIN __unify_bad b ON b.comp = c.comp"
            ).fetchall()
            con.unregister("__unify_bad")
            by_members: dict[int, list[str]] = {}
            for c, k in members:
                by_members.setdefault(c, []).append(k)
            by_edges: dict[int, list[tuple[str, str, float]]] = {}
            for c, a, b, w in cedges:
                by_edges.setdefault(c, []).append((a, b, float(w)))
            by_conf: dict[int, set[tuple[str, str]]] = {}
            for c, a, b in conflicts:
                by_conf.setdefault(c, set()).add((a, b))
            for c in bad:
                assignment = constrained_components(by_members[c], by_edges.get(c, []), by_conf[c])
                fixes.extend(assignment.items())
                kept = sum(1 for a, b, _ in by_edges.get(c, []) if assignment[a] == assignment[b])
                cstats["links_dropped_by_constraints"] += len(by_edges.get(c, [])) - kept
            cstats["conflicting_clusters"] = len(bad)
            logger.info("match: %s clusters held vetoed record pairs and were split", len(bad))
    fix_table = pa.table(
        {"record_key": [k for k, _ in fixes], "fixed": [v for _, v in fixes]},
        schema=pa.schema([("record_key", pa.string()), ("fixed", pa.string())]),
    )
    con.register("__unify_fix", fix_table)
    clusters = con.sql(
        "WITH labelled AS (SELECT c.record_key, f.fixed, "
        "CASE WHEN f.fixed IS NULL THEN c.comp END AS comp "
        "FROM unify_comp c LEFT JOIN __unify_fix f USING (record_key)) "
        "SELECT record_key, min(record_key) OVER w AS cluster_id, "
        "count(*) OVER w::BIGINT AS cluster_size FROM labelled "
        "WINDOW w AS (PARTITION BY fixed, comp) ORDER BY record_key"
    ).to_arrow_table()
    con.unregister("__unify_fix")
    timings["cluster"] = round(time.perf_counter() - t0, 2)

    pairs = con.sql(
        "SELECT record_key_l, record_key_r, match_weight, match_probability, match_rule"
        + "".join(f", {_q(c)}" for c in explain)
        + ", veto FROM unify_pairs ORDER BY record_key_l, record_key_r"
    ).to_arrow_table()
    stats.update(cstats)
    return DuckDBMatch(
        pairs=pairs,
        clusters=clusters,
        profile=profile,
        counts=counts,
        skipped_rules=skipped,
        vetoes=vetoes,
        stats=stats,
        timings=timings,
    )


def oversized_values(
    con: duckdb.DuckDBPyConnection, table: str, rule: DeterministicRule, columns: set[str]
) -> list[tuple[str, int]]:
    """:func:`unification.matching.deterministic.oversized_groups` (top 5) in DuckDB."""
    if any(f not in columns for f in rule.fields):
        return []
    fields = [_q(f) for f in rule.fields]
    nn = " AND ".join(f"{f} IS NOT NULL" for f in fields)
    value = "concat_ws(' | ', " + ", ".join(f"CAST({f} AS VARCHAR)" for f in fields) + ")"
    rows = con.execute(
        f"SELECT {value} AS value, count(*) AS records FROM {table} WHERE {nn} "
        f"GROUP BY {', '.join(fields)} HAVING count(*) > {int(rule.max_group_size)} "
        "ORDER BY records DESC, value LIMIT 5"
    ).fetchall()
    return [(str(v), int(n)) for v, n in rows]


def _threads(spark: SparkSession) -> int:
    try:
        return max(1, int(spark.sparkContext.defaultParallelism))
    except Exception:  # pragma: no cover - Spark Connect
        return 0


def run_match_duckdb(spark: SparkSession, cfg: AppConfig, run_id: str) -> dict[str, Any]:
    """``unify match`` on the DuckDB engine: same inputs, tables and metrics keys as the
    Spark engine (:func:`unification.matching.predict.run_match`)."""
    from pyspark.sql import functions as F

    from unification.lakehouse import Lakehouse
    from unification.matching.predict import load_model
    from unification.matching.training import read_match_input
    from unification.schemas import MATCH_PAIRS_KEY, RECORD_CLUSTERS
    from unification.standardise.records import write_minimal_change

    s = cfg.matching
    lh = Lakehouse(cfg.lakehouse)
    model = load_model(cfg)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()

    df: DataFrame = read_match_input(spark, cfg)
    for col in model_input_columns(model):
        if col not in df.columns:
            logger.warning("match: model column %s is not in the data; compared as null", col)
            df = df.withColumn(col, F.lit(None).cast("string"))
    t0 = time.perf_counter()
    table = df.toArrow()
    timings["collect"] = round(time.perf_counter() - t0, 2)

    con = duckdb_connection(
        threads=_threads(spark), jaro_floor=jaro_winkler_floor(model_sql(model, s))
    )
    try:
        result = match_table(con, table, model, s)
        timings.update(result.timings)
        columns = set(table.column_names)
        skipped_values = {}
        for rule in s.deterministic_rules:
            over = oversized_values(con, "unify_input", rule, columns)
            if over:
                skipped_values[rule.name] = over
                logger.warning(
                    "match: deterministic rule %s ignored values shared by > %s records: %s",
                    rule.name,
                    rule.max_group_size,
                    over,
                )
        clusters_arrow = result.clusters
        con.register("unify_clusters_out", clusters_arrow)
        size_rows = con.execute(
            "SELECT count(*), count(*) FILTER (cluster_size = 1), max(cluster_size) FROM "
            "(SELECT DISTINCT cluster_id, cluster_size FROM unify_clusters_out)"
        ).fetchall()[0]
        oversized = [
            (str(c), int(n))
            for c, n in con.execute(
                "SELECT DISTINCT cluster_id, cluster_size FROM unify_clusters_out "
                f"WHERE cluster_size > {int(s.max_cluster_size)} "
                "ORDER BY cluster_size DESC, cluster_id DESC"
            ).fetchall()
        ]
    finally:
        con.close()
    assert size_rows is not None
    for cid, size in oversized[:20]:
        logger.warning(
            "match: cluster %s has %s records (> matching.max_cluster_size = %s)",
            cid,
            size,
            s.max_cluster_size,
        )

    t0 = time.perf_counter()
    pairs_arrow = result.pairs.drop_columns(["veto"])
    pairs = spark.createDataFrame(pairs_arrow)
    explain = [c for c in pairs_arrow.column_names if c.startswith(("gamma_", "bf_"))]
    pairs = pairs.select(
        F.col("record_key_l").cast("string"),
        F.col("record_key_r").cast("string"),
        F.col("match_weight").cast("double"),
        F.col("match_probability").cast("double"),
        F.col("match_rule").cast("string"),
        F.lit(run_id).alias("_run_id"),
        *[F.col(c).cast("int" if c.startswith("gamma_") else "double") for c in explain],
    )
    clusters = spark.createDataFrame(clusters_arrow).withColumn("_run_id", F.lit(run_id))
    clusters = clusters.select(*[F.col(f.name).cast(f.dataType) for f in RECORD_CLUSTERS.fields])
    write_minimal_change(pairs, lh, "silver", "match_pairs", MATCH_PAIRS_KEY, run_id)
    write_minimal_change(clusters, lh, "silver", "record_clusters", ("record_key",), run_id)
    timings["write"] = round(time.perf_counter() - t0, 2)
    timings["total"] = round(time.perf_counter() - t_all, 2)

    st = result.stats
    metrics: dict[str, Any] = {
        # always a full run: at one-machine scale it takes seconds (run.mode is not read here)
        "mode": "full",
        "records_scored": result.profile.records,
        "records_removed": 0,
        "records": result.profile.records,
        "comparisons_by_rule": {c.rule: c.comparisons for c in result.counts},
        "skipped_blocking_rules": result.skipped_rules,
        "pairs": int(st["pairs"] or 0),
        "splink_links": int(st["splink_links"] or 0),
        "deterministic_links": int(st["det_links"] or 0),
        "deterministic_only_links": int(st["det_only_links"] or 0),
        "deterministic_values_skipped": skipped_values,
        "veto_rules": [v.name for v in result.vetoes],
        "vetoed_pairs": int(st["vetoed"] or 0),
        "conflicting_clusters_split": st["conflicting_clusters"],
        "links_dropped_by_constraints": st["links_dropped_by_constraints"],
        "clusters": int(size_rows[0] or 0),
        "singletons": int(size_rows[1] or 0),
        "max_cluster_size": int(size_rows[2] or 0),
        "oversized_clusters": len(oversized),
        "oversized_cluster_ids": [c for c, _ in oversized[:20]],
        "match_threshold": s.match_threshold,
        "engine": "duckdb",
        "seconds": timings,
    }
    logger.info(
        "match (duckdb): %s records -> %s clusters (%s pairs kept, %.1fs)",
        metrics["records"],
        metrics["clusters"],
        metrics["pairs"],
        timings["total"],
    )
    return metrics
