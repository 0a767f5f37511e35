"""Typed settings of the 360 view (``features.interactions:`` in the run config).

The 360 view and the features form one pipeline stage ("360 + features"), so these settings
sit under the ``features:`` section of the run config.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class InteractionSettings(BaseModel):
    """How bronze events become ``gold.interactions``, ``gold.orders`` and ``gold.order_lines``."""

    model_config = ConfigDict(extra="forbid")

    session_gap_minutes: int = Field(
        default=30,
        gt=0,
        description="web events of one cookie further apart than this start a new session "
        "(used when the source maps no session_id)",
    )
    default_channels: dict[str, str] = Field(
        default_factory=lambda: {"web_event": "web", "email_event": "email", "contact": "phone"},
        description="channel of an event kind when its mapping has no `channel` field "
        "(orders: 'store' when store_id is set, else 'online')",
    )
    link_anonymous_ids: bool = Field(
        default=True,
        description="attach every event of an anonymous id (cookie) to the customer that id "
        "was ever logged in as",
    )
