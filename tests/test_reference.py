"""docs/configuration.md's key tables are the ones the setting declarations render."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge import reference


def test_committed_tables_are_current() -> None:
    text = reference.DOC.read_text(encoding="utf-8")
    assert reference.render(text) == text, (
        "docs/configuration.md is stale; regenerate it: python -m edge.reference"
    )


def test_every_declared_section_has_a_table() -> None:
    text = reference.DOC.read_text(encoding="utf-8")
    for name in reference.SECTIONS:
        assert f"<!-- keys: {name} -->" in text


def test_a_stale_table_is_rewritten_from_the_declarations() -> None:
    stale = "intro\n<!-- keys: simulation -->\n| old |\n<!-- /keys -->\noutro\n"
    fresh = reference.render(stale)
    assert "| old |" not in fresh
    assert "| `sensor_period_s` | float | `5.0` | 0.5 to 3600 |" in fresh
    assert fresh.startswith("intro\n")
    assert fresh.endswith("<!-- /keys -->\noutro\n")


def test_an_unknown_section_marker_is_refused() -> None:
    with pytest.raises(KeyError, match="no section 'nope'"):
        reference.render("<!-- keys: nope -->\n<!-- /keys -->")


def test_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "configuration.md"
    doc.write_text("<!-- keys: daemon -->\n<!-- /keys -->\n", encoding="utf-8")
    monkeypatch.setattr(reference, "DOC", doc)
    assert reference.main(["--check"]) == 1
    assert reference.main([]) == 0
    assert reference.main(["--check"]) == 0
    assert "`log_level`" in doc.read_text(encoding="utf-8")
