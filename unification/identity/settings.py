"""Typed settings of the ``identity`` stage (section ``identity:`` of the run config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MergeSurvivor = Literal["oldest", "most_records"]


class IdentitySettings(BaseModel):
    """Settings of the identity stage. Defaults live here; YAML overrides them.

    Attributes:
        id_prefix: first characters of every new customer id (``C`` + 16 hex digits).
        merge_survivor: which earlier id a cluster keeps when several earlier customers
            continue into it (a merge). ``oldest`` (default): the id created first survives.
            ``most_records``: the id with the most records in the cluster survives, ties to
            the oldest. See docs/IDENTITY.md.
    """

    model_config = ConfigDict(extra="forbid")

    id_prefix: str = Field(default="C", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,7}$")
    merge_survivor: MergeSurvivor = "oldest"
