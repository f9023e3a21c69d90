"""The `libcamera` binding (a C++ extension) replaced for picamera2's contract tests.

picamera2 touches libcamera at import time (enums, default arguments such as
`libcamera.Transform()`, patched `__repr__`s) and, when recording, only through the requests it
hands its encoders. So this stub gives permissive names for the first, and the tests build
requests whose frame buffers are real memory file descriptors for the second: picamera2's
own `MappedArray` maps them as it maps a dma-buf on a Pi.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _Name(type):
    """A class whose every missing attribute is another such class (enums, nested types)."""

    @property
    def name(cls) -> str:
        """What a control id's `.name` is: its name."""
        return cls.__name__

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        made = _Name(name, (_Value,), {})
        setattr(cls, name, made)
        return made


class _Value(metaclass=_Name):
    """Any libcamera value: constructible with anything, comparable by identity."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(type(self), name)


def __getattr__(name: str) -> Any:  # module-level: any other libcamera name
    if name.startswith("__"):
        raise AttributeError(name)
    made = globals().get(name)
    if made is None:
        made = globals()[name] = _Name(name, (_Value,), {})
    return made


class Size(_Value):
    def __init__(self, width: int = 0, height: int = 0) -> None:
        self.width, self.height = width, height

    def to_tuple(self) -> tuple[int, int]:
        return (self.width, self.height)


class Rectangle(_Value):
    def __init__(self, x: int = 0, y: int = 0, width: int = 0, height: int = 0) -> None:
        self.x, self.y, self.width, self.height = x, y, width, height

    def to_tuple(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.width, self.height)


_module = sys.modules[__name__]
_libcamera = types.ModuleType("libcamera._libcamera")
_libcamera.__getattr__ = lambda name: getattr(_module, name)  # type: ignore[method-assign]
sys.modules["libcamera._libcamera"] = _libcamera
controls = types.ModuleType("libcamera.controls")
controls.__getattr__ = lambda name: __getattr__(name)  # type: ignore[method-assign]
controls.draft = _Name("draft", (_Value,), {})  # type: ignore[attr-defined]
sys.modules["libcamera.controls"] = controls
