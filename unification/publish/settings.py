"""Typed settings of the ``publish`` stage (section ``publish:`` of the run config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PublishSettings(BaseModel):
    """Settings of the publish stage. Defaults live here; YAML overrides them."""

    model_config = ConfigDict(extra="forbid")
