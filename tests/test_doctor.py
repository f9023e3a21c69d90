"""`edge check`: each failure it knows, reported on a simulated Raspberry Pi 4.

The board is simulated at the probe boundary (device tree, /dev, /sys, users, clock, disk);
the server is a real livekit-server, and "unreachable" is a port nobody listens on.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.doctor import Finding, Level, Probes, diagnose, failed, render
from edge.doctor.probes import GpioChip, User, read_gpio_chips
from edge.token import mint_token
from tests.official_peer import LiveKitServer

GIB = 1024**3
PI4_MODEL = b"Raspberry Pi 4 Model B Rev 1.4\0"
CHECKS = [
    "config", "secrets", "board", "gpio", "pins", "groups", "camera", "encoder", "audio",
    "clock", "disk", "server", "token", "mqtt", "libs",
]  # fmt: skip


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port with nobody listening (bound, never listened on: connects are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@dataclasses.dataclass
class SimulatedPi:
    """A Raspberry Pi 4 with a camera, a USB microphone and a config for `server`."""

    root: Path
    server: LiveKitServer
    room: str

    def __post_init__(self) -> None:
        for node in ("dev/gpiochip0", "dev/video11", "dev/snd/pcmC1D0c"):
            (self.root / node).parent.mkdir(parents=True, exist_ok=True)
            (self.root / node).touch()
        name = self.root / "sys/class/video4linux/video11/name"
        name.parent.mkdir(parents=True)
        name.write_text("bcm2835-codec-encode\n")
        (self.root / "model").write_bytes(PI4_MODEL)
        self.write_config()

    @property
    def config(self) -> Path:
        return self.root / "edge.toml"

    def write_config(self, livekit: str = "", extra: str = "", *, mode: int = 0o640) -> None:
        livekit = livekit or (
            f'api_key = "{self.server.api_key}"\napi_secret = "{self.server.api_secret}"\n'
        )
        self.config.write_text(
            f'[livekit]\nurl = "{self.server.url}"\nroom = "{self.room}"\n'
            f'identity = "edge-doctor"\n{livekit}\n'
            '[[gpio.outputs]]\nname = "fan"\nkind = "pwm"\npin = 18\n\n'
            '[camera]\nsource = "picamera2"\nencoder = "hardware"\n\n'
            '[microphone]\nsource = "pyaudio"\n' + extra
        )
        self.config.chmod(mode)

    def probes(self, **changes: object) -> Probes:
        gid = self.config.stat().st_gid
        edge = User(
            name="edge",
            uid=990,
            groups=frozenset({"edge", "gpio", "video", "audio", "i2c", "spi"}),
            gids=frozenset({gid}),
        )
        healthy = Probes(
            model_path=self.root / "model",
            dev=self.root / "dev",
            sys_video=self.root / "sys/class/video4linux",
            service_state_dir=self.root / "no-service-here",
            gpio_chips=lambda dev: [
                GpioChip(path=dev / "gpiochip0", label="pinctrl-bcm2711", lines=58)
            ],
            user=lambda: edge,
            lookup_user=lambda name: edge if name == "edge" else None,
            group_exists=lambda name: True,
            access=lambda path: True,
            import_error=lambda name: "",
            cameras=lambda: 1,
            libav_encoder=lambda name: True,
            clock_synced=lambda: True,
            free_bytes=lambda path: 8 * GIB,
            timeout_s=3.0,
        )
        return dataclasses.replace(healthy, **changes)  # type: ignore[arg-type]

    def check(self, **changes: object) -> dict[str, Finding]:
        findings = diagnose(self.config, self.probes(**changes))
        assert [f.check for f in findings] == CHECKS
        return {f.check: f for f in findings}


@pytest.fixture
def pi(tmp_path: Path, livekit_server: LiveKitServer, room_name: str) -> SimulatedPi:
    return SimulatedPi(tmp_path, livekit_server, room_name)


def only_problem(found: dict[str, Finding]) -> Finding:
    problems = [f for f in found.values() if f.level is not Level.OK]
    assert len(problems) == 1, render(list(found.values()))
    return problems[0]


def test_a_healthy_board_passes_every_check(pi: SimulatedPi) -> None:
    found = pi.check()
    assert all(f.level is Level.OK for f in found.values()), render(list(found.values()))
    assert not failed(list(found.values()))
    assert found["board"].message == (
        "Raspberry Pi 4 Model B Rev 1.4 (profile pi-4, hardware H.264 encoder)"
    )
    host_port = pi.server.url.removeprefix("ws://")
    assert found["server"].message == f"{host_port} accepts connections"
    assert found["token"].message == ("tokens minted with api key 'devkey'; the server accepts it")
    assert found["encoder"].message.endswith("/dev/video11")


def sees(check: str, level: Level, text: str) -> Callable[[dict[str, Finding]], None]:
    def verify(found: dict[str, Finding]) -> None:
        problem = only_problem(found)
        assert (problem.check, problem.level) == (check, level), problem.line()
        assert text in problem.line(), problem.line()

    return verify


def chips(label: str, error: str = "") -> Callable[[Path], list[GpioChip]]:
    chip = GpioChip(path=Path("gpiochip0"), label=label, error=error, denied=bool(error))
    return lambda dev: [dataclasses.replace(chip, path=dev / "gpiochip0")]


def clock_unset(found: dict[str, Finding]) -> None:
    token = found.pop("token")
    assert_level(token, Level.WARN, "cannot be judged while the clock is not set")
    sees("clock", Level.FAIL, "the clock reads 1970-01-02T00:00:00Z: it has not been set")(found)


def missing(module: str) -> Callable[[str], str]:
    return lambda name: f"ModuleNotFoundError: No module named {name!r}" if name == module else ""


def user_in(*groups: str) -> Callable[[], User]:
    return lambda: User(name="pi", uid=1000, groups=frozenset(groups), gids=frozenset())


@pytest.mark.parametrize(
    ("changes", "expect"),
    [
        pytest.param(
            {"gpio_chips": chips("pinctrl-rp1")},
            sees("gpio", Level.FAIL, "no GPIO chip labelled pinctrl-bcm2711"),
            id="wrong-gpio-chip",
        ),
        pytest.param(
            {"gpio_chips": chips("", "Permission denied")},
            sees("gpio", Level.FAIL, "(Permission denied). Fix: sudo usermod -aG gpio edge"),
            id="gpio-chip-closed",
        ),
        pytest.param(
            {"user": user_in("pi", "video", "audio"), "lookup_user": lambda name: None},
            sees("groups", Level.FAIL, "user pi is not in group(s) gpio (GPIO devices)"),
            id="not-in-gpio-group",
        ),
        pytest.param(
            {"import_error": missing("picamera2")},
            sees("camera", Level.FAIL, "picamera2 cannot be imported"),
            id="no-picamera2",
        ),
        pytest.param(
            {"import_error": missing("pyaudio")},
            sees("audio", Level.FAIL, "pyaudio cannot be imported"),
            id="no-pyaudio",
        ),
        pytest.param(
            {"cameras": lambda: 0},
            sees("camera", Level.FAIL, "libcamera sees 0 camera(s), the config uses camera 0"),
            id="no-camera",
        ),
        pytest.param(
            {"sys_video": Path("/nonexistent")},
            sees("encoder", Level.FAIL, "no hardware H.264 encoder device"),
            id="no-encoder",
        ),
        pytest.param(
            {"dev": Path("/nonexistent/dev"), "gpio_chips": chips("pinctrl-bcm2711")},
            sees("audio", Level.FAIL, "no sound capture device in /nonexistent/dev/snd"),
            id="no-microphone",
        ),
        pytest.param(
            {"now": lambda: 86400.0},
            clock_unset,
            id="clock-unset",
        ),
        pytest.param(
            {"clock_synced": lambda: False},
            sees("clock", Level.WARN, "not synchronised by NTP"),
            id="clock-unsynchronised",
        ),
        pytest.param(
            {"free_bytes": lambda path: 5 * 1024 * 1024},
            sees("disk", Level.FAIL, "5 MiB free for the spool"),
            id="disk-full",
        ),
    ],
)
def test_each_hardware_and_system_failure_is_named(
    pi: SimulatedPi,
    changes: dict[str, object],
    expect: Callable[[dict[str, Finding]], None],
) -> None:
    expect(pi.check(**changes))


def assert_level(finding: Finding, level: Level, text: str) -> None:
    assert finding.level is level, finding.line()
    assert text in finding.line(), finding.line()


def test_an_unreachable_server_fails_and_the_token_is_not_judged_by_it(
    pi: SimulatedPi, closed_port: int
) -> None:
    pi.config.write_text(
        pi.config.read_text().replace(pi.server.url, f"ws://127.0.0.1:{closed_port}")
    )
    found = pi.check()
    assert_level(found["server"], Level.FAIL, f"cannot connect to 127.0.0.1:{closed_port}")
    assert_level(found["token"], Level.WARN, "not shown to the server (unreachable)")


def test_with_several_urls_one_down_is_a_warning_and_the_token_is_checked_by_another(
    pi: SimulatedPi, closed_port: int
) -> None:
    down = f"ws://127.0.0.1:{closed_port}"
    pi.config.write_text(
        pi.config.read_text().replace(f'"{pi.server.url}"', f'["{down}", "{pi.server.url}"]')
    )
    found = pi.check()
    assert_level(found["server"], Level.WARN, "(1 of 2 URLs reachable)")
    assert_level(found["server"], Level.WARN, f"cannot connect to 127.0.0.1:{closed_port}")
    assert_level(found["token"], Level.OK, "the server accepts it")


def test_a_wrong_secret_is_refused_by_the_server(pi: SimulatedPi) -> None:
    pi.write_config(f'api_key = "{pi.server.api_key}"\napi_secret = "{"x" * 40}"\n')
    problem = only_problem(pi.check())
    assert (problem.check, problem.level) == ("token", Level.FAIL)
    assert "the server refuses it" in problem.message


def test_static_tokens_expired_expiring_and_valid(pi: SimulatedPi) -> None:
    def token(ttl_s: int) -> str:
        return mint_token(
            api_key=pi.server.api_key,
            api_secret=pi.server.api_secret,
            room=pi.room,
            identity="edge-doctor",
            ttl_s=ttl_s,
        )

    pi.write_config(f'token = "{token(3600)}"\n')
    assert_level(pi.check()["token"], Level.WARN, "the server accepts it, but not for long")
    pi.write_config(f'token = "{token(7 * 86400)}"\n')
    assert_level(pi.check()["token"], Level.OK, "(in 7 days); the server accepts it")
    later = time.time() + 2 * 3600
    found = pi.check(now=lambda: later)
    assert_level(found["token"], Level.OK, "static token for 'edge-doctor'")
    pi.write_config(f'token = "{token(60)}"\n')
    found = pi.check(now=lambda: time.time() + 120)
    assert_level(found["token"], Level.FAIL, "token: expired at")


def test_an_unreachable_broker_fails(pi: SimulatedPi, closed_port: int) -> None:
    pi.write_config(extra=f'\n[mqtt]\nhost = "127.0.0.1"\nport = {closed_port}\n')
    problem = only_problem(pi.check())
    assert problem.line().startswith(f"FAIL  mqtt     cannot connect to 127.0.0.1:{closed_port}")


def test_a_world_readable_secret_and_an_unreadable_config_fail(pi: SimulatedPi) -> None:
    pi.write_config(mode=0o644)
    assert_level(pi.check()["secrets"], Level.FAIL, "holds livekit.api_secret and every user can")
    pi.write_config(mode=0o600)
    assert_level(pi.check()["secrets"], Level.FAIL, "the service user edge cannot read")


def test_bad_wiring_and_an_unknown_board(pi: SimulatedPi) -> None:
    pi.write_config(extra='[[gpio.outputs]]\nname = "arm"\nkind = "servo"\npin = 17\n')
    assert_level(pi.check()["pins"], Level.OK, "every declared pin exists on pi-4")
    (pi.root / "model").write_bytes(b"Raspberry Pi 2 Model B Rev 1.1\0")
    pi.write_config()
    found = pi.check()
    assert_level(found["board"], Level.WARN, "no profile for this board, using generic")
    assert_level(found["gpio"], Level.WARN, "they work only simulated")


def test_an_invalid_config_fails_and_skips_what_needs_it(pi: SimulatedPi) -> None:
    pi.write_config(extra='[board]\nprofile = "pi-6"\n')
    found = pi.check()
    assert_level(found["config"], Level.FAIL, "board.profile: unknown board 'pi-6'")
    assert found["server"].message == "not checked: no valid config"
    assert failed(list(found.values()))


def test_the_real_gpio_probe_reports_a_node_that_is_no_gpio_chip(tmp_path: Path) -> None:
    (tmp_path / "gpiochip0").write_bytes(b"")
    (chip,) = read_gpio_chips(tmp_path)
    assert (chip.label, chip.denied) == ("", False)
    assert chip.error == "Inappropriate ioctl for device"


def test_edge_check_exits_non_zero_and_prints_one_line_per_check(
    tmp_path: Path, closed_port: int
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(
        f'[livekit]\nurl = "ws://127.0.0.1:{closed_port}"\nroom = "r"\nidentity = "e"\n'
        'token = "not-a-jwt"\n'
    )
    config.chmod(0o600)
    out = subprocess.run(
        [sys.executable, "-m", "edge", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LIVEKIT_API_KEY": "", "LIVEKIT_API_SECRET": ""},
    )
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert [line.split()[1] for line in lines[:-1]] == CHECKS
    assert f"FAIL  server   cannot connect to 127.0.0.1:{closed_port}" in out.stdout
    assert "FAIL  token    token: not a JWT" in out.stdout
    assert lines[-1].startswith("edge check: ")
