"""synthetic stage."""

from __future__ import annotations
