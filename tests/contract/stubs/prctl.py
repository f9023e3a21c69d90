"""`python-prctl` (a C extension) replaced: picamera2 only names its threads with it."""

from __future__ import annotations


def set_name(name: str) -> None:
    """Thread names are cosmetic here."""


def set_pdeathsig(signal: int) -> None:
    """picamera2's ffmpeg output asks for this; no child process is started here."""
