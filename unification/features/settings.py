"""Typed settings of the ``features`` stage (section ``features:`` of the run config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FeatureSettings(BaseModel):
    """Settings of the features stage. Defaults live here; YAML overrides them."""

    model_config = ConfigDict(extra="forbid")
