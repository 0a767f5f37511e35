from __future__ import annotations

from pathlib import Path

import pytest

from unification.config import load_config
from unification.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_demo_config_loads() -> None:
    cfg = load_config(REPO / "conf" / "demo.yml")
    assert cfg.lakehouse.root.endswith("lakehouse")
    assert cfg.spark.master == "local[2]"
    assert Path(cfg.sources_dir).is_dir()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_key_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "sources").mkdir()
    conf = _write(tmp_path / "run.yml", "spark:\n  shuffle_partitions: many\n")
    with pytest.raises(ConfigError) as err:
        load_config(conf)
    assert str(conf) in str(err.value)
    assert "spark.shuffle_partitions" in str(err.value)


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "sources").mkdir()
    conf = _write(tmp_path / "run.yml", "lakehouse:\n  rooot: /tmp/x\n")
    with pytest.raises(ConfigError, match=r"lakehouse\.rooot"):
        load_config(conf)


def test_bad_source_file_names_file_and_key(tmp_path: Path) -> None:
    _write(
        tmp_path / "sources" / "crm.yml",
        "name: crm\nentities:\n  contacts:\n    path: crm/*.csv\n    format: xls\n"
        "    columns: [{name: id}]\n",
    )
    conf = _write(tmp_path / "run.yml", "data_root: .\n")
    with pytest.raises(ConfigError) as err:
        load_config(conf)
    msg = str(err.value)
    assert "crm.yml" in msg and "entities.contacts.format" in msg


def test_key_must_be_a_declared_column(tmp_path: Path) -> None:
    _write(
        tmp_path / "sources" / "crm.yml",
        "name: crm\nentities:\n  contacts:\n    path: crm/*.csv\n    format: csv\n"
        "    key: [contact_id]\n    columns: [{name: id}]\n",
    )
    conf = _write(tmp_path / "run.yml", "data_root: .\n")
    with pytest.raises(ConfigError, match="contact_id"):
        load_config(conf)


def test_extends_and_override(tmp_path: Path) -> None:
    (tmp_path / "sources").mkdir()
    _write(tmp_path / "base.yml", "spark:\n  master: local[1]\n  shuffle_partitions: 3\n")
    conf = _write(tmp_path / "env.yml", "extends: base.yml\nspark:\n  shuffle_partitions: 5\n")
    cfg = load_config(conf)
    assert cfg.spark.master == "local[1]"
    assert cfg.spark.shuffle_partitions == 5


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent/conf.yml")
