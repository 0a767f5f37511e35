"""Typed settings of privacy (``privacy:``) and activation (``activation:``) in the run config.

Defaults live here; ``conf/base.yml`` overrides them. See docs/PRIVACY.md.

Examples:
    ```yaml
    privacy:
      erasure:
        scope: customer           # an email / phone / customer-id request erases the customer
      retention:
        vacuum_retain_hours: 168
    activation:
      segments:
        - {name: vip, where: "lifecycle_stage = 'vip'"}
      exports:
        format: csv
        masking: {last_name: mask}
    ```
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Channels of an activation export. ``ads`` = ad platforms' customer-match audiences.
ExportChannel = Literal["email", "sms", "post", "ads"]
EXPORT_CHANNELS: tuple[str, ...] = ("email", "sms", "post", "ads")

#: Kinds of identifier an erasure request may name.
IdentifierKind = Literal["email", "phone", "customer_id", "record"]

#: What a column can become in an export (``activation.exports.masking``).
MaskMode = Literal["keep", "mask", "hash", "drop"]

RerunStage = Literal["identify", "survive", "interactions", "features"]
SuppressionKind = Literal["record", "email", "phone"]
ConsentChannel = Literal["email", "sms", "phone", "post"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- privacy
class ErasureSettings(_Model):
    """How ``unify erase`` resolves a request.

    Attributes:
        scope: ``customer`` (default): an ``--email``, ``--phone`` or ``--customer-id`` request
            erases every record of the customers holding that identifier (the single customer
            view says they are the same person); ``records``: only the records that hold the
            identifier. A ``--record`` request always erases that one record (the way to remove
            a record that wrongly bridged two people).
        rerun_stages: stages re-run after the deletions so that ids, profiles and consent are
            consistent again. ``identify`` and ``survive`` are required; add ``interactions``
            and ``features`` to refresh the 360 view and features at once (otherwise the next
            pipeline run does).
    """

    scope: Literal["customer", "records"] = "customer"
    rerun_stages: list[RerunStage] = Field(default_factory=lambda: _stages("identify", "survive"))

    @field_validator("rerun_stages")
    @classmethod
    def _identify_and_survive(cls, value: list[RerunStage]) -> list[RerunStage]:
        missing = [s for s in ("identify", "survive") if s not in value]
        if missing:
            raise ValueError(f"must include {missing}: ids and profiles must be re-derived")
        order: tuple[RerunStage, ...] = ("identify", "survive", "interactions", "features")
        return [s for s in order if s in value]


class SuppressionSettings(_Model):
    """The suppression list (``ops.suppression``) that ingestion checks.

    Attributes:
        enabled: drop incoming rows that match the list (counted as ``rows_suppressed``).
        match_on: which hashed identifiers of an incoming row are compared: its record key
            (``record``), its normalised email (``email``), its E.164 phone or mobile
            (``phone``). Matching on email or phone also keeps an erased person out when a
            source re-creates them under a new id, at the cost of also dropping a different
            person who later uses the same address or number (a shared family line).
    """

    enabled: bool = True
    match_on: list[SuppressionKind] = Field(default_factory=lambda: _kinds())


class RetentionSettings(_Model):
    """Delta history retention and purge (``unify vacuum``).

    Attributes:
        vacuum_retain_hours: ``VACUUM ... RETAIN n HOURS``: data files no longer referenced by a
            version younger than this are deleted. After an erasure, the erased rows only
            disappear from disk (old versions, change feed files) once this has elapsed and
            VACUUM has run. Below 168 (Delta's safety default) ``unify vacuum`` needs ``--force``.
        deleted_file_retention: ``delta.deletedFileRetentionDuration`` set on every table by
            ``unify vacuum --set-retention`` (a Delta interval string).
        log_retention: ``delta.logRetentionDuration`` (how long the transaction log, and so
            time travel, is kept).
        export_retention_days: export and sync-back files older than this are deleted by
            ``unify vacuum`` (they hold contact data outside Delta; 0 keeps them).
    """

    vacuum_retain_hours: float = Field(default=168.0, ge=0)
    deleted_file_retention: str = "interval 7 days"
    log_retention: str = "interval 30 days"
    export_retention_days: int = Field(default=30, ge=0)

    @field_validator("deleted_file_retention", "log_retention")
    @classmethod
    def _interval(cls, value: str) -> str:
        if not re.fullmatch(
            r"interval \d+ (second|minute|hour|day|week)s?", value.strip(), re.IGNORECASE
        ):
            raise ValueError("expected a Delta interval such as 'interval 7 days'")
        return value.strip()


class PrivacySettings(_Model):
    """Section ``privacy:``: erasure, suppression, retention."""

    erasure: ErasureSettings = Field(default_factory=ErasureSettings)
    suppression: SuppressionSettings = Field(default_factory=SuppressionSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)


# --------------------------------------------------------------------------- activation
class Segment(_Model):
    """A segment: a Spark SQL condition over one snapshot of ``gold.customer_features``.

    Any feature column can be used (``lifecycle_stage``, ``rfm_segment``, ``clv``,
    ``churn_score``, ``propensity``, ``order_count``, ``preferred_channel``...).
    """

    name: str
    where: str
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("segment names are letters, digits, '_' and '-' (used in file names)")
        return value


def _stages(*names: RerunStage) -> list[RerunStage]:
    return list(names)


def _kinds() -> list[SuppressionKind]:
    return ["record", "email", "phone"]


def _channels(*names: ConsentChannel) -> list[ConsentChannel]:
    return list(names)


def _default_columns() -> dict[ExportChannel, list[str]]:
    return {
        "email": ["customer_id", "email", "first_name", "last_name", "country"],
        "sms": ["customer_id", "mobile", "first_name"],
        "post": [
            "customer_id",
            "first_name",
            "last_name",
            "address_line1",
            "address_line2",
            "postal_code",
            "city",
            "country",
        ],
        "ads": ["email_sha256", "phone_sha256"],
    }


class AdsSettings(_Model):
    """Ad platform (customer-match) audiences.

    Attributes:
        convention: how identifiers are normalised before SHA-256. ``meta`` (default): email
            trimmed and lower-cased; phone as digits with the country code, no ``+`` (E.164
            without ``+``); names lower-cased without punctuation. ``google``: email trimmed and
            lower-cased, dots removed from the user name of gmail.com / googlemail.com
            addresses; phone in E.164 with ``+``; names lower-cased and trimmed.
        consent_channels: consent channel(s) whose opt-in a person needs to be in an ads
            audience (the golden profile has no ``ads`` channel).
        consent_mode: ``all`` or ``any`` of ``consent_channels``.
    """

    convention: Literal["meta", "google"] = "meta"
    consent_channels: list[ConsentChannel] = Field(
        default_factory=lambda: _channels("email"), min_length=1
    )
    consent_mode: Literal["all", "any"] = "all"


class ExportSettings(_Model):
    """``unify export``: files for activation tools.

    Attributes:
        dir: output folder (default ``<lakehouse root>/../exports``).
        format: ``csv`` or ``parquet``.
        columns: columns per channel. Profile columns (``customer_id``, ``email``, ``mobile``,
            ``first_name``, address...), feature columns of the snapshot (``lifecycle_stage``,
            ``rfm_segment``...) or hashed identifiers (``email_sha256``, ``phone_sha256``,
            ``first_name_sha256``, ``last_name_sha256``, ``postal_code_sha256``,
            ``country_sha256``).
        masking: column -> ``keep`` | ``mask`` (partial: ``j***@example.com``,
            ``+3361*****78``, ``J.``) | ``hash`` (SHA-256 of the normalised value) | ``drop``.
            Applies to every export.
        ads: customer-match settings.
    """

    dir: str | None = None
    format: Literal["csv", "parquet"] = "csv"
    columns: dict[ExportChannel, list[str]] = Field(default_factory=_default_columns)
    masking: dict[str, MaskMode] = Field(default_factory=dict)
    ads: AdsSettings = Field(default_factory=AdsSettings)

    @field_validator("columns")
    @classmethod
    def _all_channels(cls, value: dict[ExportChannel, list[str]]) -> dict[ExportChannel, list[str]]:
        merged = {**_default_columns(), **value}
        for channel, cols in merged.items():
            if not cols:
                raise ValueError(f"{channel}: at least one column")
            if len(set(cols)) != len(cols):
                raise ValueError(f"{channel}: duplicate column")
        return merged


class SyncBackSettings(_Model):
    """The sync-back feed (``unify sync-back``).

    Attributes:
        dir: output folder (default ``<exports dir>/syncback``); one file per source and run.
        format: ``csv`` or ``parquet``.
        sources: source systems to feed (default: every source with a person entity).
        initial: what a source without a watermark gets: ``snapshot`` (every customer of that
            source once, then changes) or ``none`` (start from the current version).
    """

    dir: str | None = None
    format: Literal["csv", "parquet"] = "csv"
    sources: list[str] | None = None
    initial: Literal["snapshot", "none"] = "snapshot"


class ActivationSettings(_Model):
    """Section ``activation:``: segments, exports, sync-back feed."""

    segments: list[Segment] = Field(default_factory=list)
    exports: ExportSettings = Field(default_factory=ExportSettings)
    syncback: SyncBackSettings = Field(default_factory=SyncBackSettings)

    @model_validator(mode="after")
    def _unique_segments(self) -> ActivationSettings:
        names = [s.name for s in self.segments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"segment name(s) {dupes} declared more than once")
        return self

    def segment(self, name: str) -> Segment:
        """The segment called ``name``; ``KeyError`` listing the declared ones otherwise."""
        for seg in self.segments:
            if seg.name == name:
                return seg
        raise KeyError(f"no segment {name!r}; declared: {[s.name for s in self.segments]}")
