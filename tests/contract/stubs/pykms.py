"""`pykms` (kms++'s C++ binding) replaced: picamera2's DRM preview names its pixel formats at
import time and is never started here."""

from __future__ import annotations

import types

PixelFormat = types.SimpleNamespace(
    RGB888="RGB888",
    BGR888="BGR888",
    XRGB8888="XRGB8888",
    XBGR8888="XBGR8888",
    YUV420="YUV420",
    YVU420="YVU420",
    YUYV="YUYV",
    UYVY="UYVY",
    YVYU="YVYU",
    VYUY="VYUY",
    NV12="NV12",
    NV21="NV21",
)
