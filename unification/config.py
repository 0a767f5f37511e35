"""Typed configuration loaded from ``conf/*.yml``.

A run is configured by one YAML file (``conf/demo.yml`` is the embedded default). It may
``extends:`` another file (``base.yml``), whose values it overrides key by key, and it points
at a folder of source declarations (``sources_dir``, one YAML file per source system).

Every file is validated on load with pydantic. A bad file raises :class:`ConfigError` whose
message names the file and the dotted key, e.g.
``conf/sources/crm.yml: entities.contacts.format: Input should be 'csv', 'json' or 'parquet'``.

Stage-specific sections (``standardise``, ``matching``, ``identity``, ``survivorship``,
``features``, ``privacy``, ``activation``) are typed by the settings module of each
stage package.

Examples:
    ```py
    from unification.config import load_config
    cfg = load_config("conf/demo.yml")
    cfg.lakehouse.root          # absolute path of the local lakehouse
    cfg.source("ecommerce").entities["customers"].format
    ```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from unification.errors import ConfigError
from unification.features.settings import FeatureSettings
from unification.identity.settings import IdentitySettings
from unification.ingest.settings import IngestSettings
from unification.matching.settings import MatchingSettings
from unification.privacy.settings import ActivationSettings, PrivacySettings
from unification.publish.settings import PublishSettings
from unification.standardise.settings import StandardiseSettings
from unification.survivorship.settings import SurvivorshipSettings

ColumnType = Literal["string", "int", "long", "double", "decimal", "boolean", "date", "timestamp"]
FileFormat = Literal["csv", "json", "parquet"]
Channel = Literal["email", "sms", "phone", "post"]
EventKind = Literal["order", "order_line", "web_event", "email_event", "contact"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ColumnSpec(_Model):
    """One column of a source contract.

    ``format`` is a Spark datetime pattern for ``date``/``timestamp`` columns delivered as text.
    """

    name: str
    type: ColumnType = "string"
    required: bool = False
    format: str | None = None


class ConsentMapping(_Model):
    """How rows of an entity yield consent events for one channel.

    Each value is a Spark SQL expression over the bronze columns.
    ``opt_in`` must evaluate to a boolean (true = opt-in, false = opt-out, null = no event);
    ``at`` to a timestamp; ``when`` optionally filters the rows that carry an event.
    """

    channel: Channel
    opt_in: str
    at: str
    when: str | None = None


class PersonMapping(_Model):
    """How rows of an entity map onto the canonical identity schema (``silver.person_records``).

    ``fields`` maps canonical field names (see :data:`unification.schemas.PERSON_FIELDS`) to
    Spark SQL expressions over the bronze columns (a bare column name is an expression).
    ``identifiers`` maps extra identifier names (``loyalty_card``, ``customer_number``...) to
    expressions; they feed deterministic rules and matching.
    """

    source_id: str
    updated_at: str
    fields: dict[str, str] = Field(default_factory=dict)
    identifiers: dict[str, str] = Field(default_factory=dict)

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        from unification.schemas import PERSON_FIELDS

        unknown = sorted(set(value) - set(PERSON_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown canonical field(s) {unknown}; expected some of {list(PERSON_FIELDS)}"
            )
        return value


class EventMapping(_Model):
    """How rows of an entity become interactions / orders (gold 360 view).

    ``fields`` maps target columns of the event kind (see :mod:`unification.schemas`) to Spark SQL
    expressions. ``links`` maps identifier names to expressions that tie the event to a person:
    ``{"ecommerce:customers": "customer_id"}`` means the expression's value is the ``source_id``
    of a record of the ``customers`` entity of source ``ecommerce``.
    """

    kind: EventKind
    fields: dict[str, str] = Field(default_factory=dict)
    links: dict[str, str] = Field(default_factory=dict)
    when: str | None = None


class EntityConfig(_Model):
    """One delivered entity (file family) of a source, with its contract."""

    path: str = Field(description="glob relative to data_root")
    format: FileFormat
    options: dict[str, str] = Field(default_factory=dict)
    key: list[str] = Field(default_factory=list)
    columns: list[ColumnSpec]
    allow_extra_columns: bool = True
    person: PersonMapping | None = None
    consent: list[ConsentMapping] = Field(default_factory=list)
    events: list[EventMapping] = Field(default_factory=list)

    @model_validator(mode="after")
    def _key_is_declared(self) -> EntityConfig:
        names = {c.name for c in self.columns}
        missing = [k for k in self.key if k not in names]
        if missing:
            raise ValueError(f"key column(s) {missing} are not declared in columns")
        if len(names) != len(self.columns):
            raise ValueError("duplicate column names in columns")
        return self

    def column(self, name: str) -> ColumnSpec:
        """Return the contract of column ``name``."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


class SourceConfig(_Model):
    """A source system (``ecommerce``, ``stores``, ``crm``...) and the entities it delivers."""

    name: str
    description: str = ""
    entities: dict[str, EntityConfig]

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.replace("_", "").isalnum() or not value.islower():
            raise ValueError("source name must be lower-case letters, digits and underscores")
        return value


class LakehouseConfig(_Model):
    """Where tables live.

    Locally (the default) each table is a Delta folder ``<root>/<layer>/<table>/``. With
    ``catalog`` set (Databricks / a metastore), tables are ``<catalog>.<layer><suffix>.<table>``.
    """

    root: str = "./lakehouse"
    catalog: str | None = None
    schema_suffix: str = ""


class SparkConfig(_Model):
    """Session settings used when this library builds the session (never under spark-submit)."""

    master: str = "local[2]"
    app_name: str = "unification"
    driver_memory: str = "6g"
    shuffle_partitions: int = 8
    conf: dict[str, str] = Field(default_factory=dict)


class RunConfig(_Model):
    """Options of a pipeline run."""

    as_of: str | None = Field(default=None, description="feature date, YYYY-MM-DD; default today")
    mode: Literal["full", "incremental"] = Field(
        default="full",
        description=(
            "full: standardise and score every record; incremental: only the records of new "
            "bronze batches (falls back to full when there is no earlier state or the settings "
            "or model changed). docs/OPERATIONS.md"
        ),
    )
    truth_path: str | None = None
    report_dir: str = "./reports"


class AppConfig(_Model):
    """The whole configuration of a run."""

    config_path: str = ""
    data_root: str = "./data/demo"
    sources_dir: str = "sources"
    models_dir: str = "models"
    lakehouse: LakehouseConfig = Field(default_factory=LakehouseConfig)
    spark: SparkConfig = Field(default_factory=SparkConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    standardise: StandardiseSettings = Field(default_factory=StandardiseSettings)
    matching: MatchingSettings = Field(default_factory=MatchingSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    survivorship: SurvivorshipSettings = Field(default_factory=SurvivorshipSettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    activation: ActivationSettings = Field(default_factory=ActivationSettings)
    sources: list[SourceConfig] = Field(default_factory=list)

    def source(self, name: str) -> SourceConfig:
        """Return the source called ``name``; raise :class:`ConfigError` if it is not declared."""
        for src in self.sources:
            if src.name == name:
                return src
        raise ConfigError(
            f"{self.config_path}: no source named {name!r} (declared: "
            f"{[s.name for s in self.sources]})"
        )

    def entities(self) -> list[tuple[SourceConfig, str, EntityConfig]]:
        """Every (source, entity name, entity) in declaration order."""
        return [(s, n, e) for s in self.sources for n, e in s.entities.items()]

    @property
    def models_path(self) -> Path:
        """Absolute folder holding trained model files."""
        return Path(self.models_dir)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _format_validation_error(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        lines.append(f"{path}: {loc}: {err['msg']}")
    return "\n".join(lines)


def _load_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: circular 'extends'")
    data = _read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends: must be a file name")
    base = _load_raw(path.parent / parent, (*seen, path))
    return _deep_merge(base, data)


def load_source(path: str | Path) -> SourceConfig:
    """Load and validate one source declaration file."""
    p = Path(path)
    data = _read_yaml(p)
    try:
        return SourceConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(p, exc)) from exc


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> AppConfig:
    """Load ``path`` (and what it extends), its sources, and validate everything.

    Relative paths inside the file (``data_root``, ``sources_dir``, ``models_dir``,
    ``lakehouse.root``, ``run.report_dir``) are resolved against the working directory for
    data locations and against the config file's folder for ``sources_dir``/``models_dir``.

    Args:
        path: the YAML file.
        overrides: nested dict merged over the file (used by the CLI's ``--lakehouse`` etc.).

    Returns:
        The validated configuration.

    Raises:
        ConfigError: naming the file and dotted key of the first problems.
    """
    p = Path(path)
    raw = _load_raw(p)
    if overrides:
        raw = _deep_merge(raw, overrides)
    if "sources" in raw:
        raise ConfigError(f"{p}: sources: declare sources as files under sources_dir")
    try:
        cfg = AppConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(p, exc)) from exc
    conf_dir = p.resolve().parent
    cfg.config_path = str(p)
    cfg.sources_dir = str((conf_dir / cfg.sources_dir).resolve())
    cfg.models_dir = str((conf_dir / cfg.models_dir).resolve())
    cfg.data_root = str(Path(cfg.data_root).resolve())
    cfg.lakehouse.root = str(Path(cfg.lakehouse.root).resolve())
    cfg.run.report_dir = str(Path(cfg.run.report_dir).resolve())
    if cfg.run.truth_path:
        cfg.run.truth_path = str(Path(cfg.run.truth_path).resolve())
    sources_dir = Path(cfg.sources_dir)
    if not sources_dir.is_dir():
        raise ConfigError(f"{p}: sources_dir: folder {sources_dir} does not exist")
    sources = [load_source(f) for f in sorted(sources_dir.glob("*.yml"))]
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{sources_dir}: source name(s) {dupes} declared more than once")
    cfg.sources = sources
    return cfg
