"""Synthetic multi-source generator and the source declarations that describe its files."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from unification.config import EntityConfig, SourceConfig, load_source
from unification.synthetic import (
    BLOCK_PERSONS,
    DEMO_AS_OF,
    CorruptionParams,
    GenerateSummary,
    generate,
)
from unification.synthetic.activity import purchases
from unification.synthetic.persons import Registry, block_persons
from unification.synthetic.writer import FILES

REPO = Path(__file__).resolve().parents[1]
SOURCES_DIR = REPO / "conf" / "sources"
N = BLOCK_PERSONS + 150  # two blocks: a full one and a partial one


def _sources() -> list[SourceConfig]:
    return [load_source(f) for f in sorted(SOURCES_DIR.glob("*.yml"))]


def _entities() -> list[tuple[str, str, EntityConfig]]:
    return [(s.name, n, e) for s in _sources() for n, e in s.entities.items()]


def _read(root: Path, ent: EntityConfig) -> pd.DataFrame:
    """Read every part file of an entity with pandas, as its declaration says."""
    files = sorted(root.glob(ent.path))
    assert files, f"no file matches {ent.path}"
    frames = []
    for f in files:
        if ent.format == "csv":
            frames.append(
                pd.read_csv(
                    f,
                    sep=ent.options.get("sep", ","),
                    encoding=ent.options.get("encoding", "utf-8"),
                    dtype=str,
                    keep_default_na=False,
                    na_values=[""],
                )
            )
        elif ent.format == "json":
            frames.append(pd.read_json(f, lines=True, dtype=False))
        else:
            frames.append(pd.read_parquet(f))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateSummary]:
    out = tmp_path_factory.mktemp("synthetic") / "small"
    summary = generate(out, n_persons=N, seed=7, chunk_persons=BLOCK_PERSONS)
    return out, summary


@pytest.fixture(scope="module")
def one_chunk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic") / "one_chunk"
    generate(out, n_persons=N, seed=7, chunk_persons=10 * BLOCK_PERSONS)
    return out


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "generation.json"
    }


# --------------------------------------------------------------------------- determinism
def test_same_seed_same_files(data: tuple[Path, GenerateSummary], tmp_path: Path) -> None:
    root, _ = data
    generate(tmp_path / "again", n_persons=N, seed=7, chunk_persons=BLOCK_PERSONS)
    assert _digest(tmp_path / "again") == _digest(root)


def test_other_seed_other_data(data: tuple[Path, GenerateSummary], tmp_path: Path) -> None:
    root, _ = data
    generate(tmp_path / "other", n_persons=N, seed=8, chunk_persons=BLOCK_PERSONS)
    a = pd.read_csv(next((root / "ecommerce").glob("customers_part0001.csv")), dtype=str)
    b = pd.read_csv(
        next((tmp_path / "other" / "ecommerce").glob("customers_part0001.csv")), dtype=str
    )
    assert set(a["email"].dropna()) != set(b["email"].dropna())


def test_chunk_size_does_not_change_rows(
    data: tuple[Path, GenerateSummary], one_chunk: Path
) -> None:
    root, summary = data
    assert len(list((root / "crm").glob("contacts_part*.jsonl"))) == 2
    assert len(list((one_chunk / "crm").glob("contacts_part*.jsonl"))) == 1
    for _, _, ent in _entities():
        a, b = _read(root, ent), _read(one_chunk, ent)
        pd.testing.assert_frame_equal(a, b)
    ta = pd.read_parquet(root / "_truth" / "person_map.parquet")
    tb = pd.read_parquet(one_chunk / "_truth" / "person_map.parquet")
    pd.testing.assert_frame_equal(ta, tb)
    assert summary.n_persons == N


def test_rerun_replaces_earlier_parts(tmp_path: Path) -> None:
    out = tmp_path / "rerun"
    generate(out, n_persons=N, seed=3, chunk_persons=BLOCK_PERSONS)
    generate(out, n_persons=BLOCK_PERSONS // 5, seed=3)
    assert not list(out.rglob("*_part0002.*"))
    truth = pd.read_parquet(out / "_truth" / "persons.parquet")
    assert len(truth) == BLOCK_PERSONS // 5


# --------------------------------------------------------------------------- truth
def test_truth_covers_every_person_record(data: tuple[Path, GenerateSummary]) -> None:
    root, summary = data
    truth = pd.read_parquet(root / "_truth" / "person_map.parquet")
    persons = pd.read_parquet(root / "_truth" / "persons.parquet")
    assert list(truth.columns[:3]) == ["source", "source_id", "person_id"]
    assert truth["record_key"].notna().all() and truth["record_key"].is_unique
    assert not truth.duplicated(["source", "source_id"]).any()
    assert persons["person_id"].is_unique and len(persons) == N
    assert set(truth["person_id"]) <= set(persons["person_id"])
    for src in _sources():
        person_entities = [(n, e) for n, e in src.entities.items() if e.person]
        assert len(person_entities) == (src.name != "web"), f"{src.name}: one person entity"
        if not person_entities:
            continue
        name, ent = person_entities[0]
        ids = _read(root, ent)[ent.person.source_id].astype(str)
        expected = truth.loc[truth["source"] == src.name, "source_id"]
        assert sorted(ids) == sorted(expected), src.name
        assert (truth.loc[truth["source"] == src.name, "entity"] == name).all()
    assert summary.n_person_records == len(truth)


def test_duplicates_inside_sources(data: tuple[Path, GenerateSummary]) -> None:
    truth = pd.read_parquet(data[0] / "_truth" / "person_map.parquet")
    per_source = truth.groupby(["source", "person_id"]).size()
    dup_sources = set(per_source[per_source > 1].index.get_level_values(0))
    assert {"ecommerce", "stores", "emailing"} <= dup_sources


def test_households_and_homonyms() -> None:
    start, end = 1_672_531_200, 1_793_404_800
    params = CorruptionParams(p_household=0.3, p_homonym=0.05)
    rng = np.random.default_rng(11)
    p = block_persons(rng, 0, 0, 2_000, params, start, end, Registry())
    hh = p[p["household_id"].notna()].groupby("household_id")
    assert hh.ngroups > 50
    assert (hh.size() >= 2).all()
    for col in ("a_street_no", "a_street_name", "a_postcode", "a_city", "move_at"):
        assert (hh[col].nunique() == 1).all(), col
    assert (hh["landline"].nunique(dropna=False) == 1).all()
    assert (hh["family_email"].nunique(dropna=False) == 1).all()
    assert p.loc[p["family_email"].notna(), "household_id"].notna().all()
    hom = p[p["homonym_group"].notna()].groupby("homonym_group")
    assert hom.ngroups > 20
    assert (hom.size() >= 2).all()
    for col in ("first_name", "last_name", "a_city"):
        assert (hom[col].nunique() == 1).all(), col
    assert (hom["person_id"].nunique() == hom.size()).all()
    assert (hom["email1"].nunique() == hom.size()).all()
    assert p["email1"].is_unique and p["mobile"].is_unique


def test_truth_households_and_homonyms_written(data: tuple[Path, GenerateSummary]) -> None:
    persons = pd.read_parquet(data[0] / "_truth" / "persons.parquet")
    assert persons["household_id"].notna().sum() >= 0.05 * N
    assert persons["homonym_group"].notna().sum() >= 0.01 * N
    assert (persons.dropna(subset=["household_id"]).groupby("household_id").size() >= 2).all()


def test_consent_contradicts_across_sources(data: tuple[Path, GenerateSummary]) -> None:
    root, _ = data
    ents = {(s, n): e for s, n, e in _entities()}
    truth = pd.read_parquet(root / "_truth" / "person_map.parquet")
    ecom = _read(root, ents[("ecommerce", "customers")])
    stores = _read(root, ents[("stores", "members")])
    crm = _read(root, ents[("crm", "contacts")])
    flags = pd.concat(
        [
            pd.DataFrame(
                {"source_id": ecom["customer_id"], "opt": ecom["newsletter_optin"] == "1"}
            ),
            pd.DataFrame({"source_id": stores["NUM_CARTE"], "opt": stores["OPTIN_EMAIL"] == "O"}),
            pd.DataFrame({"source_id": crm["contactId"], "opt": crm["optInEmail"].astype(bool)}),
        ]
    ).merge(truth, on="source_id")
    by_person = flags.groupby("person_id")["opt"].agg(["min", "max"])
    assert (by_person["min"] != by_person["max"]).sum() > 10
    subs = _read(root, ents[("emailing", "subscribers")])
    assert subs["optout_date"].notna().sum() > 5  # opt-outs with their own timestamps


# --------------------------------------------------------------------------- formats
@pytest.mark.parametrize("source,entity", [(s, n) for s, n, _ in _entities()])
def test_files_readable_with_declared_contract(
    data: tuple[Path, GenerateSummary], source: str, entity: str
) -> None:
    root, summary = data
    ent = next(e for s, n, e in _entities() if (s, n) == (source, entity))
    df = _read(root, ent)
    assert list(df.columns) == [c.name for c in ent.columns]
    assert len(df) == summary.rows[f"{source}/{entity}"] > 0
    for col in ent.columns:
        if col.required:
            assert df[col.name].notna().all(), col.name
    keys = df[ent.key]
    assert keys.notna().all().all() and not keys.duplicated().any(), ent.key
    for col in ent.columns:
        if col.type in ("date", "timestamp") and col.format and df[col.name].dtype == object:
            pattern = (
                col.format.replace("yyyy", "%Y")
                .replace("MM", "%m")
                .replace("dd", "%d")
                .replace("HH", "%H")
                .replace("mm", "%M")
                .replace("ss", "%S")
                .replace("'T'", "T")
                .replace(".SSSX", ".%fZ")
            )
            parsed = pd.to_datetime(df[col.name], format=pattern, errors="coerce")
            assert parsed.notna().sum() == df[col.name].notna().sum(), col.name


def test_formats_differ_per_source(data: tuple[Path, GenerateSummary]) -> None:
    root = data[0]
    raw = next((root / "stores").glob("members_part*.csv")).read_bytes()
    header = raw.split(b"\n", 1)[0]
    assert b";" in header and b"," not in header
    with pytest.raises(UnicodeDecodeError):  # latin-1 accents are not utf-8
        raw.decode("utf-8")
    assert {FILES[n].format for n in FILES} == {"csv", "json", "parquet"}


def test_corruption_is_present(data: tuple[Path, GenerateSummary]) -> None:
    root = data[0]
    ents = {(s, n): e for s, n, e in _entities()}
    ecom = _read(root, ents[("ecommerce", "customers")])
    phones = ecom["phone"].dropna()
    assert phones.str.startswith("+33").any() and phones.str.startswith("06").any()
    assert phones.str.contains(" ").any()
    emails = ecom["email"].dropna()
    assert emails.str.contains(r"[A-Z]").any()
    stores = _read(root, ents[("stores", "members")])
    assert (stores["NOM"] == stores["NOM"].str.upper()).all()
    assert (
        stores["DATE_NAISSANCE"].str.match(r"\d\d/\d\d/\d{4}").all()
        or stores["DATE_NAISSANCE"].isna().any()
    )
    crm = _read(root, ents[("crm", "contacts")])
    assert crm["birthDate"].dropna().str.fullmatch(r"\d{8}").all()
    web = _read(root, ents[("web", "events")])
    assert web["user_id"].isna().any() and web["user_id"].notna().any()
    tickets = _read(root, ents[("stores", "tickets")])
    assert tickets["card_number"].isna().any() and tickets["card_number"].notna().any()


def test_clean_params_remove_corruption(tmp_path: Path) -> None:
    p = CorruptionParams(
        p_typo_name=0,
        p_swap_names=0,
        p_case_noise=0,
        p_email_typo=0,
        p_email_case=0,
        p_email_plus_tag=0,
        p_email_dots=0,
        p_missing_email=0,
    )
    generate(tmp_path / "clean", n_persons=200, seed=5, params=p)
    subs = pd.read_csv(next((tmp_path / "clean" / "emailing").glob("subscribers_*.csv")), dtype=str)
    assert not subs["email_address"].str.contains(r"[A-Z+]").any()
    assert (subs["status"] != "bounced").all()


def test_params_are_validated() -> None:
    with pytest.raises(ValueError, match="p_homonym"):
        CorruptionParams(p_homonym=1.5)
    with pytest.raises(ValueError, match="n_persons"):
        generate("/tmp/never", n_persons=0)
    assert replace(CorruptionParams(), p_move=0.5).p_move == 0.5
    assert DEMO_AS_OF.isoformat() == "2026-11-01"


def test_buy_till_you_die_process() -> None:
    rng = np.random.default_rng(0)
    n, year = 4_000, 365.25 * 86_400
    rate = np.full(n, 4.0)
    begin = np.zeros(n, np.int64)
    who, ts = purchases(rng, rate, np.ones(n), begin, 0, int(5 * year))
    assert np.bincount(who, minlength=n).max() == 1  # dropout after the first purchase
    who, ts = purchases(rng, rate, np.zeros(n), begin, 0, int(5 * year))
    counts = np.bincount(who, minlength=n)
    assert 19 < counts.mean() < 22  # 1 + Poisson(4/yr x 5 yr)
    assert (np.diff(ts)[np.diff(who) == 0] >= 0).all()


# --------------------------------------------------------------------------- conf/sources
def _expressions(ent: EntityConfig) -> list[str]:
    out: list[str] = []
    if ent.person:
        out += [ent.person.source_id, ent.person.updated_at]
        out += list(ent.person.fields.values()) + list(ent.person.identifiers.values())
    for c in ent.consent:
        out += [c.opt_in, c.at] + ([c.when] if c.when else [])
    for e in ent.events:
        out += list(e.fields.values()) + list(e.links.values()) + ([e.when] if e.when else [])
    return out


def test_source_files_validate_and_reference_declared_columns() -> None:
    sources = _sources()
    assert {s.name for s in sources} == {"ecommerce", "stores", "crm", "emailing", "web"}
    for src in sources:
        entity_names = {f"{s.name}:{n}" for s in sources for n in s.entities}
        for name, ent in src.entities.items():
            declared = {c.name for c in ent.columns}
            for expr in _expressions(ent):
                tree = sqlglot.parse_one(expr, read="spark")
                used = {c.name for c in tree.find_all(exp.Column)}
                assert used <= declared, f"{src.name}.{name}: {expr!r} uses {used - declared}"
            for e in ent.events:
                assert set(e.links) <= entity_names, f"{src.name}.{name}: unknown link target"


def test_declared_paths_match_generated_files(data: tuple[Path, GenerateSummary]) -> None:
    root = data[0]
    for source, entity, ent in _entities():
        files = {str(p.relative_to(root)) for p in root.glob(ent.path)}
        written = {f for f in data[1].files if f.startswith(f"{source}/{entity}_part")}
        assert files == written, f"{source}.{entity}"


def test_mappings_run_on_spark(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Read each entity with its declared options, type it, and evaluate every expression."""
    from pyspark.sql import functions as F

    root = tmp_path / "tiny"
    generate(root, n_persons=120, seed=2)
    for source, name, ent in _entities():
        path = str(root / ent.path)
        reader = spark.read.options(**ent.options)
        df = getattr(reader, ent.format)(path)
        types = dict(df.dtypes)
        cols = []
        for c in ent.columns:
            col = F.col(c.name)
            if c.format and types[c.name] == "string":
                col = (
                    F.to_date(col, c.format) if c.type == "date" else F.to_timestamp(col, c.format)
                )
            cols.append(col.cast(c.type).alias(c.name))
        exprs = _expressions(ent)
        typed = df.select(*cols)
        rows = typed.selectExpr(*[f"{e} AS x{i}" for i, e in enumerate(exprs)]).collect()
        assert rows, f"{source}.{name}"
        if ent.person:
            assert all(r["x0"] is not None and r["x1"] is not None for r in rows)


def test_every_parameter_is_documented_with_its_default() -> None:
    import re
    from dataclasses import fields

    doc = (REPO / "docs" / "DATA.md").read_text(encoding="utf-8")
    for f in fields(CorruptionParams):
        row = re.search(rf"^\| `{f.name}` \| ([0-9.]+) \|", doc, flags=re.M)
        assert row, f"{f.name} is not documented in docs/DATA.md"
        assert float(row.group(1)) == f.default, f.name


def test_event_mappings_fit_the_interactions_stage() -> None:
    """Every events mapping fills the required fields of its kind and only known ones."""
    events = pytest.importorskip("unification.interactions.events")
    for source, name, ent in _entities():
        for mapping in ent.events:
            assert events.validate_mapping(source, name, mapping) == [], f"{source}.{name}"
