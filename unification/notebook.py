"""Helpers for the Databricks-style notebooks in ``notebooks/`` (kept thin on purpose).

On Databricks, ``dbutils`` and ``spark`` are globals of the notebook; locally the notebook test
passes stand-ins (:class:`LocalWidgets`).
"""

from __future__ import annotations

from typing import Any, Protocol

from unification.config import AppConfig, load_config


class WidgetsLike(Protocol):
    """The part of ``dbutils.widgets`` the notebooks use."""

    def text(self, name: str, default: str, label: str | None = None) -> None: ...

    def get(self, name: str) -> str: ...


class LocalWidgets:
    """A stand-in for ``dbutils.widgets`` outside Databricks: defaults, overridable."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self._values = dict(values or {})

    def text(self, name: str, default: str, label: str | None = None) -> None:
        """Declare a widget; keep an override given at construction."""
        self._values.setdefault(name, default)

    def get(self, name: str) -> str:
        """The widget's value."""
        return self._values[name]


def config_from_widgets(widgets: WidgetsLike) -> AppConfig:
    """Load the run config named by the ``conf`` widget, with the lakehouse overrides.

    Widgets: ``conf`` (YAML path), ``lakehouse`` (local root, may be empty), ``catalog`` and
    ``schema_suffix`` (metastore mode, may be empty).
    """
    overrides: dict[str, Any] = {}
    lakehouse: dict[str, Any] = {}
    if widgets.get("lakehouse"):
        lakehouse["root"] = widgets.get("lakehouse")
    if widgets.get("catalog"):
        lakehouse["catalog"] = widgets.get("catalog")
        lakehouse["schema_suffix"] = widgets.get("schema_suffix")
    if lakehouse:
        overrides["lakehouse"] = lakehouse
    return load_config(widgets.get("conf"), overrides=overrides or None)


def declare_common_widgets(widgets: WidgetsLike) -> None:
    """The parameters every notebook takes."""
    widgets.text("conf", "conf/demo.yml", "Run configuration")
    widgets.text("lakehouse", "", "Local lakehouse root (empty: from conf)")
    widgets.text("catalog", "", "Catalog (empty: local lakehouse)")
    widgets.text("schema_suffix", "", "Schema suffix")
