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


def _load(
    conf: Path, lakehouse: Path | None = None, extra: dict[str, Any] | None = None
) -> AppConfig:
    overrides: dict[str, Any] = dict(extra or {})
    if lakehouse is not None:
        overrides.setdefault("lakehouse", {})["root"] = str(lakehouse)
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


# --------------------------------------------------------------------------- stages
def _stage_command(name: str, doc: str) -> None:
    def command(
        conf: ConfOpt = DEFAULT_CONF,
        lakehouse: LakehouseOpt = None,
        wait: Annotated[bool, typer.Option(help="wait for a concurrent run")] = False,
    ) -> None:
        try:
            cfg = _load(conf, lakehouse)
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
) -> None:
    """Run the whole pipeline (or --stages) under one run id."""
    try:
        cfg = _load(conf, lakehouse)
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


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
