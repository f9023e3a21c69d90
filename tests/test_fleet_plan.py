"""The fleet plan: board identities, per-board configs from one template, start moments."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from edge.config import parse_config
from edge.errors import ConfigError
from edge.fleet_plan import (
    MAX_BOARDS,
    board_data,
    board_identities,
    identity_prefix,
    shared_spools,
    start_delays,
)

TEMPLATE: dict[str, object] = {
    "livekit": {
        "url": "ws://127.0.0.1:7880",
        "room": "site-{index}",
        "identity": "sim",
        "api_key": "devkey",
        "api_secret": "secret-of-the-fleet-0123456789",
        "metadata": '{"board": "{identity}", "json": {"kept": true}}',
        "attributes": {"fleet.index": "{index}", "fleet.group": "north"},
    },
    "telemetry": {"sensors": [{"name": "soc", "kind": "simulated", "unit": "°C"}]},
    "gpio": {"outputs": [{"name": "relay", "kind": "digital", "pin": 17, "allow": ["op-*"]}]},
}


def test_identities_are_the_prefix_and_a_zero_padded_number() -> None:
    assert board_identities("sim", 3) == ("sim-0001", "sim-0002", "sim-0003")
    assert board_identities("lab-a", 1) == ("lab-a-0001",)
    many = board_identities("s", MAX_BOARDS)
    assert len(set(many)) == MAX_BOARDS
    assert many[-1] == f"s-{MAX_BOARDS}"
    assert many == tuple(sorted(many))  # one width: they sort in board order


@pytest.mark.parametrize(
    ("prefix", "count", "message"),
    [
        ("sim", 0, f"--count: expected 1 to {MAX_BOARDS} boards, got 0"),
        (
            "sim",
            MAX_BOARDS + 1,
            f"--count: expected 1 to {MAX_BOARDS} boards, got {MAX_BOARDS + 1}",
        ),
        ("  ", 3, "--identity-prefix: must not be empty"),
        ("sim-{index}", 3, "--identity-prefix: 'sim-{index}' holds a placeholder"),
        ("x" * 252, 3, "--identity-prefix: 'xxx"),
    ],
)
def test_bad_counts_and_prefixes_are_named(prefix: str, count: int, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        board_identities(prefix, count)
    assert any(issue.startswith(message) for issue in caught.value.issues), caught.value.issues


def test_the_prefix_defaults_to_the_templates_identity() -> None:
    assert identity_prefix(TEMPLATE, None) == "sim"
    assert identity_prefix(TEMPLATE, "load") == "load"
    with pytest.raises(ConfigError, match="--identity-prefix: required when the template"):
        identity_prefix({"livekit": {"room": "r"}}, None)
    with pytest.raises(ConfigError, match="--identity-prefix: required"):
        identity_prefix({"livekit": "not a table"}, None)


def test_each_board_gets_its_identity_state_dir_and_named_strings() -> None:
    data = board_data(TEMPLATE, identity="sim-0002", index=2, state_dir="/srv/fleet/sim-0002")
    livekit = data["livekit"]
    assert livekit["identity"] == "sim-0002"
    assert livekit["room"] == "site-2"
    assert livekit["metadata"] == '{"board": "sim-0002", "json": {"kept": true}}'
    assert livekit["attributes"] == {"fleet.index": "2", "fleet.group": "north"}
    assert data["daemon"] == {"state_dir": "/srv/fleet/sim-0002"}
    assert data["gpio"] == TEMPLATE["gpio"]
    # The template is left as it was, for the next board.
    assert TEMPLATE["livekit"]["room"] == "site-{index}"  # type: ignore[index]
    assert "daemon" not in TEMPLATE


def test_a_section_that_is_not_a_table_is_left_for_the_parser_to_name() -> None:
    data = board_data({"livekit": "oops"}, identity="sim-0001", index=1, state_dir="/x")
    assert data["livekit"] == "oops"
    with pytest.raises(ConfigError, match="livekit"):
        parse_config(data, simulate=True)


def test_boards_from_one_template_have_their_own_spools(tmp_path: Path) -> None:
    configs = [
        parse_config(board_data(TEMPLATE, identity=i, index=n, state_dir=str(tmp_path / i)))
        for n, i in enumerate(board_identities("sim", 3), start=1)
    ]
    spools = [c.spool_path for c in configs]
    assert spools == [tmp_path / f"sim-000{n}" / "edge-telemetry.sqlite3" for n in (1, 2, 3)]
    assert shared_spools(configs) == []


def test_an_absolute_spool_path_shared_by_boards_is_refused(tmp_path: Path) -> None:
    def fleet(spool: str) -> list[str]:
        template = {**TEMPLATE, "telemetry": {**TEMPLATE["telemetry"], "spool_path": spool}}  # type: ignore[dict-item]
        configs = [
            parse_config(board_data(template, identity=i, index=n, state_dir=str(tmp_path / i)))
            for n, i in enumerate(board_identities("sim", 3), start=1)
        ]
        return shared_spools(configs)

    [issue] = fleet(str(tmp_path / "one.sqlite3"))
    assert issue.startswith(f"telemetry.spool_path: {tmp_path / 'one.sqlite3'} would be shared")
    assert "by 3 boards (sim-0001, ...)" in issue
    assert fleet(str(tmp_path / "{identity}.sqlite3")) == []


def test_boards_start_at_once_or_at_random_moments_within_the_window() -> None:
    assert start_delays(4, 0.0, random.Random(1)) == [0.0] * 4
    delays = start_delays(200, 30.0, random.Random(1))
    assert len(delays) == 200
    assert all(0.0 <= d <= 30.0 for d in delays)
    assert max(delays) - min(delays) > 20.0  # spread over the window, not bunched
    with pytest.raises(ConfigError, match="--stagger: expected 0 or more seconds, got -1"):
        start_delays(3, -1.0, random.Random(1))
