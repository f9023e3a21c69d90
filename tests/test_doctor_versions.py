"""`edge check`'s and `edge selftest`'s library versions: found, and judged against our ranges."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from packaging.requirements import Requirement

from edge.doctor import Level, diagnose
from edge.doctor.versions import LIBRARIES, check_libraries, library_versions, summary

RANGES = {
    "aiortc": Requirement("aiortc>=1.9,<1.17"),
    "gpiozero": Requirement("gpiozero>=2.0.1,!=2.0.1.post1,!=2.0.1.post2,<2.1"),
}


def found(**versions: str | None) -> dict[str, str | None]:
    return {name: versions.get(name.lower().replace("-", "_")) for name in LIBRARIES}


def test_the_versions_installed_here_are_reported() -> None:
    by_name = {v.name: v for v in library_versions()}
    assert list(by_name) == list(LIBRARIES)
    assert by_name["aiortc"].version == importlib.metadata.version("aiortc")
    assert by_name["aioice"].version == importlib.metadata.version("aioice")
    detail = by_name["google-crc32c"].detail
    assert detail in ("native", "pure Python, slow") or detail.startswith("pure Python; SCTP uses")
    assert all(not v.problem for v in by_name.values()), summary(list(by_name.values()))


def test_a_version_outside_the_tested_range_or_known_broken_is_a_warning() -> None:
    installed = found(aiortc="1.17.0", gpiozero="2.0.1.post2", av="18.1.0")
    versions = library_versions(installed.get, lambda: RANGES, lambda: "native")
    text = summary(versions)
    assert "aiortc 1.17.0 (outside the tested <1.17,>=1.9)" in text
    assert "gpiozero 2.0.1.post2 (a known broken release)" in text
    assert "av 18.1.0," in text  # no declared range in this test: no judgement
    assert "picamera2 absent" in text
    finding = check_libraries(versions)
    assert finding.level is Level.WARN
    assert "constraints.txt" in finding.fix


def test_pure_python_crc32c_is_a_warning_and_all_in_range_is_ok() -> None:
    installed = found(aiortc="1.16.0", gpiozero="2.0.1.post3", google_crc32c="1.9.0")
    slow = library_versions(installed.get, lambda: RANGES, lambda: "pure Python, slow")
    assert "google-crc32c 1.9.0 (pure Python, slow)" in summary(slow)
    assert check_libraries(slow).level is Level.WARN
    fast = library_versions(installed.get, lambda: RANGES, lambda: "native")
    assert check_libraries(fast).level is Level.OK
    # A 32-bit board: google-crc32c is pure Python, aiortc's SCTP uses the compiled crc32c.
    replaced = library_versions(
        installed.get, lambda: RANGES, lambda: "pure Python; SCTP uses crc32c 2.3 (native)"
    )
    assert "google-crc32c 1.9.0 (pure Python; SCTP uses crc32c 2.3 (native))" in summary(replaced)
    assert check_libraries(replaced).level is Level.OK


def test_edge_check_reports_the_libraries(tmp_path: Path) -> None:
    findings = {f.check: f for f in diagnose(tmp_path / "absent.toml")}
    assert f"aiortc {importlib.metadata.version('aiortc')}" in findings["libs"].message
