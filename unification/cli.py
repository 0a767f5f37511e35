"""The ``unify`` command line (typer + rich progress).

Every pipeline stage is a sub-command (``unify ingest``, ``unify match``...), ``unify run``
runs them all, ``unify demo`` generates the demo data and runs everything on the embedded
default configuration. Run ``unify --help`` for the list.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from unification.config import AppConfig, load_config
from unification.errors import UnificationError

app = typer.Typer(
    name="unify",
    help="Customer data unification on Spark, Delta Lake and Splink.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
decide_app = typer.Typer(help="Record human match decisions (must-link / cannot-link).")
app.add_typer(decide_app, name="decide")

console = Console(stderr=True)
logger = logging.getLogger("unification.cli")

ConfOpt = Annotated[
    Path, typer.Option("--conf", "-c", help="run configuration YAML", envvar="UNIFY_CONF")
]
LakehouseOpt = Annotated[
    Path | None, typer.Option("--lakehouse", help="override lakehouse.root (local folder)")
]
IncrementalOpt = Annotated[
    bool | None,
    typer.Option(
        "--incremental/--full",
        help="process only new bronze batches (run.mode: incremental); default: run.mode",
        show_default=False,
    ),
]
DEFAULT_CONF = Path("conf/demo.yml")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for noisy in ("py4j", "pyspark", "splink", "urllib3", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from unification.privacy.hygiene import install_log_redaction

    install_log_redaction()  # logs carry counts: anything email- or phone-shaped is masked


def _load(
    conf: Path,
    lakehouse: Path | None = None,
    extra: dict[str, Any] | None = None,
    incremental: bool | None = None,
) -> AppConfig:
    overrides: dict[str, Any] = dict(extra or {})
    if lakehouse is not None:
        overrides.setdefault("lakehouse", {})["root"] = str(lakehouse)
    if incremental is not None:
        overrides.setdefault("run", {})["mode"] = "incremental" if incremental else "full"
    return load_config(conf, overrides=overrides or None)


@contextmanager
def _session(cfg: AppConfig) -> Iterator[Any]:
    """The run's SparkSession (left running: the JVM exits with the process)."""
    from unification.spark import build_session

    with console.status("Starting Spark (first run resolves Delta's jars from Maven Central)..."):
        spark = build_session(cfg)
    yield spark


def _fail(exc: BaseException) -> None:
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2)


def _print_metrics(title: str, metrics: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    for key, value in metrics.items():
        text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
        table.add_row(key, text if len(text) < 200 else text[:197] + "...")
    console.print(table)


def _run_stages(cfg: AppConfig, stages: list[str] | None, wait: bool) -> list[Any]:
    from unification.pipeline import STAGES, StageResult, run_pipeline

    names = stages or [s.name for s in STAGES]
    summaries = {s.name: s.summary for s in STAGES}
    started: dict[str, float] = {}

    def on_start(name: str) -> None:
        started[name] = time.perf_counter()
        console.print(f"[bold cyan]▶ {name}[/] [dim]{summaries.get(name, '')}[/]")

    def on_end(result: StageResult) -> None:
        shown = {k: v for k, v in result.metrics.items() if not isinstance(v, dict | list)}
        brief = ", ".join(f"{k}={v}" for k, v in list(shown.items())[:6])
        console.print(f"  [green]✓ {result.stage}[/] in {result.seconds:.1f}s [dim]{brief}[/]")

    with _session(cfg) as spark:
        return run_pipeline(
            spark, cfg, stages=names, wait=wait, on_stage_start=on_start, on_stage_end=on_end
        )


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    _setup_logging(verbose)


# --------------------------------------------------------------------------- data
@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="output folder")] = Path("data/demo"),
    persons: Annotated[int, typer.Option(help="number of persons")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed")] = 42,
    chunk_persons: Annotated[int, typer.Option(help="persons per written chunk")] = 50_000,
) -> None:
    """Generate synthetic multi-source extracts with ground truth (no Spark needed)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from unification.synthetic import generate as gen

    with Progress(
        TextColumn("[cyan]generating"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} persons"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("gen", total=persons)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        summary = gen(
            out, n_persons=persons, seed=seed, chunk_persons=chunk_persons, progress=on_progress
        )
    console.print(
        f"[green]✓[/] {summary.n_persons} persons, {summary.n_source_records} source records in {out}"
    )


@app.command("split-delta")
def split_delta_cmd(
    out: Annotated[Path, typer.Option(help="folder receiving the delta delivery")],
    conf: ConfOpt = DEFAULT_CONF,
    data: Annotated[
        Path | None, typer.Option(help="generated data folder (default: data_root)")
    ] = None,
    fraction: Annotated[float, typer.Option(help="share of identity records held back")] = 0.01,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
) -> None:
    """Hold back a share of the identity records as a later delta delivery (incremental runs).

    Rewrites the data folder without them and writes them, with updated copies of some other
    records, to OUT. Copy OUT's files into the data folder to deliver them, then run
    `unify run --incremental`.
    """
    from unification.synthetic.delta import split_delta

    try:
        cfg = _load(conf)
        root = data or Path(cfg.data_root)
        summary = split_delta(cfg, root, out, fraction=fraction, seed=seed)
    except (UnificationError, ValueError) as exc:
        _fail(exc)
        return
    for key in sorted(summary.new):
        console.print(f"  {key}: {summary.new[key]} new, {summary.changed[key]} changed")
    console.print(f"[green]✓[/] delta of {summary.total} rows in {out}")


# --------------------------------------------------------------------------- stages
def _stage_command(name: str, doc: str) -> None:
    def command(
        conf: ConfOpt = DEFAULT_CONF,
        lakehouse: LakehouseOpt = None,
        wait: Annotated[bool, typer.Option(help="wait for a concurrent run")] = False,
        incremental: IncrementalOpt = None,
    ) -> None:
        try:
            cfg = _load(conf, lakehouse, incremental=incremental)
            results = _run_stages(cfg, [name], wait)
            _print_metrics(name, results[0].metrics)
        except UnificationError as exc:
            _fail(exc)

    command.__doc__ = doc
    app.command(name=name)(command)


for _name, _doc in (
    ("ingest", "Ingest source extracts declared in conf into bronze (quarantine bad rows)."),
    ("standardise", "Standardise bronze identity records into silver.person_records."),
    ("match", "Score pairs with the saved Splink model and cluster them (silver)."),
    ("identify", "Assign stable customer ids; write gold.identity_graph and id history."),
    ("survive", "Build golden profiles (survivorship, provenance, consent) in gold."),
    ("interactions", "Build gold orders, order lines and the interaction timeline."),
    ("features", "Compute customer features and lifecycle transitions as of run.as_of."),
    ("report", "Write the HTML run report (data quality, matching, ids, segments, features)."),
):
    _stage_command(_name, _doc)


@app.command()
def run(
    conf: ConfOpt = DEFAULT_CONF,
    lakehouse: LakehouseOpt = None,
    stages: Annotated[
        str | None, typer.Option(help="comma-separated subset of stages, in pipeline order")
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="wait for a concurrent run instead of refusing")
    ] = False,
    incremental: IncrementalOpt = None,
) -> None:
    """Run the whole pipeline (or --stages) under one run id."""
    try:
        cfg = _load(conf, lakehouse, incremental=incremental)
        selected = [s.strip() for s in stages.split(",")] if stages else None
        results = _run_stages(cfg, selected, wait)
        console.print(f"[bold green]done[/]: {len(results)} stage(s)")
    except (UnificationError, ValueError) as exc:
        _fail(exc)


@app.command()
def train(conf: ConfOpt = DEFAULT_CONF, lakehouse: LakehouseOpt = None) -> None:
    """Estimate the Splink model on silver.person_records and save it under conf/models/."""
    from unification.lakehouse import Lakehouse
    from unification.matching import train_model
    from unification.runlog import new_run_id, stage_run

    try:
        cfg = _load(conf, lakehouse)
        run_id = new_run_id()
        with (
            _session(cfg) as spark,
            stage_run(spark, Lakehouse(cfg.lakehouse), run_id, "train") as rec,
        ):
            with console.status("Training the Splink model (u sampling, EM)..."):
                rec.metrics.update(train_model(spark, cfg, run_id))
        _print_metrics("train", rec.metrics)
    except UnificationError as exc:
        _fail(exc)


@app.command()
def evaluate(
    conf: ConfOpt = DEFAULT_CONF,
    lakehouse: LakehouseOpt = None,
    truth: Annotated[
        Path | None, typer.Option(help="truth parquet (source, source_id, person_id)")
    ] = None,
) -> None:
    """Pairwise and B-cubed precision / recall / F1 of the clusters against a truth mapping."""
    from unification.lakehouse import Lakehouse
    from unification.matching import evaluate as evaluate_clusters
    from unification.runlog import new_run_id, stage_run

    try:
        cfg = _load(conf, lakehouse)
        truth_path = str(truth) if truth else cfg.run.truth_path
        if not truth_path:
            raise typer.BadParameter("give --truth PATH or set run.truth_path in the config")
        run_id = new_run_id()
        with (
            _session(cfg) as spark,
            stage_run(spark, Lakehouse(cfg.lakehouse), run_id, "evaluate") as rec,
        ):
            rec.metrics.update(evaluate_clusters(spark, cfg, truth_path, run_id))
        _print_metrics("evaluation", rec.metrics)
    except UnificationError as exc:
        _fail(exc)


def _decide(
    kind: str, left: str, right: str, reason: str, conf: Path, lakehouse: Path | None
) -> None:
    from unification.identity import add_decision

    try:
        cfg = _load(conf, lakehouse)
        with _session(cfg) as spark:
            add_decision(spark, cfg, kind, left, right, reason)  # type: ignore[arg-type]
        console.print(f"[green]✓[/] {kind} {left} {right} recorded; applied at the next identify")
    except UnificationError as exc:
        _fail(exc)


@decide_app.command("must-link")
def must_link(
    left: Annotated[str, typer.Argument(help="record: source:source_id")],
    right: Annotated[str, typer.Argument(help="record: source:source_id")],
    reason: Annotated[str, typer.Option(help="why (kept with the decision)")],
    conf: ConfOpt = DEFAULT_CONF,
    lakehouse: LakehouseOpt = None,
) -> None:
    """Two records are the same person, whatever the model says."""
    _decide("must_link", left, right, reason, conf, lakehouse)


@decide_app.command("cannot-link")
def cannot_link(
    left: Annotated[str, typer.Argument(help="record: source:source_id")],
    right: Annotated[str, typer.Argument(help="record: source:source_id")],
    reason: Annotated[str, typer.Option(help="why (kept with the decision)")],
    conf: ConfOpt = DEFAULT_CONF,
    lakehouse: LakehouseOpt = None,
) -> None:
    """Two records are different persons: they never share a customer id."""
    _decide("cannot_link", left, right, reason, conf, lakehouse)


@decide_app.command("list")
def list_decisions_cmd(
    conf: ConfOpt = DEFAULT_CONF,
    lakehouse: LakehouseOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="include revoked decisions")] = False,
) -> None:
    """List the recorded decisions."""
    from unification.identity import list_decisions

    try:
        cfg = _load(conf, lakehouse)
        with _session(cfg) as spark:
            rows = list_decisions(spark, cfg, active_only=not all_).collect()
        table = Table("decision_id", "kind", "left", "right", "reason", "active")
        for r in rows:
            table.add_row(
                r["decision_id"],
                r["kind"],
                r["record_key_l"],
                r["record_key_r"],
                r["reason"],
                str(r["active"]),
            )
        console.print(table)
    except UnificationError as exc:
        _fail(exc)


# --------------------------------------------------------------------------- demo
@app.command()
def demo(
    conf: ConfOpt = DEFAULT_CONF,
    persons: Annotated[int, typer.Option(help="persons to generate if no data yet")] = 20_000,
    seed: Annotated[int, typer.Option(help="generator seed")] = 42,
) -> None:
    """Generate the demo data (if absent) and run the whole pipeline on the embedded default."""
    try:
        cfg = _load(conf)
        data_root = Path(cfg.data_root)
        if not (data_root / "_truth" / "person_map.parquet").exists():
            console.rule("[bold]1/3 generate demo data")
            generate(out=data_root, persons=persons, seed=seed, chunk_persons=50_000)
        else:
            console.print(f"[dim]demo data already in {data_root} (delete it to regenerate)[/]")
        console.rule("[bold]2/3 run the pipeline")
        t0 = time.perf_counter()
        _run_stages(cfg, None, wait=False)
        console.rule("[bold]3/3 evaluate against the ground truth")
        evaluate(conf=conf, lakehouse=None, truth=None)
        console.rule(f"[bold green]demo done in {time.perf_counter() - t0:.0f}s")
        _what_to_look_at(cfg)
    except UnificationError as exc:
        _fail(exc)


def _what_to_look_at(cfg: AppConfig) -> None:
    root = Path(cfg.lakehouse.root)
    lines = [
        f"Lakehouse: [bold]{root}[/] (bronze/, silver/, gold/, ops/run_log)",
        f"  golden profiles   {root / 'gold' / 'golden_profiles'}",
        f"  identity graph    {root / 'gold' / 'identity_graph'}",
        f"  customer features {root / 'gold' / 'customer_features'}",
        "Open any table with Spark, or without it: "
        "python -c \"import deltalake; print(deltalake.DeltaTable('"
        f"{root / 'gold' / 'golden_profiles'}').to_pandas().head())\"",
    ]
    report_dir = Path(cfg.run.report_dir)
    reports = sorted(report_dir.glob("*.html")) if report_dir.is_dir() else []
    if reports:
        lines.insert(0, f"Run report: [bold]{reports[-1]}[/]")
    console.print("\n".join(lines))


@app.command("spark-submit-args")
def spark_submit_args() -> None:
    """Print the --packages / --jars / --conf arguments spark-submit needs for these jobs."""
    from unification.spark import (
        DELTA_CATALOG,
        DELTA_EXTENSION,
        delta_maven_coordinates,
        splink_jar_path,
    )

    sys.stdout.write(
        f"--packages {delta_maven_coordinates()} --jars {splink_jar_path()} "
        f"--conf spark.sql.extensions={DELTA_EXTENSION} "
        f"--conf spark.sql.catalog.spark_catalog={DELTA_CATALOG}\n"
    )


# --------------------------------------------------------------------------- privacy, activation
def _privacy_command(
    cfg: AppConfig, stage: str, work: Any, *, lock: bool, wait: bool = False
) -> dict[str, Any]:
    """Run ``work(spark, run_id) -> metrics`` logged as ``stage`` in ops.run_log (under the
    lakehouse run lock when ``lock``), with PII redaction on the log handlers."""
    from unification.lakehouse import Lakehouse
    from unification.pipeline import run_lock
    from unification.privacy.hygiene import install_log_redaction
    from unification.runlog import new_run_id, stage_run

    install_log_redaction()
    run_id = new_run_id()
    with _session(cfg) as spark:
        if lock:
            with (
                run_lock(cfg, wait=wait),
                stage_run(spark, Lakehouse(cfg.lakehouse), run_id, stage) as rec,
            ):
                rec.metrics.update(work(spark, run_id))
        else:
            with stage_run(spark, Lakehouse(cfg.lakehouse), run_id, stage) as rec:
                rec.metrics.update(work(spark, run_id))
    metrics = dict(rec.metrics)
    metrics.setdefault("run_id", run_id)
    return metrics


@app.command()
def erase(
    email: Annotated[
        list[str] | None, typer.Option("--email", help="email address (repeatable)")
    ] = None,
    phone: Annotated[list[str] | None, typer.Option("--phone", help="phone number")] = None,
    customer_id: Annotated[
        list[str] | None, typer.Option("--customer-id", help="customer id")
    ] = None,
    record: Annotated[
        list[str] | None,
        typer.Option("--record", help="one record: source:entity:source_id (or source:id)"),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(help="CSV of requests, kind,value[,request_id] (keeps ids out of history)"),
    ] = None,
    request_id: Annotated[
        str | None, typer.Option(help="your ticket id, kept in ops.erasure_log")
    ] = None,
    scope: Annotated[
        str | None,
        typer.Option(help="customer (default: every record of the customer) or records"),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="resolve and count, delete nothing")] = False,
    force: Annotated[
        bool, typer.Option(help="allow an identifier shared by more than 5 customers")
    ] = False,
    purge: Annotated[
        bool, typer.Option(help="then VACUUM with 0 hours: old versions gone at once")
    ] = False,
    conf: ConfOpt = DEFAULT_CONF,
    lakehouse: LakehouseOpt = None,
    wait: Annotated[bool, typer.Option(help="wait for a concurrent run")] = False,
) -> None:
    """Erase a person everywhere (GDPR art. 17), re-derive ids and profiles, suppress them."""
    from unification.privacy.erase import erase as erase_persons
    from unification.privacy.erase import read_requests, requests_from_options

    try:
        if scope not in (None, "customer", "records"):
            raise typer.BadParameter("--scope is customer or records")
        cfg = _load(conf, lakehouse)
        requests = requests_from_options(
            emails=email or [],
            phones=phone or [],
            customer_ids=customer_id or [],
            records=record or [],
            request_id=request_id,
        )
        if from_file is not None:
            requests += read_requests(str(from_file))
        if not requests:
            raise typer.BadParameter(
                "give --email, --phone, --customer-id, --record or --from-file"
            )

        def work(spark: Any, run_id: str) -> dict[str, Any]:
            with console.status("Erasing (resolve, delete, re-cluster, identify, survive)..."):
                result = erase_persons(
                    spark, cfg, requests, run_id, scope=scope, dry_run=dry_run, force=force
                )
            metrics = result.metrics()
            if purge and not dry_run:
                from unification.privacy.vacuum import run_vacuum

                with console.status("VACUUM RETAIN 0 HOURS on every table..."):
                    vac = run_vacuum(spark, cfg, run_id, retain_hours=0, force=True)
                metrics["purged_files"] = vac["files_removed"]
            return metrics

        metrics = _privacy_command(cfg, "erase", work, lock=True, wait=wait)
        _print_metrics("erase (dry run)" if dry_run else "erase", metrics)
        console.print(
            f"[green]✓[/] {len(requests)} request(s); audit in ops.erasure_log "
            f"(request ids: {', '.join(r.request_id for r in requests)[:300]})"
        )
    except UnificationError as exc:
        _fail(exc)


@app.command()
def export(
    segment: Annotated[str, typer.Option(help="segment name (activation.segments)")],
    channel: Annotated[str, typer.Option(help="email, sms, post or ads")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or parquet (default from conf)")
    ] = None,
    hashed: Annotated[
        bool | None,
        typer.Option("--hashed/--plain", help="SHA-256 identifiers (always for ads)"),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="output folder")] = None,
    as_of: Annotated[
        str | None, typer.Option(help="feature snapshot YYYY-MM-DD (default latest)")
    ] = None,
    conf: ConfOpt = DEFAULT_CONF,
    lakehouse: LakehouseOpt = None,
) -> None:
    """Export a segment's contactable, consenting customers for a channel (CSV or Parquet)."""
    from datetime import date

    from unification.privacy.export import run_export

    try:
        if channel not in ("email", "sms", "post", "ads"):
            raise typer.BadParameter("--channel is email, sms, post or ads")
        if fmt not in (None, "csv", "parquet"):
            raise typer.BadParameter("--format is csv or parquet")
        cfg = _load(conf, lakehouse)
        snapshot = date.fromisoformat(as_of) if as_of else None

        def work(spark: Any, run_id: str) -> dict[str, Any]:
            return run_export(
                spark,
                cfg,
                segment,
                channel,
                run_id,
                hashed=hashed,
                fmt=fmt,
                out_dir=out,
                as_of=snapshot,
            )

        metrics = _privacy_command(cfg, "export", work, lock=False)
        _print_metrics(f"export {segment} / {channel}", metrics)
    except (UnificationError, ValueError) as exc:
        _fail(exc)


@app.command("sync-back")
def sync_back(
    source: Annotated[
        list[str] | None, typer.Option("--source", help="only this source (repeatable)")
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv or parquet")] = None,
    out: Annotated[Path | None, typer.Option(help="output folder")] = None,
    conf: ConfOpt = DEFAULT_CONF,
    lakehouse: LakehouseOpt = None,
    wait: Annotated[bool, typer.Option(help="wait for a concurrent run")] = False,
) -> None:
    """Write, per source system, the corrections the golden records imply since its last feed."""
    from unification.privacy.syncback import run_sync_back

    try:
        if fmt not in (None, "csv", "parquet"):
            raise typer.BadParameter("--format is csv or parquet")
        cfg = _load(conf, lakehouse)

        def work(spark: Any, run_id: str) -> dict[str, Any]:
            return run_sync_back(spark, cfg, run_id, sources=source or None, fmt=fmt, out_dir=out)

        metrics = _privacy_command(cfg, "sync_back", work, lock=True, wait=wait)
        table = Table("source", "mode", "from version", "to version", "rows", "file")
        for name, m in sorted(metrics.get("sources", {}).items()):
            table.add_row(
                name,
                str(m["mode"]),
                str(m["from_version"]),
                str(m["to_version"]),
                str(m["rows"]),
                str(m["path"]),
            )
        console.print(table)
    except UnificationError as exc:
        _fail(exc)


@app.command()
def vacuum(
    retain_hours: Annotated[
        float | None,
        typer.Option(help="keep files of versions younger than this (default from conf: 168)"),
    ] = None,
    force: Annotated[bool, typer.Option(help="allow a retention below 168 hours")] = False,
    set_retention: Annotated[
        bool,
        typer.Option(help="set delta.deletedFileRetentionDuration / logRetentionDuration first"),
    ] = False,
    exports: Annotated[
        bool, typer.Option("--exports/--no-exports", help="also delete expired export files")
    ] = True,
    layer: Annotated[
        list[str] | None,
        typer.Option("--layer", help="only this layer: bronze, silver, gold, ops (repeatable)"),
    ] = None,
    conf: ConfOpt = DEFAULT_CONF,
    lakehouse: LakehouseOpt = None,
    wait: Annotated[bool, typer.Option(help="wait for a concurrent run")] = False,
) -> None:
    """VACUUM every Delta table: purge files of old versions (erased rows included)."""
    from unification.privacy.vacuum import run_vacuum

    try:
        cfg = _load(conf, lakehouse)

        def work(spark: Any, run_id: str) -> dict[str, Any]:
            return run_vacuum(
                spark,
                cfg,
                run_id,
                retain_hours=retain_hours,
                force=force,
                set_retention=set_retention,
                exports=exports,
                layers=layer or None,
            )

        _print_metrics("vacuum", _privacy_command(cfg, "vacuum", work, lock=True, wait=wait))
    except UnificationError as exc:
        _fail(exc)


@app.command()
def segments(conf: ConfOpt = DEFAULT_CONF, lakehouse: LakehouseOpt = None) -> None:
    """List the segments of activation.segments with their size in the latest snapshot."""
    from unification.privacy.export import segment_members

    try:
        cfg = _load(conf, lakehouse)
        table = Table("segment", "members", "as of", "where")
        with _session(cfg) as spark:
            for seg in cfg.activation.segments:
                members, as_of = segment_members(spark, cfg, seg.name)
                table.add_row(seg.name, str(members.count()), str(as_of), seg.where)
        console.print(table)
    except UnificationError as exc:
        _fail(exc)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
