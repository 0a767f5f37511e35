"""Scale benchmark: generate, run the pipeline, compare match engines, write RESULTS.md.

One command (from the repository root, with the project's venv)::

    python -m benchmarks.run --sizes 100k,1M,5M

For each size (total source rows across the generated files):

1. ``unify generate`` with ``ceil(rows / 52.8)`` persons (52.8 source rows per person at seed
   42; the person count used and the rows actually generated are printed and recorded);
2. the whole pipeline (every stage, one Spark session) with ``matching.engine`` =
   ``--pipeline-engine`` (default ``auto``: DuckDB on this local master), each stage measured;
3. side by side, on the same standardised records (``silver.person_records`` of step 2) and the
   same trained model (``conf/models/splink_model.json``):

   * ``project-duckdb``: the project's match stage on the DuckDB engine;
   * ``project-spark``: the project's match stage on the Spark engine;
   * ``splink-duckdb``: plain Splink on DuckDB (predict + connected components);
   * ``splink-spark``: plain Splink on Spark with Splink's default options;

4. a parity check: pairs and clusters of the two project engines compared row by row.

Every step runs in its own process; wall time, CPU time (the whole process tree: Python driver,
Spark's JVM, Python workers) and peak resident memory (tree, sampled every 0.2 s) are recorded
with the load average at start and end (the machine may be shared). Raw results go to
``benchmarks/results/scale_<size>.json``; ``benchmarks/RESULTS.md`` is regenerated from all of them
plus the hand-written ``benchmarks/NOTES.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import loadavg, machine, tree_usage

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS_DIR = HERE / "results"
ROWS_PER_PERSON = 52.8  # measured: 20,000 persons -> 1,056,278 source rows (seed 42)
ENGINES = ("project-duckdb", "project-spark", "splink-duckdb", "splink-spark")


def parse_size(text: str) -> int:
    """``100k`` -> 100000, ``1M`` -> 1000000, ``2.5M``, ``250000``."""
    t = text.strip().lower()
    mult = 1
    if t.endswith("k"):
        mult, t = 1_000, t[:-1]
    elif t.endswith("m"):
        mult, t = 1_000_000, t[:-1]
    return int(float(t) * mult)


def size_label(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return str(rows)


def run_child(cmd: list[str], log: Path, interval: float = 0.2) -> dict[str, Any]:
    """Run ``cmd``; measure wall, CPU and peak RSS of its process tree from outside."""
    log.parent.mkdir(parents=True, exist_ok=True)
    load0 = loadavg()
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT)
        peak, cpu_last = 0, 0.0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak, cpu_last
            while not stop.is_set():
                cpu, rss, _n = tree_usage(proc.pid)
                peak = max(peak, rss)
                cpu_last = max(cpu_last, cpu)
                stop.wait(interval)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        rc = proc.wait()
        stop.set()
        th.join(timeout=5)
    return {
        "cmd": " ".join(cmd),
        "returncode": rc,
        "wall_s": round(time.perf_counter() - t0, 2),
        "cpu_s_sampled": round(cpu_last, 2),
        "peak_rss_mib": round(peak / 2**20, 1),
        "load_start": load0,
        "load_end": loadavg(),
        "log": str(log),
    }


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``--set a.b=v`` and ``--spark-conf k=v`` as a nested dict merged into the bench conf."""
    import yaml

    out: dict[str, Any] = {}
    for item in args.set or []:
        key, _, value = item.partition("=")
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(value)
    for item in args.spark_conf or []:
        key, _, value = item.partition("=")
        out.setdefault("spark", {}).setdefault("conf", {})[key] = value
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def write_conf(work: Path, engine: str, extra: dict[str, Any] | None = None, tag: str = "") -> Path:
    import yaml

    conf = {
        "extends": str(REPO / "conf" / "demo.yml"),
        "sources_dir": str(REPO / "conf" / "sources"),
        "models_dir": str(work / "models"),
        "data_root": str(work / "data"),
        "lakehouse": {"root": str(work / "lakehouse")},
        "run": {
            "truth_path": str(work / "data" / "_truth" / "person_map.parquet"),
            "report_dir": str(work / "reports"),
        },
        "matching": {"engine": engine},
    }
    conf = _merge(conf, extra or {})
    path = work / f"bench-{engine}{'-' + tag if tag else ''}.yml"
    path.write_text(yaml.safe_dump(conf, sort_keys=False), encoding="utf-8")
    return path


def _py() -> str:
    return sys.executable


def _generation(data: Path) -> dict[str, Any] | None:
    f = data / "_truth" / "generation.json"
    return json.loads(f.read_text()) if f.is_file() else None


def parity(spark_root: Path, duck_root: Path) -> dict[str, Any]:
    """Compare silver.match_pairs and silver.record_clusters of the two project engines."""
    import duckdb
    from deltalake import DeltaTable

    con = duckdb.connect()
    for name, root in (("s", spark_root), ("d", duck_root)):
        for table in ("match_pairs", "record_clusters"):
            arrow = DeltaTable(str(root / "silver" / table)).to_pyarrow_table()
            con.register(f"{name}_{table}", arrow)
    out: dict[str, Any] = {}
    out["records"] = con.execute("SELECT count(*) FROM s_record_clusters").fetchall()[0][0]
    out["cluster_assignments_differing"] = con.execute(
        "SELECT count(*) FROM s_record_clusters s FULL JOIN d_record_clusters d USING (record_key) "
        "WHERE s.cluster_id IS DISTINCT FROM d.cluster_id"
    ).fetchall()[0][0]
    out["clusters_spark"] = con.execute(
        "SELECT count(DISTINCT cluster_id) FROM s_record_clusters"
    ).fetchall()[0][0]
    out["clusters_duckdb"] = con.execute(
        "SELECT count(DISTINCT cluster_id) FROM d_record_clusters"
    ).fetchall()[0][0]
    out["pairs_spark"] = con.execute("SELECT count(*) FROM s_match_pairs").fetchall()[0][0]
    out["pairs_duckdb"] = con.execute("SELECT count(*) FROM d_match_pairs").fetchall()[0][0]
    row = con.execute(
        "SELECT count(*) FILTER (s.record_key_l IS NULL OR d.record_key_l IS NULL), "
        "count(*) FILTER (s.match_rule IS DISTINCT FROM d.match_rule), "
        "max(abs(s.match_weight - d.match_weight)), "
        "max(abs(s.match_probability - d.match_probability)) "
        "FROM s_match_pairs s FULL JOIN d_match_pairs d USING (record_key_l, record_key_r)"
    ).fetchall()[0]
    out["pairs_in_one_engine_only"] = row[0]
    out["match_rule_differing"] = row[1]
    out["max_abs_match_weight_diff"] = row[2]
    out["max_abs_match_probability_diff"] = row[3]
    gammas = [
        r[0]
        for r in con.execute("DESCRIBE s_match_pairs").fetchall()
        if str(r[0]).startswith("gamma_")
    ]
    if gammas:
        cond = " OR ".join(f's."{g}" IS DISTINCT FROM d."{g}"' for g in gammas)
        out["pairs_with_a_different_level"] = con.execute(
            "SELECT count(*) FROM s_match_pairs s JOIN d_match_pairs d "
            f"USING (record_key_l, record_key_r) WHERE {cond}"
        ).fetchall()[0][0]
    out["same_clusters"] = out["cluster_assignments_differing"] == 0
    con.close()
    return out


def bench_size(rows_target: int, args: argparse.Namespace) -> dict[str, Any]:
    label = size_label(rows_target)
    work = Path(args.work).resolve() / label
    logs = work / "logs"
    work.mkdir(parents=True, exist_ok=True)
    persons = math.ceil(rows_target / ROWS_PER_PERSON)
    result: dict[str, Any] = {
        "size": label,
        "target_source_rows": rows_target,
        "persons": persons,
        "seed": args.seed,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "pipeline_engine": args.pipeline_engine,
        "commands": {},
    }
    print(f"[{label}] {persons} persons (seed {args.seed}), work dir {work}", flush=True)

    data = work / "data"
    gen = _generation(data)
    if gen is None or gen.get("n_persons") != persons or gen.get("seed") != args.seed:
        shutil.rmtree(data, ignore_errors=True)
        cmd = [_py(), "-m", "unification.cli", "generate", "--out", str(data),
               "--persons", str(persons), "--seed", str(args.seed)]  # fmt: skip
        result["generate"] = run_child(cmd, logs / "generate.log")
        gen = _generation(data)
    assert gen is not None, "generation failed"
    rows = gen["rows"]
    result["source_rows"] = int(sum(rows.values()) if isinstance(rows, dict) else rows)
    result["source_rows_by_entity"] = rows
    print(f"[{label}] {result['source_rows']:,} source rows", flush=True)

    models = work / "models"
    models.mkdir(exist_ok=True)
    for f in ("splink_model.json", "training_summary.json"):
        if (REPO / "conf" / "models" / f).is_file():
            shutil.copy(REPO / "conf" / "models" / f, models / f)

    conf = write_conf(work, args.pipeline_engine, overrides(args), tag=args.tag)
    result["tag"] = args.tag
    result["overrides"] = overrides(args)
    match_input = work / "match_input.parquet"
    if "pipeline" in args.steps:
        stages = args.stages or "ingest"
        part = "" if not args.stages else "-" + args.stages.replace(",", "-")
        if "ingest" in stages:  # a later part (--stages match,...) continues on the lakehouse
            shutil.rmtree(work / "lakehouse", ignore_errors=True)
            shutil.rmtree(work / "reports", ignore_errors=True)
        out = work / f"pipeline{part}.json"
        cmd = [_py(), "-m", "benchmarks.steps", "pipeline", "--conf", str(conf), "--out", str(out),
               "--export-match-input", str(match_input)]  # fmt: skip
        if args.stages:
            cmd += ["--stages", args.stages]
        print(f"[{label}] pipeline (engine {args.pipeline_engine})...", flush=True)
        result[f"pipeline_process{part}"] = run_child(cmd, logs / f"pipeline{part}.log")
        result["commands"][f"pipeline{part}"] = " ".join(cmd)
        if result[f"pipeline_process{part}"]["returncode"] != 0:
            print(f"[{label}] pipeline FAILED, see {logs / f'pipeline{part}.log'}", flush=True)
            return result
        result["pipeline"] = json.loads(out.read_text())
        if args.stages:
            result["pipeline"]["parts"] = [args.stages]
        total = next(s for s in result["pipeline"]["spans"] if s["name"] == "pipeline_total")
        print(f"[{label}] pipeline {total['wall_s']:.1f}s (load {total['load_end']})", flush=True)

    if "engines" in args.steps:
        result["engines"] = {}
        person_records = work / "lakehouse" / "silver" / "person_records"
        for kind in args.engines:
            runs = []
            for rep in range(args.repeat):
                out = work / "engines" / f"{kind}-{rep}.json"
                if kind.startswith("project-"):
                    root = work / "engines" / kind / "lakehouse"
                    shutil.rmtree(root, ignore_errors=True)
                    shutil.copytree(person_records, root / "silver" / "person_records")
                    cmd = [_py(), "-m", "benchmarks.steps", "match", "--conf", str(conf),
                           "--out", str(out), "--engine", kind.split("-", 1)[1],
                           "--lakehouse", str(root)]  # fmt: skip
                else:
                    cmd = [_py(), "-m", "benchmarks.steps", kind, "--conf", str(conf),
                           "--out", str(out), "--input", str(match_input)]  # fmt: skip
                print(f"[{label}] {kind} run {rep + 1}/{args.repeat}...", flush=True)
                proc = run_child(cmd, logs / f"{kind}-{rep}.log")
                result["commands"][kind] = " ".join(cmd)
                entry: dict[str, Any] = {"process": proc}
                if proc["returncode"] == 0:
                    entry.update(json.loads(out.read_text()))
                else:
                    print(f"[{label}] {kind} FAILED, see {proc['log']}", flush=True)
                runs.append(entry)
                secs = _match_seconds(entry)
                print(f"[{label}] {kind}: predict+cluster {secs}", flush=True)
            result["engines"][kind] = runs
        roots = [work / "engines" / k / "lakehouse" for k in ("project-spark", "project-duckdb")]
        ran_now = {"project-spark", "project-duckdb"} & set(args.engines)
        if ran_now and all((r / "silver" / "record_clusters").is_dir() for r in roots):
            try:
                result["parity"] = parity(
                    work / "engines" / "project-spark" / "lakehouse",
                    work / "engines" / "project-duckdb" / "lakehouse",
                )
                print(f"[{label}] parity: {result['parity']}", flush=True)
            except Exception as exc:  # noqa: BLE001
                result["parity"] = {"error": str(exc)}
    result["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return result


def merge_pipeline(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Two parts of one pipeline run (``--stages`` ingest,standardise then match,...): stage
    spans of both, and a ``pipeline_total`` that sums the stages (session start-ups
    excluded)."""
    names = {s["name"] for s in new["spans"]}
    spans = [s for s in old["spans"] if s["name"] not in names | {"pipeline_total"}]
    spans += [s for s in new["spans"] if s["name"] != "pipeline_total"]
    from unification.pipeline import STAGE_NAMES

    order = {n: i for i, n in enumerate(["spark_session", *STAGE_NAMES])}
    spans.sort(key=lambda s: order.get(s["name"], 99))
    stages = [s for s in spans if s["name"] in STAGE_NAMES]
    total = {
        "name": "pipeline_total",
        "wall_s": round(sum(s["wall_s"] for s in stages), 3),
        "cpu_s": round(sum(s["cpu_s"] for s in stages), 2),
        "peak_rss_mib": max((s["peak_rss_mib"] for s in stages), default=0.0),
        "load_start": stages[0]["load_start"] if stages else [],
        "load_end": stages[-1]["load_end"] if stages else [],
        "started_at": stages[0]["started_at"] if stages else "",
        "extra": {"stages": [s["name"] for s in stages], "summed_over_parts": True},
    }
    return {
        **old,
        **{k: v for k, v in new.items() if k != "spans"},
        "spans": [*spans, total],
        "parts": [*old.get("parts", []), *new.get("parts", [])],
        "peak_rss_mib": max(old.get("peak_rss_mib", 0), new.get("peak_rss_mib", 0)),
    }


def merge_results(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` over ``old``: steps and engines not rerun keep their earlier measurement."""
    out = {**old, **{k: v for k, v in new.items() if k not in ("engines", "commands")}}
    for key, value in old.items():
        if key.startswith(("pipeline", "parity", "generate")) and key not in new:
            out[key] = value
    if "pipeline" in old and "pipeline" in new and new["pipeline"].get("parts"):
        if "ingest" not in new["pipeline"]["parts"][0]:
            out["pipeline"] = merge_pipeline(old["pipeline"], new["pipeline"])
    out["engines"] = {**old.get("engines", {}), **new.get("engines", {})}
    out["commands"] = {**old.get("commands", {}), **new.get("commands", {})}
    if "started_at" in old:
        out["started_at"] = old["started_at"]
    return out


def _span(entry: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((s for s in entry.get("spans", []) if s["name"] == name), None)


def _match_seconds(entry: dict[str, Any]) -> float | None:
    """predict + cluster seconds of one engine run."""
    match = _span(entry, "match")
    if match is not None:
        sec = match["extra"]["metrics"]["seconds"]
        return round(float(sec.get("predict", 0)) + float(sec.get("cluster", 0)), 2)
    p, c = _span(entry, "predict"), _span(entry, "cluster")
    if p is None or c is None:
        return None
    return round(p["wall_s"] + c["wall_s"], 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--sizes", default="100k,1M", help="source rows per size: 100k,1M,5M")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", default=str(HERE / "work"), help="data and lakehouses")
    parser.add_argument("--steps", default="pipeline,engines")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--pipeline-engine", default="auto", choices=["auto", "spark", "duckdb"])
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine (median used)")
    parser.add_argument("--report-only", action="store_true", help="only rewrite RESULTS.md")
    parser.add_argument(
        "--set", action="append", help="conf override, e.g. matching.num_partitions=4 (repeat)"
    )
    parser.add_argument(
        "--spark-conf", action="append", help="Spark conf, e.g. spark.sql.shuffle.partitions=4"
    )
    parser.add_argument("--tag", default="", help="name of an experiment (results file suffix)")
    parser.add_argument(
        "--stages",
        default="",
        help="run the pipeline in parts: ingest,standardise first, then the rest (the parts' "
        "stages are merged; the part without ingest continues on the same lakehouse)",
    )
    args = parser.parse_args(argv)
    args.steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    from benchmarks.report import write_report

    if not args.report_only:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        for text in args.sizes.split(","):
            rows = parse_size(text)
            result = bench_size(rows, args)
            result["argv"] = "python -m benchmarks.run " + " ".join(argv or sys.argv[1:])
            suffix = "" if args.pipeline_engine == "auto" else f"-{args.pipeline_engine}"
            suffix += f"-{args.tag}" if args.tag else ""
            path = RESULTS_DIR / f"scale_{result['size']}{suffix}.json"
            if path.is_file():  # a partial rerun (some steps or engines) updates the file
                result = merge_results(json.loads(path.read_text()), result)
            path.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
            print(f"[{result['size']}] results in {path}", flush=True)
            write_report()
    path = write_report()
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
