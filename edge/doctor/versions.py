"""The versions of the libraries the daemon rests on, as `edge check` and `edge selftest` say.

Read from the installed distributions' metadata, so nothing heavy is imported (picamera2 would
load libcamera). A version outside the range this package declares, or a release known to be
broken, is named: it is the first thing to look at in a bug report.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from edge.doctor.findings import Finding, ok, warn

PROJECT = "edge-participant"
LIBRARIES: tuple[str, ...] = ("aiortc", "aioice", "av", "gpiozero", "lgpio", "picamera2")
LIBRARIES += ("PyAudio", "google-crc32c")
"""Reported in this order; the first four come from PyPI, the rest usually from apt."""
BROKEN = {("gpiozero", "2.0.1.post1"), ("gpiozero", "2.0.1.post2")}
"""Releases that fail on a supported board (these: NameError in LGPIOFactory on a Pi 5)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LibraryVersion:
    """One library as found on this machine."""

    name: str
    version: str | None
    """None when it is not installed."""
    problem: str = ""
    """Why this version is a concern (outside the tested range, known broken); empty if none."""
    detail: str = ""
    """An extra fact (google-crc32c: native or pure Python)."""

    def describe(self) -> str:
        """`aiortc 1.16.0`, `picamera2 absent`, `av 19.0 (outside >=12,<19)`."""
        text = f"{self.name} {self.version or 'absent'}"
        notes = [n for n in (self.detail, self.problem) if n]
        return f"{text} ({'; '.join(notes)})" if notes else text


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _declared() -> dict[str, Requirement]:
    """This package's runtime requirements (extras included), by lower-cased name."""
    try:
        lines = importlib.metadata.requires(PROJECT) or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    found = {}
    for line in lines:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        marker = str(requirement.marker or "")
        if not marker or 'extra == "pi"' in marker:
            found[requirement.name.lower()] = requirement
    return found


def crc32c_implementation() -> str:
    """`native`, `pure Python; SCTP uses crc32c 2.3 (native)` or `pure Python, slow`.

    aiortc checksums every SCTP packet with it (see edge.livekit.checksum); `` if absent.
    """
    from edge.livekit import checksum

    try:
        return checksum.current().describe()
    except ImportError:
        return ""


def library_versions(
    installed: Callable[[str], str | None] = _installed,
    declared: Callable[[], dict[str, Requirement]] = _declared,
    crc32c: Callable[[], str] = crc32c_implementation,
) -> list[LibraryVersion]:
    """Every library in `LIBRARIES`, with what is wrong with its version if anything."""
    ranges = declared()
    found = []
    for name in LIBRARIES:
        version = installed(name)
        problem = ""
        requirement = ranges.get(name.lower())
        if version is not None and (name, version) in BROKEN:
            problem = "a known broken release"
        elif version is not None and requirement is not None:
            try:
                inside = requirement.specifier.contains(Version(version), prereleases=True)
            except InvalidVersion:
                inside = False
            if not inside:
                problem = f"outside the tested {requirement.specifier}"
        detail = crc32c() if name == "google-crc32c" and version is not None else ""
        found.append(LibraryVersion(name=name, version=version, problem=problem, detail=detail))
    return found


def summary(versions: list[LibraryVersion]) -> str:
    """One line: `aiortc 1.16.0, aioice 0.13.0, ...`."""
    return ", ".join(v.describe() for v in versions)


def check_libraries(versions: list[LibraryVersion] | None = None) -> Finding:
    """`libs`: the versions found; warn about one outside its tested range or known broken."""
    versions = library_versions() if versions is None else versions
    concerns = [v for v in versions if v.problem or v.detail.endswith("slow")]
    if not concerns:
        return ok("libs", summary(versions))
    return warn(
        "libs",
        summary(versions),
        "install the tested versions: pip install -c constraints.txt (tools/install does)",
    )
