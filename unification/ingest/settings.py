"""Typed settings of the ``ingest`` stage (section ``ingest:`` of the run config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class IngestSettings(BaseModel):
    """Settings of the ingest stage. Defaults live here; YAML overrides them."""

    model_config = ConfigDict(extra="forbid")
