"""Typed settings of the ``matching`` stage (section ``matching:`` of the run config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class MatchingSettings(BaseModel):
    """Settings of the matching stage. Defaults live here; YAML overrides them."""

    model_config = ConfigDict(extra="forbid")
