"""`pidng.core`: the name picamera2 imports."""

from __future__ import annotations


class PICAM2DNG:
    """Only DNG writing uses it."""
