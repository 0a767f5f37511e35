"""interactions stage."""

from __future__ import annotations
