"""A stand-in for PyAV in a daemon without camera or microphone: aiortc loads, FFmpeg does not.

aiortc's package imports its media stack (tracks, codecs, RTP helpers), and that imports names
from `av` (`from av import AudioFrame`, `from av.frame import Frame`, ...), which maps FFmpeg's
libraries: about 20 MiB of a data-only daemon's memory that it never uses, on boards with
512 MiB. Its data channels, DTLS, ICE and SCTP need none of it.

`install()` (by `edge run`, before anything imports aiortc, only when the config has no
`[camera]` and no `[microphone]`) puts a finder first on `sys.meta_path` that answers every
`av` and `av.*` import with a module of placeholders: any name imported from it is a class
that cannot be created. Should media code run after all, it fails at once with a clear error
instead of using half a library. `EDGE_PYAV=1` in the environment turns the stand-in off.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import types
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from edge.config import Config

ENV_OPT_OUT = "EDGE_PYAV"
ROOT = "av"


class PyAvAbsent(RuntimeError):
    """Media code ran in a daemon started without PyAV (no [camera], no [microphone])."""


class _Placeholder:
    """Stands for a PyAV class; creating one is a bug in a data-only daemon."""

    def __new__(cls, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise PyAvAbsent(
            f"{cls.__module__}.{cls.__name__} is not loaded: this daemon has no [camera] or"
            f" [microphone], so PyAV was left out (set {ENV_OPT_OUT}=1 to load it anyway)"
        )


class _StandInModule(types.ModuleType):
    """A package whose every attribute is a placeholder class (made once per name)."""

    def __getattr__(self, name: str) -> type:
        if name.startswith("__"):
            raise AttributeError(name)
        placeholder = type(name, (_Placeholder,), {"__module__": self.__name__})
        setattr(self, name, placeholder)
        return placeholder


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != ROOT and not fullname.startswith(ROOT + "."):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _StandInModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: names appear as they are asked for."""


def install_for(config: Config) -> bool:
    """`install()` when `config` has neither camera nor microphone; whether it was installed."""
    return config.camera is None and config.microphone is None and install()


def install() -> bool:
    """Answer `av` imports with placeholders from now on; False if PyAV is already loaded
    (or the stand-in is switched off), so the real one stays."""
    if os.environ.get(ENV_OPT_OUT) == "1" or ROOT in sys.modules:
        return False
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    return True


def installed() -> bool:
    """Whether `av` is the stand-in (for tests and `edge check`)."""
    return isinstance(sys.modules.get(ROOT), _StandInModule)
