"""Activation exports: ``unify export --segment NAME --channel email|sms|post|ads``.

A segment (``activation.segments``) is a Spark SQL condition over one snapshot of
``gold.customer_features`` (the latest, or ``as_of``). Its members are joined to
``gold.golden_profiles`` and kept only when, for the channel:

* they still have a golden profile (an erased customer has none);
* no identifier of theirs is on the suppression list (``ops.suppression``);
* they consent: ``consent_<channel>`` is true (``false`` = opted out, null = never asked). For
  ``ads`` the channels of ``activation.exports.ads.consent_channels`` are required (all or any);
* they have a valid contact: ``email`` (a valid address), ``sms`` (a mobile in E.164),
  ``post`` (a validated postal address), ``ads`` (an email or a phone to hash).

The file (CSV with a header, or Parquet) holds ``activation.exports.columns[channel]``; with
``hashed`` (always for ``ads``) identifiers are replaced by SHA-256 hashes normalised the way
the ad platform expects (:mod:`unification.privacy.hashing`); ``activation.exports.masking``
then masks, hashes or drops any column. Each export is logged in ``ops.export_log`` with the
counts of members left out, by reason. Output:
``<exports dir>/<segment>/<segment>_<channel>_<run_id>.<format>``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.errors import ConfigError
from unification.privacy.errors import PrivacyError
from unification.privacy.files import write_single_file
from unification.privacy.hashing import (
    ads_country,
    ads_email,
    ads_name,
    ads_phone,
    ads_postal_code,
    masked,
    sha256,
    suppression_hash,
)
from unification.privacy.settings import EXPORT_CHANNELS
from unification.privacy.suppression import read_suppression
from unification.privacy.tables import EXPORT_LOG, EXPORT_LOG_TABLE

if TYPE_CHECKING:
    from unification.config import AppConfig
    from unification.lakehouse import Lakehouse

logger = logging.getLogger(__name__)

#: Reasons a segment member is left out of an export, in the order they are checked.
EXCLUSION_REASONS: tuple[str, ...] = (
    "no_profile",
    "suppressed",
    "opted_out",
    "no_consent",
    "no_contact",
)
#: Identifier columns replaced by their hash in a ``hashed`` export.
HASHED_NAMES: dict[str, str] = {
    "email": "email_sha256",
    "mobile": "phone_sha256",
    "phone": "phone_sha256",
    "first_name": "first_name_sha256",
    "last_name": "last_name_sha256",
}


def exports_dir(cfg: AppConfig) -> Path:
    """``activation.exports.dir``, by default ``<lakehouse root>/../exports``."""
    configured = cfg.activation.exports.dir
    if configured:
        return Path(configured).resolve()
    return (Path(cfg.lakehouse.root) / ".." / "exports").resolve()


def latest_snapshot(features: DataFrame, as_of: date | None = None) -> date:
    """The ``as_of`` of the snapshot to use: ``as_of`` itself (it must exist) or the latest."""
    if as_of is not None:
        if features.where(F.col("as_of") == F.lit(as_of)).limit(1).count() == 0:
            raise PrivacyError(f"gold.customer_features has no snapshot as of {as_of}")
        return as_of
    row = features.agg(F.max("as_of")).first()
    if row is None or row[0] is None:
        raise PrivacyError("gold.customer_features is empty: run 'unify features' first")
    found: date = row[0]
    return found


def segment_members(
    spark: SparkSession, cfg: AppConfig, name: str, as_of: date | None = None
) -> tuple[DataFrame, date]:
    """The feature rows of the members of segment ``name`` and the snapshot date used.

    Raises:
        ConfigError: unknown segment, or a condition that does not fit the feature table.
        PrivacyError: no feature table or snapshot.
    """
    from unification.lakehouse import Lakehouse

    try:
        segment = cfg.activation.segment(name)
    except KeyError as exc:
        raise ConfigError(f"{cfg.config_path}: activation.segments: {exc.args[0]}") from exc
    features = Lakehouse(cfg.lakehouse).read_or_none(spark, "gold", "customer_features")
    if features is None:
        raise PrivacyError("gold.customer_features does not exist: run 'unify features' first")
    snapshot = latest_snapshot(features, as_of)
    try:
        members = features.where(F.col("as_of") == F.lit(snapshot)).where(F.expr(segment.where))
        members.schema  # noqa: B018 - analyse now, to report a bad condition clearly
    except AnalysisException as exc:
        raise ConfigError(
            f"{cfg.config_path}: activation.segments[{name}].where: does not fit "
            f"gold.customer_features: {str(exc).splitlines()[0]}"
        ) from exc
    return members, snapshot


def _consent(channel: str, cfg: AppConfig) -> tuple[Column, Column]:
    """(consent true, opted out) for a channel."""
    if channel != "ads":
        col = F.col(f"p.consent_{channel}")
        return col.eqNullSafe(True), col.eqNullSafe(False)
    ads = cfg.activation.exports.ads
    cols = [F.col(f"p.consent_{c}") for c in ads.consent_channels]
    if ads.consent_mode == "all":
        ok = F.lit(True)
        for c in cols:
            ok = ok & c.eqNullSafe(True)
    else:
        ok = F.lit(False)
        for c in cols:
            ok = ok | c.eqNullSafe(True)
    out = F.lit(False)
    for c in cols:
        out = out | c.eqNullSafe(False)
    # opted out: refused on a channel the audience needs (and not allowed by another, for any)
    return ok, (~ok & out)


def contact_email() -> Column:
    """The address to send to: as delivered when valid, else the normalised one."""
    return F.when(F.col("p.email").isNotNull(), F.coalesce(F.col("p.email_raw"), F.col("p.email")))


def _hashed_columns(convention: str) -> dict[str, Column]:
    phone = F.coalesce(F.col("p.mobile"), F.col("p.phone"))
    return {
        "email_sha256": sha256(ads_email(contact_email(), convention)),
        "phone_sha256": sha256(ads_phone(phone, convention)),
        "first_name_sha256": sha256(ads_name(F.col("p.first_name"), convention)),
        "last_name_sha256": sha256(ads_name(F.col("p.last_name"), convention)),
        "postal_code_sha256": sha256(ads_postal_code(F.col("p.postal_code"))),
        "country_sha256": sha256(ads_country(F.col("p.country"))),
    }


def _contact_ok(channel: str, hashed: dict[str, Column]) -> Column:
    if channel == "email":
        return F.col("p.email").isNotNull()
    if channel == "sms":
        return F.col("p.mobile").isNotNull()
    if channel == "post":
        return F.col("p.address_valid").eqNullSafe(True)
    return hashed["email_sha256"].isNotNull() | hashed["phone_sha256"].isNotNull()


def _suppressed(spark: SparkSession, lh: Lakehouse, profiles: DataFrame) -> DataFrame | None:
    """``customer_id`` of profiles whose email, phone or mobile is on the suppression list."""
    supp = read_suppression(spark, lh)
    if supp is None:
        return None
    ids = profiles.select(
        "customer_id",
        F.explode(
            F.array(
                F.struct(F.lit("email").alias("kind"), suppression_hash(F.col("email")).alias("h")),
                F.struct(F.lit("phone").alias("kind"), suppression_hash(F.col("phone")).alias("h")),
                F.struct(
                    F.lit("phone").alias("kind"), suppression_hash(F.col("mobile")).alias("h")
                ),
            )
        ).alias("x"),
    ).select("customer_id", F.col("x.kind").alias("kind"), F.col("x.h").alias("hash"))
    return (
        ids.join(F.broadcast(supp.select("kind", "hash")), ["kind", "hash"], "left_semi")
        .select("customer_id")
        .distinct()
    )


def output_columns(cfg: AppConfig, channel: str, hashed: bool) -> list[str]:
    """Names of the columns of an export."""
    cols = list(cfg.activation.exports.columns[channel])  # type: ignore[index]
    if hashed:
        out: list[str] = []
        for c in cols:
            name = HASHED_NAMES.get(c, c)
            if name not in out:
                out.append(name)
        cols = out
    return cols


@dataclass
class Export:
    """An export before it is written."""

    rows: DataFrame  # the file's rows
    excluded: dict[str, int]  # members, exported, and one count per exclusion reason
    as_of: date  # feature snapshot used
    columns: list[str]
    _cached: DataFrame

    def release(self) -> None:
        """Free the cached member rows."""
        self._cached.unpersist()


def build_export(
    spark: SparkSession,
    cfg: AppConfig,
    segment: str,
    channel: str,
    *,
    hashed: bool | None = None,
    as_of: date | None = None,
) -> Export:
    """The rows of an export (not written), the exclusion counts, the snapshot and columns.

    Raises:
        ConfigError: unknown segment, bad condition, unknown column.
        PrivacyError: missing tables, unknown channel.
    """
    from unification.lakehouse import Lakehouse

    if channel not in EXPORT_CHANNELS:
        raise PrivacyError(f"unknown channel {channel!r}; expected one of {EXPORT_CHANNELS}")
    hashed = channel == "ads" if hashed is None else (hashed or channel == "ads")
    lh = Lakehouse(cfg.lakehouse)
    members, snapshot = segment_members(spark, cfg, segment, as_of)
    profiles = lh.read_or_none(spark, "gold", "golden_profiles")
    if profiles is None:
        raise PrivacyError("gold.golden_profiles does not exist: run 'unify survive' first")
    convention = cfg.activation.exports.ads.convention
    hashes = _hashed_columns(convention)
    consent_ok, opted_out = _consent(channel, cfg)
    suppressed = _suppressed(spark, lh, profiles)

    joined = members.alias("f").join(
        profiles.alias("p"), F.col("f.customer_id") == F.col("p.customer_id"), "left"
    )
    if suppressed is not None:
        joined = joined.join(
            suppressed.select(F.col("customer_id").alias("_supp_id")).alias("s"),
            F.col("f.customer_id") == F.col("_supp_id"),
            "left",
        )
        is_suppressed = F.col("_supp_id").isNotNull()
    else:
        is_suppressed = F.lit(False)
    reason = (
        F.when(F.col("p.customer_id").isNull(), F.lit("no_profile"))
        .when(is_suppressed, F.lit("suppressed"))
        .when(opted_out, F.lit("opted_out"))
        .when(~consent_ok, F.lit("no_consent"))
        .when(~_contact_ok(channel, hashes), F.lit("no_contact"))
    )
    staged = joined.withColumn("_exclusion", reason).cache()
    stats = staged.groupBy("_exclusion").count().collect()
    counts = {r["_exclusion"]: int(r["count"]) for r in stats}
    excluded = {k: counts.get(k, 0) for k in EXCLUSION_REASONS}
    excluded["members"] = sum(counts.values())
    excluded["exported"] = counts.get(None, 0)

    profile_cols = set(profiles.columns)
    feature_cols = set(members.columns)
    selected: list[Column] = []
    names = output_columns(cfg, channel, hashed)
    masking = cfg.activation.exports.masking
    for name in names:
        if name in hashes:
            col = hashes[name]
        elif name == "email":
            col = contact_email()
        elif name == "customer_id":
            col = F.col("f.customer_id")
        elif name in profile_cols:
            col = F.col(f"p.`{name}`")
        elif name in feature_cols:
            col = F.col(f"f.`{name}`")
        else:
            staged.unpersist()
            raise ConfigError(
                f"{cfg.config_path}: activation.exports.columns.{channel}: unknown column "
                f"{name!r} (not in gold.golden_profiles, the features, or "
                f"{sorted(hashes)})"
            )
        mode = masking.get(name, "keep")
        final = masked(name, col, mode, convention) if not name.endswith("_sha256") else col
        if final is not None:
            selected.append(final.alias(name))
    if not selected:
        staged.unpersist()
        raise ConfigError(f"{cfg.config_path}: activation.exports.masking drops every column")
    rows = staged.where(F.col("_exclusion").isNull()).select(*selected)
    if channel == "ads":
        # an audience is a set of people: one row per distinct identifier set
        rows = rows.dropDuplicates()
    kept = [n for n in names if masking.get(n, "keep") != "drop"]
    return Export(rows, excluded, snapshot, kept, staged)


def run_export(
    spark: SparkSession,
    cfg: AppConfig,
    segment: str,
    channel: str,
    run_id: str,
    *,
    hashed: bool | None = None,
    fmt: str | None = None,
    out_dir: str | Path | None = None,
    as_of: date | None = None,
) -> dict[str, Any]:
    """Write the export file of ``segment`` for ``channel`` and log it in ``ops.export_log``.

    Returns:
        Counts for the run log: ``members``, ``exported``, one count per exclusion reason,
        ``path``, ``as_of``, ``hashed``, ``format``.
    """
    from unification.lakehouse import Lakehouse

    lh = Lakehouse(cfg.lakehouse)
    fmt = fmt or cfg.activation.exports.format
    is_hashed = channel == "ads" if hashed is None else (hashed or channel == "ads")
    export = build_export(spark, cfg, segment, channel, hashed=hashed, as_of=as_of)
    excluded, snapshot = export.excluded, export.as_of
    base = Path(out_dir).resolve() if out_dir else exports_dir(cfg)
    target = base / segment / f"{segment}_{channel}_{run_id}"
    sort_by = [c for c in ("customer_id", *export.columns) if c in export.rows.columns][:1]
    try:
        path = write_single_file(export.rows, str(target), fmt, sort_by=sort_by)
    finally:
        export.release()
    at = datetime.now(timezone.utc).replace(tzinfo=None)
    log = spark.createDataFrame(
        [
            (
                run_id,
                segment,
                channel,
                snapshot,
                is_hashed,
                fmt,
                path,
                excluded["exported"],
                {k: v for k, v in excluded.items() if k in EXCLUSION_REASONS},
                at,
            )
        ],
        EXPORT_LOG,
    )
    layer, table = EXPORT_LOG_TABLE
    lh.write(log, layer, table, mode="append", run_id=run_id)
    metrics: dict[str, Any] = {
        "segment": segment,
        "channel": channel,
        "as_of": snapshot.isoformat(),
        "hashed": is_hashed,
        "format": fmt,
        "path": path,
        **excluded,
    }
    logger.info(
        "export %s/%s: %d of %d member(s) exported",
        segment,
        channel,
        excluded["exported"],
        excluded["members"],
    )
    return metrics
