"""From the YAML model declaration to Splink objects, and the Splink Spark backend.

* :func:`comparison_creator` turns a :class:`ComparisonSpec` into a comparison of
  ``splink.comparison_library`` (a bad class name raises :class:`ConfigError` naming the key);
* :func:`blocking_rule_creator` turns a list of fields into ``block_on(...)`` and keeps SQL;
* :func:`profile_fields` measures which columns actually hold data, so that a model trained on
  data with another mix of fields skips comparisons and rules it cannot use;
* :func:`spark_db_api` builds Splink's ``SparkAPI`` with explicit options and
  :func:`cleanup_splink` removes what Splink materialised.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.errors import ConfigError
from unification.matching.settings import BlockingRuleSpec, ComparisonSpec, MatchingSettings

if TYPE_CHECKING:
    from splink.internals.comparison_creator import ComparisonCreator

logger = logging.getLogger(__name__)

UNIQUE_ID = "record_key"
_COLUMN_REF = re.compile(r"\b[lr]\.`?\"?([A-Za-z_][A-Za-z0-9_]*)")


# ----------------------------------------------------------------------------- field profile


@dataclass(frozen=True)
class FieldProfile:
    """How much data a column of the matching input holds."""

    non_null: int
    distinct: int

    def usable(self, min_non_null: int) -> bool:
        """Enough values to compare (and more than one distinct value)."""
        return self.non_null >= min_non_null and self.distinct >= 2


@dataclass
class DataProfile:
    """Per-column profile of the matching input (one Spark job)."""

    records: int
    fields: dict[str, FieldProfile] = field(default_factory=dict)

    def usable(self, name: str, min_non_null: int = 2) -> bool:
        prof = self.fields.get(name)
        return prof is not None and prof.usable(min_non_null)


def profile_fields(df: DataFrame, columns: Iterable[str]) -> DataProfile:
    """Count non-null and (approximately) distinct values of ``columns`` in one pass."""
    cols = [c for c in dict.fromkeys(columns) if c in df.columns]
    aggs = [F.count(F.lit(1)).alias("__records")]
    for c in cols:
        aggs.append(F.count(F.col(c)).alias(f"nn__{c}"))
        aggs.append(F.approx_count_distinct(F.col(c)).alias(f"nd__{c}"))
    row = df.agg(*aggs).first()
    assert row is not None
    profile = DataProfile(records=int(row["__records"]))
    for c in cols:
        profile.fields[c] = FieldProfile(int(row[f"nn__{c}"]), int(row[f"nd__{c}"]))
    return profile


# ----------------------------------------------------------------------------- comparisons


def comparison_creator(
    spec: ComparisonSpec, where: str = "matching.comparisons"
) -> ComparisonCreator:
    """A Splink comparison from its YAML declaration.

    Raises:
        ConfigError: unknown class or arguments it does not accept.
    """
    import splink.comparison_library as cl

    try:
        if spec.type == "CustomComparison":
            if not spec.levels:
                raise ConfigError(f"{where}.levels: CustomComparison needs levels")
            creator: ComparisonCreator = cl.CustomComparison(
                comparison_levels=list[Any](spec.levels),
                output_column_name=spec.fields[0],
                comparison_description=spec.description,
            )
        else:
            cls = getattr(cl, spec.type, None)
            if cls is None or spec.type not in cl.__all__:
                raise ConfigError(
                    f"{where}.type: {spec.type!r} is not a class of splink.comparison_library "
                    f"(known: {sorted(cl.__all__)})"
                )
            creator = cls(*spec.fields, **spec.args)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot build {spec.type}({spec.field!r}, ...): {exc}") from exc
    if spec.term_frequency_adjustments is not None:
        creator = creator.configure(term_frequency_adjustments=spec.term_frequency_adjustments)
    return creator


# ----------------------------------------------------------------------------- blocking rules


def rule_fields(rule: BlockingRuleSpec) -> list[str]:
    """Columns a blocking rule reads (``l.x`` / ``r.x`` references for SQL rules)."""
    if isinstance(rule, list):
        return list(dict.fromkeys(c for expr in rule for c in expression_columns(expr)))
    return list(dict.fromkeys(_COLUMN_REF.findall(rule)))


_SQL_WORDS = {"as", "string", "date", "int", "bigint", "double", "and", "or", "not", "null",
              "is", "case", "when", "then", "else", "end", "true", "false"}  # fmt: skip


def expression_columns(expr: str) -> list[str]:
    """Column names in a SQL expression of one table (``substr(birth_date, 1, 4)`` ->
    ``birth_date``): identifiers outside quotes that are not function calls or keywords."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", " ", expr)
    words = re.findall(r"`?([A-Za-z_][A-Za-z0-9_]*)`?(\s*\()?", text)
    return [w for w, call in words if not call and w.lower() not in _SQL_WORDS]


def rule_label(rule: BlockingRuleSpec) -> str:
    """Readable form of a rule (for logs and error messages)."""
    return " & ".join(rule) if isinstance(rule, list) else rule


def blocking_rule_creator(rule: BlockingRuleSpec) -> Any:
    """``block_on(*fields)`` for a list of fields, the SQL string otherwise."""
    from splink import block_on

    if isinstance(rule, list):
        return block_on(*rule)
    return rule


def blocking_rule_sql(rule: BlockingRuleSpec) -> str:
    """The Spark SQL condition of a rule over ``l.`` and ``r.``."""
    from splink.internals.blocking_rule_creator_utils import to_blocking_rule_creator

    return str(
        to_blocking_rule_creator(blocking_rule_creator(rule))
        .get_blocking_rule("spark")
        .blocking_rule_sql
    )


def equi_join_keys(rule: BlockingRuleSpec) -> list[tuple[str, str]]:
    """The (left, right) equi-join key expressions of a rule (no ``l.``/``r.`` prefix)."""
    from splink.internals.blocking_rule_creator_utils import to_blocking_rule_creator

    br = to_blocking_rule_creator(blocking_rule_creator(rule)).get_blocking_rule("spark")
    return [(str(a), str(b)) for a, b in br._equi_join_conditions]


def active_rules(
    rules: Sequence[BlockingRuleSpec], profile: DataProfile, min_non_null: int = 2
) -> tuple[list[BlockingRuleSpec], list[str]]:
    """Split rules into those whose fields hold data and the labels of the skipped ones."""
    keep, skipped = [], []
    for rule in rules:
        if all(profile.usable(f, min_non_null) for f in rule_fields(rule)):
            keep.append(rule)
        else:
            skipped.append(rule_label(rule))
    return keep, skipped


# ----------------------------------------------------------------------------- settings


def min_non_null(settings: MatchingSettings, profile: DataProfile) -> int:
    """Fewest non-null values a field needs to be used (coverage floor, at least 2)."""
    return max(2, int(profile.records * settings.min_field_coverage))


def active_comparisons(
    settings: MatchingSettings, profile: DataProfile
) -> tuple[list[ComparisonSpec], list[str]]:
    """Comparisons whose fields all hold data, and a reason for each one skipped."""
    keep, skipped = [], []
    floor = min_non_null(settings, profile)
    for spec in settings.comparisons:
        missing = [f for f in spec.fields if not profile.usable(f, floor)]
        # a custom comparison has levels for each of its fields: usable if one holds data;
        # a library class needs all of its columns
        unusable = (
            len(missing) == len(spec.fields) if spec.type == "CustomComparison" else bool(missing)
        )
        if unusable:
            skipped.append(f"{spec.type}({spec.field}): no usable values in {missing}")
        else:
            keep.append(spec)
    return keep, skipped


def splink_settings(
    settings: MatchingSettings,
    comparisons: Sequence[ComparisonSpec],
    blocking_rules: Sequence[BlockingRuleSpec],
) -> Any:
    """Splink ``SettingsCreator`` (dedupe across all sources, ``record_key`` as unique id)."""
    from splink import SettingsCreator

    t = settings.training
    kwargs: dict[str, Any] = {}
    if t.probability_two_random_records_match is not None:
        kwargs["probability_two_random_records_match"] = t.probability_two_random_records_match
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name=UNIQUE_ID,
        comparisons=[
            comparison_creator(spec, f"matching.comparisons[{i}]")
            for i, spec in enumerate(comparisons)
        ],
        blocking_rules_to_generate_predictions=[blocking_rule_creator(r) for r in blocking_rules],
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
        max_iterations=t.max_iterations,
        em_convergence=t.em_convergence,
        **kwargs,
    )


def model_input_columns(model: dict[str, Any]) -> list[str]:
    """Input columns read by the comparisons of a saved model."""
    names: set[str] = set()
    pattern = re.compile(r"[`\"]?([A-Za-z_][A-Za-z0-9_]*?)_[lr][`\"]?\b")
    for comp in model.get("comparisons", []):
        for level in comp.get("comparison_levels", []):
            names.update(pattern.findall(level.get("sql_condition", "")))
            if level.get("tf_adjustment_column"):
                names.add(level["tf_adjustment_column"])
    return sorted(names)


# ----------------------------------------------------------------------------- backend


def _checkpoint_dir(spark: SparkSession) -> str | None:
    try:
        opt = spark.sparkContext._jsc.sc().getCheckpointDir()
        return str(opt.get()) if not opt.isEmpty() else None
    except Exception:  # pragma: no cover - remote sessions
        return None


def spark_db_api(spark: SparkSession, settings: MatchingSettings) -> Any:
    """Splink's Spark backend with explicit options (UDF jar registered on the session)."""
    from splink import SparkAPI

    method = settings.break_lineage_method
    if method is None:
        method = "parquet" if _checkpoint_dir(spark) else "persist"
    kwargs: dict[str, Any] = {"spark_session": spark, "break_lineage_method": method}
    if settings.num_partitions:
        kwargs["num_partitions_on_repartition"] = settings.num_partitions
    return SparkAPI(**kwargs)


def splink_checkpoint_entries(spark: SparkSession) -> set[str]:
    """Splink folders currently in a local checkpoint dir (to clean up after a run)."""
    ckpt = _checkpoint_dir(spark)
    if not ckpt or not ckpt.startswith(("file:", "/")):
        return set()
    root = Path(ckpt.removeprefix("file:"))
    return {p.name for p in root.glob("__splink__*")} if root.is_dir() else set()


def cleanup_splink(spark: SparkSession, db_api: Any, before: set[str]) -> None:
    """Drop Splink's temp views and persisted frames, and the parquet folders it wrote."""
    try:
        for sdf in list(db_api._intermediate_table_cache.values()):
            try:
                spark.table(sdf.physical_name).unpersist()
            except Exception:  # noqa: S112 - best effort
                continue
        db_api.delete_tables_created_by_splink_from_db()
    except Exception:  # pragma: no cover - best effort
        logger.debug("splink cleanup failed", exc_info=True)
    for view in spark.catalog.listTables():
        if view.isTemporary and view.name.startswith("__splink"):
            spark.catalog.dropTempView(view.name)
    ckpt = _checkpoint_dir(spark)
    if ckpt and ckpt.startswith(("file:", "/")):
        root = Path(ckpt.removeprefix("file:"))
        for name in splink_checkpoint_entries(spark) - before:
            shutil.rmtree(root / name, ignore_errors=True)


def with_codegen_fallback(spark: SparkSession, action: Any) -> Any:
    """Run ``action()``; if Spark cannot compile the generated code (wide Splink CASE
    expressions exceed the JVM's 64 KB method limit on some plans), run it again with
    whole-stage code generation off, then restore the setting."""
    try:
        return action()
    except Exception as exc:  # py4j wraps the JVM error
        if "64 KB" not in str(exc) and "InternalCompilerException" not in str(exc):
            raise
        logger.warning("splink: generated code too large, retrying without whole-stage codegen")
        key = "spark.sql.codegen.wholeStage"
        previous = spark.conf.get(key, "true")
        spark.conf.set(key, "false")
        try:
            return action()
        finally:
            spark.conf.set(key, previous or "true")
