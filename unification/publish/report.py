"""The run report: one self-contained HTML file per run, with charts (matplotlib, embedded PNG).

Everything is aggregated in Spark; only small aggregates reach the driver. The report carries
counts and rates, never a name, email or phone. Sections whose tables do not exist yet (a
stage not run) say so instead of failing.

Output: ``<run.report_dir>/run_<run_id>.html`` and a copy at ``<run.report_dir>/latest.html``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import shutil
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from unification.config import AppConfig
from unification.lakehouse import Lakehouse, Layer
from unification.privacy.hygiene import redact

logger = logging.getLogger(__name__)

CONTACT_FIELDS = ("email", "phone", "mobile", "postal_code", "birth_date")


def _chart_bar(labels: list[str], values: list[float], title: str, xlabel: str = "") -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    ax.bar([str(x) for x in labels], values, color="#3b6ea5")
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    ax.tick_params(axis="x", labelrotation=45 if len(labels) > 6 else 0, labelsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}"/>'


def _table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return "<p class='na'>no rows</p>"
    cols = columns or list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for row in rows:
        cells = []
        for c in cols:
            v = row.get(c)
            if isinstance(v, float):
                v = f"{v:,.3f}" if abs(v) < 1000 else f"{v:,.0f}"
            cells.append(f"<td>{html.escape('' if v is None else str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _rows(df: DataFrame, limit: int = 200) -> list[dict[str, Any]]:
    return [r.asDict() for r in df.limit(limit).collect()]


def _histogram(df: DataFrame, column: str, bins: int = 20) -> tuple[list[str], list[float]]:
    """Histogram computed in Spark (min/max then bucket counts): two small actions."""
    stats = df.select(F.min(column).alias("lo"), F.max(column).alias("hi")).first()
    if stats is None or stats["lo"] is None:
        return [], []
    lo, hi = float(stats["lo"]), float(stats["hi"])
    width = (hi - lo) / bins if hi > lo else 1.0
    bucket = F.least(F.floor((F.col(column).cast("double") - lo) / width), F.lit(bins - 1))
    counts = {
        int(r["b"]): int(r["n"])
        for r in df.where(F.col(column).isNotNull())
        .select(bucket.alias("b"))
        .groupBy("b")
        .agg(F.count("*").alias("n"))
        .collect()
    }
    labels = [f"{lo + i * width:.3g}" for i in range(bins)]
    return labels, [float(counts.get(i, 0)) for i in range(bins)]


class _Report:
    def __init__(self, spark: SparkSession, cfg: AppConfig, run_id: str) -> None:
        self.spark, self.cfg, self.run_id = spark, cfg, run_id
        self.lh = Lakehouse(cfg.lakehouse)
        self.sections: list[tuple[str, str]] = []
        self.metrics: dict[str, Any] = {}

    def table(self, layer: Layer, name: str) -> DataFrame | None:
        return self.lh.read_or_none(self.spark, layer, name)

    def section(self, title: str, build: Callable[[], str]) -> None:
        try:
            body = build()
        except Exception as exc:  # a broken section must not hide the others
            logger.warning("report section %r failed: %s", title, exc)
            message = redact(str(exc)[:300])  # an error may quote a value: never a contact
            body = f"<p class='na'>could not be built: {html.escape(type(exc).__name__)}: {html.escape(message)}</p>"
        self.sections.append((title, body))

    # ------------------------------------------------------------------ sections
    def run_summary(self) -> str:
        log = self.table("ops", "run_log")
        if log is None:
            return "<p class='na'>no run log yet</p>"
        rows = _rows(
            log.where(F.col("run_id") == self.run_id)
            .select("stage", "status", F.round("seconds", 1).alias("seconds"), "metrics_json")
            .orderBy("started_at")
        )
        for row in rows:
            try:
                metrics = json.loads(row.pop("metrics_json") or "{}")
            except json.JSONDecodeError:
                metrics = {}
            scalars = {k: v for k, v in metrics.items() if not isinstance(v, dict | list)}
            figures = ", ".join(f"{k}={v}" for k, v in list(scalars.items())[:8])
            row["key figures"] = redact(figures)  # counts only; masks anything contact-shaped
            if row["stage"] == "report" and row["status"] == "running":
                # this very stage: its run-log row is closed after the file is written
                row["status"], row["key figures"] = "writing this report", ""
        return _table(rows)

    def data_quality(self) -> str:
        parts = []
        batches = self.table("bronze", "_batches")
        if batches is not None:
            agg = (
                batches.groupBy("source", "entity")
                .agg(
                    F.count("*").alias("files"),
                    F.sum("rows_read").alias("rows_read"),
                    F.sum("rows_accepted").alias("rows_accepted"),
                    F.sum("rows_quarantined").alias("rows_quarantined"),
                    F.sum(F.when(F.col("status") != "succeeded", 1).otherwise(0)).alias(
                        "files_rejected"
                    ),
                )
                .orderBy("source", "entity")
            )
            parts.append("<h3>Ingestion and quarantine</h3>" + _table(_rows(agg)))
        people = self.table("silver", "person_records")
        if people is not None:
            exprs = [F.count("*").alias("records")]
            for c in CONTACT_FIELDS:
                exprs.append(
                    F.round(F.avg(F.col(c).isNotNull().cast("double")), 3).alias(f"{c} filled")
                )
            for c in ("email_valid", "phone_valid", "birth_date_valid", "address_valid"):
                exprs.append(
                    F.round(F.avg(F.coalesce(F.col(c), F.lit(True)).cast("double")), 3).alias(c)
                )
            quality = people.groupBy("source").agg(*exprs).orderBy("source")
            parts.append(
                "<h3>Completeness and validity of contact fields</h3>" + _table(_rows(quality))
            )
            graph = self.table("gold", "identity_graph")
            if graph is not None:
                dup = (
                    graph.groupBy("source")
                    .agg(
                        F.count("*").alias("records"),
                        F.countDistinct("customer_id").alias("customers"),
                    )
                    .withColumn(
                        "duplicate_rate", F.round(1 - F.col("customers") / F.col("records"), 4)
                    )
                    .orderBy("source")
                )
                parts.append("<h3>Duplicate rate inside each source</h3>" + _table(_rows(dup)))
        return "".join(parts) or "<p class='na'>no bronze or silver tables yet</p>"

    def match_diagnostics(self) -> str:
        parts = []
        pairs = self.table("silver", "match_pairs")
        if pairs is not None:
            labels, values = _histogram(
                pairs.where(F.col("match_weight").isNotNull()), "match_weight", 30
            )
            if labels:
                parts.append(
                    _chart_bar(labels, values, "Match weight of scored pairs", "match weight")
                )
            src_l = F.split("record_key_l", ":").getItem(0)
            src_r = F.split("record_key_r", ":").getItem(0)
            links = (
                pairs.select(
                    F.least(src_l, src_r).alias("source_a"),
                    F.greatest(src_l, src_r).alias("source_b"),
                    "match_rule",
                )
                .groupBy("source_a", "source_b", "match_rule")
                .count()
                .orderBy(F.desc("count"))
            )
            parts.append("<h3>Links per pair of sources</h3>" + _table(_rows(links)))
        clusters = self.table("silver", "record_clusters")
        if clusters is not None:
            sizes = (
                clusters.groupBy("cluster_id")
                .count()
                .groupBy(F.least(F.col("count"), F.lit(10)).alias("size"))
                .count()
                .orderBy("size")
            )
            rows = _rows(sizes)
            parts.append(
                _chart_bar(
                    [("10+" if r["size"] == 10 else str(r["size"])) for r in rows],
                    [float(r["count"]) for r in rows],
                    "Cluster sizes (records per cluster)",
                )
            )
            self.metrics["clusters"] = sum(int(r["count"]) for r in rows)
        return "".join(parts) or "<p class='na'>no match tables yet</p>"

    def id_churn(self) -> str:
        history = self.table("gold", "customer_id_history")
        if history is None:
            return "<p class='na'>no customer id history yet</p>"
        by_run = (
            history.groupBy("run_id", "event_type").count().orderBy(F.desc("run_id"), "event_type")
        )
        return _table(_rows(by_run, 60))

    def segments(self) -> str:
        features = self.table("gold", "customer_features")
        if features is None:
            return "<p class='na'>no customer features yet</p>"
        latest = features.agg(F.max("as_of")).first()
        if latest is None or latest[0] is None:
            return "<p class='na'>empty feature table</p>"
        snap = features.where(F.col("as_of") == latest[0])
        parts = [f"<p>as of <b>{latest[0]}</b></p>"]
        for col, title in (
            ("rfm_segment", "RFM segments"),
            ("lifecycle_stage", "Lifecycle stages"),
        ):
            if col in snap.columns:
                rows = _rows(snap.groupBy(col).count().orderBy(F.desc("count")))
                parts.append(
                    _chart_bar(
                        [str(r[col]) for r in rows], [float(r["count"]) for r in rows], title
                    )
                )
        transitions = self.table("gold", "lifecycle_transitions")
        if transitions is not None and {"from_stage", "to_stage"} <= set(transitions.columns):
            t = transitions
            if "as_of" in t.columns:
                t = t.where(F.col("as_of") == latest[0])
            matrix = (
                t.groupBy("from_stage").pivot("to_stage").count().fillna(0).orderBy("from_stage")
            )
            parts.append("<h3>Lifecycle transitions (from → to)</h3>" + _table(_rows(matrix)))
        return "".join(parts)

    def feature_distributions(self) -> str:
        features = self.table("gold", "customer_features")
        if features is None:
            return "<p class='na'>no customer features yet</p>"
        latest = features.agg(F.max("as_of")).first()
        if latest is None or latest[0] is None:
            return "<p class='na'>no customer features yet</p>"
        snap = features.where(F.col("as_of") == latest[0]).cache()
        parts = []
        wanted = (
            "recency_days",
            "frequency",
            "monetary",
            "clv",
            "p_alive",
            "churn_score",
            "propensity",
        )
        for col in [c for c in wanted if c in snap.columns]:
            labels, values = _histogram(snap, col, 20)
            if labels:
                parts.append(_chart_bar(labels, values, f"Distribution of {col}"))
        numeric = [
            f.name
            for f in snap.schema.fields
            if f.dataType.typeName() in ("double", "long", "integer")
        ]
        if numeric:
            summary = snap.select(numeric[:12]).summary("count", "mean", "min", "50%", "max")
            parts.append(_table(_rows(summary)))
        snap.unpersist()
        return "".join(parts) or "<p class='na'>no numeric features</p>"

    # ------------------------------------------------------------------ render
    def render(self) -> str:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        toc = "".join(
            f"<li><a href='#s{i}'>{html.escape(t)}</a></li>"
            for i, (t, _) in enumerate(self.sections)
        )
        body = "".join(
            f"<section id='s{i}'><h2>{html.escape(t)}</h2>{b}</section>"
            for i, (t, b) in enumerate(self.sections)
        )
        return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Unification run {html.escape(self.run_id)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}}
h1{{font-size:1.5em}} h2{{border-bottom:2px solid #3b6ea5;padding-bottom:.2em;margin-top:2em}}
table{{border-collapse:collapse;margin:.5em 0 1em;font-size:.85em}}
th,td{{border:1px solid #ccc;padding:.25em .6em;text-align:right}} th{{background:#eef2f7}}
td:first-child,th:first-child{{text-align:left}} .na{{color:#888;font-style:italic}}
img{{max-width:100%;margin:.5em 0}}
</style></head><body>
<h1>Customer unification: run <code>{html.escape(self.run_id)}</code></h1>
<p>Generated {now}. Lakehouse <code>{html.escape(self.cfg.lakehouse.root if self.cfg.lakehouse.catalog is None else self.cfg.lakehouse.catalog)}</code>.
Counts and rates only: this report carries no personal data.</p>
<ul>{toc}</ul>{body}</body></html>"""


def build_report(spark: SparkSession, cfg: AppConfig, run_id: str) -> str:
    """Build the HTML report of ``run_id`` and return it as a string."""
    report = _Report(spark, cfg, run_id)
    report.section("Run summary", report.run_summary)
    report.section("Data quality per source", report.data_quality)
    report.section("Match diagnostics", report.match_diagnostics)
    report.section("Customer id churn", report.id_churn)
    report.section("Segments and lifecycle", report.segments)
    report.section("Feature distributions", report.feature_distributions)
    return report.render()


def run_report(spark: SparkSession, cfg: AppConfig, run_id: str) -> dict[str, Any]:
    """Write ``run_<run_id>.html`` and ``latest.html`` under ``run.report_dir``."""
    out_dir = Path(cfg.run.report_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"run_{run_id}.html"
    text = build_report(spark, cfg, run_id)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # atomic: never a half-written report
    shutil.copyfile(path, out_dir / "latest.html")
    return {"report": str(path), "bytes": len(text.encode("utf-8"))}
