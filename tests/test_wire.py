"""The wire contract is pinned: a renamed key, topic, method or code is a deliberate diff.

Peers (the console, scripts, Home Assistant through MQTT) match these names literally, so a
change must show up in review as a change of `tests/wire_contract.json` and of the console's
generated module, never as a side effect of a refactor.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from edge import wire
from edge.gpio.methods import METHODS as GPIO_METHODS

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests" / "wire_contract.json"
CONSOLE_MODULE = ROOT / "console" / "src" / "wire.generated.js"


def test_the_contract_matches_the_committed_snapshot() -> None:
    pinned = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert wire.contract() == pinned, (
        "edge/wire.py no longer matches tests/wire_contract.json: a name every peer relies on "
        "changed. If that is deliberate, run `python -m edge.wire --json "
        "tests/wire_contract.json` and `python -m edge.wire --js console/src/wire.generated.js`"
        ", commit both and say so in the changelog; otherwise undo the rename."
    )


def test_the_console_module_is_generated_from_the_current_contract() -> None:
    assert CONSOLE_MODULE.read_text(encoding="utf-8") == wire.js_module(), (
        "console/src/wire.generated.js is stale: run `python -m edge.wire --js "
        "console/src/wire.generated.js` (tools/setup does before building the console)"
    )


def test_no_two_names_share_a_value() -> None:
    for group, names in wire.contract().items():
        values = list(names.values())
        assert len(values) == len(set(values)), f"{group}: {sorted(values)}"


def test_the_gpio_service_serves_exactly_the_gpio_methods() -> None:
    assert tuple(GPIO_METHODS) == wire.GPIO_METHODS


def test_output_keys_round_trip_and_other_keys_name_no_output() -> None:
    assert wire.output_key("relay") == "gpio.relay"
    assert wire.output_name(wire.output_key("relay")) == "relay"
    assert wire.output_name(wire.Attribute.LEASE) is None
    assert wire.output_name(wire.temperature_key("soc")) is None
    assert wire.temperature_key("soc") == "edge.temperature.soc"
    assert wire.media_key("camera") == "media.camera"


def test_the_command_writes_only_a_changed_file(tmp_path: Path) -> None:
    target = tmp_path / "wire.generated.js"
    assert wire.main(["--js", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == wire.js_module()
    stamp = 1_000_000_000
    os.utime(target, (stamp, stamp))
    wire.main(["--js", str(target)])
    assert target.stat().st_mtime == stamp  # unchanged: the console build stays up to date
    target.write_text("stale", encoding="utf-8")
    wire.main(["--js", str(target)])
    assert target.read_text(encoding="utf-8") == wire.js_module()


def test_the_command_needs_one_output(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        wire.main([])
    assert exit_info.value.code == 2
    assert "one of the arguments --js --json is required" in capsys.readouterr().err
