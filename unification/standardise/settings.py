"""Typed settings of the ``standardise`` stage (section ``standardise:`` of the run config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StandardiseSettings(BaseModel):
    """Settings of the standardise stage. Defaults live here; YAML overrides them."""

    model_config = ConfigDict(extra="forbid")
