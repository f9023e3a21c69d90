"""CRC32C for aiortc's SCTP (every data-channel packet, both ways): compiled code on every board.

aiortc checksums each SCTP packet with google-crc32c. PyPI has no 32-bit ARM wheel of it, and
its source build needs Google's crc32c C++ library, which neither Debian nor Raspberry Pi OS
packages: on armv6/armv7 it installs as pure Python, runs on the event loop for every packet,
and warns when imported. There the `crc32c` distribution (Debian's python3-crc32c, compiled C;
a dependency on 32-bit ARM) computes the same checksum, and this module puts it in aiortc's
place. This is the one place that chooses:

- `prepare()`, run when `edge.livekit` or `edge.media` is first imported (before either imports
  aiortc), imports google-crc32c; its slowness warning is dropped only when a compiled
  replacement is there, so a board with neither still warns.
- `install()`, run before every peer connection, sets aiortc's `rtcsctptransport.crc32c`.
- `current().describe()` is what `edge check` says about it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

SLOW_WARNING = "As the c extension couldn't be imported"
"""The start of google-crc32c's RuntimeWarning when it falls back to pure Python."""

Crc32cFunction = Callable[[bytes], int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Crc32c:
    """The CRC32C aiortc's SCTP uses here, and where it comes from."""

    function: Crc32cFunction
    provider: str
    """`google-crc32c` or `crc32c` (the distribution names)."""
    native: bool
    """Compiled code; False only for google-crc32c's pure-Python fallback."""
    google_native: bool
    """Whether google-crc32c itself has its C extension (wheels on x86_64 and aarch64)."""
    version: str = ""
    """The replacement's version, when the provider is `crc32c`."""

    def describe(self) -> str:
        """What `edge check` appends to google-crc32c's version."""
        if self.google_native:
            return "native"
        if self.native:
            return f"pure Python; SCTP uses {self.provider} {self.version} (native)"
        return "pure Python, slow"


def _import_replacement() -> ModuleType | None:
    """The `crc32c` distribution's compiled module, if installed."""
    try:
        module = importlib.import_module("crc32c")
    except ImportError:
        return None
    return module if callable(getattr(module, "crc32c", None)) else None


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def choose(google: Any, replacement: Any, replacement_version: str = "") -> Crc32c:
    """google-crc32c when it is compiled, else the compiled `crc32c`, else google's pure Python.

    `google` is the imported google_crc32c module, `replacement` the `crc32c` one or None.
    """
    google_native = getattr(google, "implementation", "") == "c"
    if google_native or replacement is None:
        return Crc32c(
            function=google.value,
            provider="google-crc32c",
            native=google_native,
            google_native=google_native,
        )
    return Crc32c(
        function=replacement.crc32c,
        provider="crc32c",
        native=True,
        google_native=False,
        version=replacement_version,
    )


def prepare() -> None:
    """Import google-crc32c (before aiortc does), without its warning if it will be replaced.

    Any other warning raised by the import, and the slowness warning when there is no compiled
    replacement, are re-issued as they were (an error under the tests' warning filter).
    """
    if "google_crc32c" in sys.modules:
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            importlib.import_module("google_crc32c")
        except ImportError:
            return  # aiortc's own import says so
    for warning in caught:
        slow = str(warning.message).startswith(SLOW_WARNING)
        if slow and issubclass(warning.category, RuntimeWarning) and _import_replacement():
            continue
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def current() -> Crc32c:
    """The implementation `install()` gives aiortc on this machine."""
    prepare()
    google = importlib.import_module("google_crc32c")
    replacement = _import_replacement()
    return choose(google, replacement, _version("crc32c") if replacement is not None else "")


def install() -> Crc32c:
    """Make aiortc's SCTP checksum packets with `current()`'s function. Idempotent.

    aiortc looks `crc32c` up as a module global of `rtcsctptransport` at every packet it
    parses or serializes (pinned by tests/contract/test_private_names.py).
    """
    chosen = current()
    from aiortc import rtcsctptransport

    rtcsctptransport.crc32c = chosen.function  # type: ignore[attr-defined]
    return chosen
