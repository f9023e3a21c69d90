"""Scenarios of the issue that are not measured yet, each with the reason."""

from __future__ import annotations

PENDING: tuple[tuple[str, str], ...] = ()
