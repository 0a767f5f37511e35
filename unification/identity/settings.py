"""Typed settings of the ``identity`` stage (section ``identity:`` of the run config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class IdentitySettings(BaseModel):
    """Settings of the identity stage. Defaults live here; YAML overrides them."""

    model_config = ConfigDict(extra="forbid")
