"""`kill -9` of `edge run`, then `edge safe-state` (what systemd's ExecStopPost= does): every
output line, across the three processes, never leaves its safe level and is left driven."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests import needs
from tests.contract.conftest import PI_4_REVISION, RECORDER_DIR
from tests.contract.lgpio_c import _lgpio as recorder
from tests.helpers import assert_eventually

if importlib.util.find_spec("lgpio") is None:
    # At import time: in CI a collection error, elsewhere the module is skipped.
    if needs.in_ci():
        raise ImportError(f"lgpio's Python module is not installed: {needs.SETUP}")
    pytest.skip("lgpio's Python module is not installed", allow_module_level=True)

# Active-high relay (safe off = low), active-low relay (safe off = high), active-low lamp whose
# safe value is on (low), active-low PWM dimmer (safe 0 = high).
SAFE = {17: "0", 27: "1", 22: "0", 23: "1"}
CONFIG = """\
[livekit]
url = "ws://127.0.0.1:9"
room = "workshop"
identity = "edge-crash"
api_key = "key"
api_secret = "secret-secret-secret-secret-secret"

[board]
profile = "pi-4"

[gpio]
link_loss_grace_s = 3600.0

[[gpio.outputs]]
name = "relay"
pin = 17
allow = ["op"]

[[gpio.outputs]]
name = "relay_low"
pin = 27
active_high = false
allow = ["op"]

[[gpio.outputs]]
name = "lamp"
pin = 22
active_high = false
safe_value = 1.0
allow = ["op"]

[[gpio.outputs]]
name = "dimmer"
kind = "pwm"
pin = 23
active_high = false
allow = ["op"]
"""


def _levels(events: list[dict[str, Any]], gpio: int) -> list[str]:
    levels: list[str] = []
    for event in events:
        if event["gpio"] != gpio:
            continue
        state = str(event["state"])
        if state.startswith("pwm:"):
            state = {"0": "0", "100": "1"}.get(state.split(":")[2], state)
        state = {"pull-up": "1", "pull-down": "0"}.get(state, state)
        if not levels or levels[-1] != state:
            levels.append(state)
    return levels


@pytest.fixture
def board(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A config, the shared line log (with the lines as boot leaves them) and the environment
    that puts the recorder under lgpio in a subprocess."""
    config = tmp_path / "edge.toml"
    config.write_text(CONFIG)
    config.chmod(0o600)
    log = tmp_path / "lines.jsonl"
    log.write_text(
        "".join(
            f'{{"t": 0, "pid": 0, "gpio": {g}, "state": "{"pull-up" if s == "1" else "pull-down"}",'
            f' "call": "boot"}}\n'
            for g, s in SAFE.items()
        )
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(RECORDER_DIR), str(Path(__file__).parents[2])]),
        "EDGE_TEST_LGPIO_LOG": str(log),
        "EDGE_TEST_PI_REVISION": f"{PI_4_REVISION:x}",
        "LG_WD": str(tmp_path),  # and the working directory: as the systemd unit has them
    }
    env.pop("GPIOZERO_PIN_FACTORY", None)
    return config, log, env


def _read(log: Path) -> list[dict[str, Any]]:
    return recorder.read_log(log)


def _safe_state(config: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "edge", "safe-state", "--config", str(config)],
        env=env,
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


async def test_kill_9_of_edge_run_then_safe_state_never_leaves_safe(
    board: tuple[Path, Path, dict[str, str]],
) -> None:
    config, log, env = board
    daemon = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edge",
        "run",
        "--config",
        str(config),
        env=env,
        cwd=config.parent,  # where lgpio.py makes its notification FIFO
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:

        def all_claimed() -> bool:
            return set(SAFE) <= {e["gpio"] for e in _read(log) if e["pid"] == daemon.pid}

        await assert_eventually(all_claimed, timeout=30, message="edge run claimed the outputs")
    finally:
        daemon.kill()  # SIGKILL: no cleanup of any kind
        await daemon.wait()
    assert daemon.returncode == -signal.SIGKILL
    await asyncio.to_thread(_safe_state, config, env)
    events = _read(log)
    assert {g: _levels(events, g) for g in SAFE} == {g: [s] for g, s in SAFE.items()}


def test_an_output_on_at_the_crash_goes_straight_to_safe_and_stays(
    board: tuple[Path, Path, dict[str, str]],
) -> None:
    """A process that switched everything on dies without cleanup; the kernel keeps the lines
    where they were; `edge safe-state` brings each back to safe in one step and leaves it."""
    config, log, env = board
    script = textwrap.dedent(
        f"""
        import os, signal
        from edge.config import load_config
        from edge.gpio.service import GpioService
        from pathlib import Path
        gpio = GpioService(load_config(Path({str(config)!r})).gpio)
        for name, spec in gpio.actuator.specs.items():
            value = 1.0 - spec.safe_value
            gpio.command(gpio.actuator.request(device=name, value=value, caller="op", now=0.0))
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    crashed = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=config.parent,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    _safe_state(config, env)
    events = _read(log)
    active = {g: "1" if s == "0" else "0" for g, s in SAFE.items()}
    assert {g: _levels(events, g) for g in SAFE} == {g: [s, active[g], s] for g, s in SAFE.items()}
