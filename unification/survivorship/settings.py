"""Typed settings of the ``survivorship`` stage (section ``survivorship:`` of the run config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SurvivorshipSettings(BaseModel):
    """Settings of the survivorship stage. Defaults live here; YAML overrides them."""

    model_config = ConfigDict(extra="forbid")
