"""`pidng.camdefs`: the name picamera2 imports."""

from __future__ import annotations


class Picamera2Camera:
    """Only DNG writing uses it."""
