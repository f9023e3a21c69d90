"""The lanes: markers follow fixture use, and a missing tool skips here but fails in CI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests import needs
from tests.conftest import REPO_ROOT


def collected(*args: str) -> set[str]:
    """Node ids pytest collects with `args` (a separate process: no fixtures are run)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 5), done.stdout + done.stderr
    return {line for line in done.stdout.splitlines() if "::" in line}


def test_a_test_using_the_server_through_a_fixture_is_in_the_server_lane() -> None:
    # tests/test_doctor.py carries no marker: its `pi` fixture asks for `livekit_server`.
    server = collected("-m", "server", "tests/test_doctor.py", "tests/e2e/test_rig.py")
    assert "tests/test_doctor.py::test_a_healthy_board_passes_every_check" in server
    no_server = "tests/test_doctor.py::test_the_real_gpio_probe_reports_a_node_that_is_no_gpio_chip"
    assert no_server not in server
    assert any(node.startswith("tests/e2e/test_rig.py::") for node in server)  # e2e: a server


def test_the_fast_lane_starts_no_livekit_server() -> None:
    fast = "not (server or browser or mqtt or netns or armhf or hardware)"
    demo = collected("-m", fast, "tests/test_demo.py")
    assert demo == set(), demo  # the demo starts livekit-server: the server lane


def test_a_missing_tool_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(needs.CI_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-tool is not installed"):
        needs.program("no-such-tool", package="nothing")


def test_a_missing_tool_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(needs.CI_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"no-such-tool .*tools/setup installs it"):
        needs.program("no-such-tool", package="nothing")
