"""`edge selftest`: every part skips with its reason on a laptop, passes on the board's twins,
and switches only the outputs named with --toggle, always back to their safe value."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from edge.cli import EXIT_OK, main
from edge.config import Config, load_config
from edge.doctor.selftest import Outcome, Part, Rig, failed, render, selftest
from edge.errors import MediaError
from edge.media.frames import AudioSource, EncodedFrame, SourceState, VideoSource
from edge.media.sources import open_audio_source, open_video_source

BASE = """[livekit]
url = "ws://127.0.0.1:7880"
room = "lab"
identity = "edge-selftest"
api_key = "key"
api_secret = "secret-secret-secret-secret-secret"

[[gpio.outputs]]
name = "relay"
kind = "digital"
pin = 17
safe_value = 0.0
active_high = false

[[gpio.outputs]]
name = "lamp"
kind = "digital"
pin = 27
safe_value = 0.0

[[gpio.outputs]]
name = "fan"
kind = "pwm"
pin = 18

[camera]
source = "picamera2"
encoder = "hardware"

[microphone]
source = "pyaudio"
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(BASE)
    return path


@pytest.fixture
def config(config_path: Path) -> Config:
    return load_config(config_path)


def by_name(parts: list[Part]) -> dict[str, Part]:
    return {p.name: p for p in parts}


async def test_on_a_laptop_every_hardware_part_skips_with_its_reason(
    config: Config, tmp_path: Path
) -> None:
    rig = Rig(dev=tmp_path / "dev", import_error=lambda name: f"ModuleNotFoundError: {name}")
    parts = by_name(await selftest(config, toggle=["relay", "fan"], rig=rig))
    assert {p.outcome for p in parts.values()} == {Outcome.SKIP}
    assert parts["camera"].detail.startswith("picamera2 does not import (ModuleNotFoundError")
    assert parts["audio"].detail == "pyaudio does not import (ModuleNotFoundError: pyaudio)"
    assert parts["relay"].detail == f"no {tmp_path}/dev/gpiochip*: no GPIO on this machine"
    assert parts["lamp"].detail == "not switched: add --toggle lamp if what it drives is safe"
    assert parts["fan"].detail == "pwm outputs are not pulsed (only on/off ones)"


def test_the_command_prints_a_report_for_a_bug_report(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # On this machine (CI, a laptop) without --toggle nothing is switched, whatever /dev has.
    assert main(["selftest", "--config", str(config_path)]) == EXIT_OK
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("edge selftest ")
    assert lines[1].startswith("python 3.")
    assert lines[2].startswith("libraries: aiortc ")
    assert "google-crc32c" in lines[2]
    assert "skip  lamp     not switched: add --toggle lamp" in out
    assert lines[-1].startswith("edge selftest: 0 PASS, 0 FAIL, ")


def twin_camera(config: Config) -> VideoSource:
    assert config.camera is not None
    return open_video_source(config.camera, simulate=True)


def twin_microphone(config: Config) -> AudioSource:
    assert config.microphone is not None
    return open_audio_source(config.microphone, simulate=True)


async def test_on_the_twins_every_part_passes_and_untoggled_outputs_never_move(
    config: Config,
) -> None:
    factory = MockFactory()
    rig = Rig(
        video=twin_camera,
        audio=twin_microphone,
        pin_factory=factory,
        audio_s=0.2,
        pulse_s=0,
    )
    parts = by_name(await selftest(config, toggle=["relay"], rig=rig))
    assert parts["camera"].outcome is Outcome.PASS, parts["camera"].detail
    assert "IDR on demand after" in parts["camera"].detail
    assert "B JPEG" in parts["camera"].detail
    assert parts["audio"].outcome is Outcome.PASS, parts["audio"].detail
    assert parts["audio"].detail.startswith("0.2 s at 48000 Hz")
    assert parts["relay"] == Part(
        name="relay",
        outcome=Outcome.PASS,
        detail="pin 17 pulsed 0 s, read back 0->0, 1->1, 0->0",
    )
    # active-low relay: line high (off), low (on) for the pulse, high again; the lamp untouched
    relay, lamp = factory.pin(17), factory.pin(27)
    assert [s.state for s in relay.states][-3:] == [True, False, True]
    assert all(s.state is False for s in lamp.states)
    assert not failed(list(parts.values()))


class StuckPin(MockPin):  # type: ignore[misc]
    """A line that reads low whatever is driven (a short to ground, a wrong pin number)."""

    def _get_state(self) -> bool:
        return False


async def test_a_line_that_does_not_follow_fails_and_ends_safe(config: Config) -> None:
    factory = MockFactory(pin_class=StuckPin)
    config = dataclasses.replace(config, camera=None, microphone=None)
    parts = by_name(
        await selftest(config, toggle=["lamp", "nothing"], rig=Rig(pin_factory=factory, pulse_s=0))
    )
    assert parts["lamp"].outcome is Outcome.FAIL
    assert parts["lamp"].detail == "pin 27 driven to 1, reads 0 (0->0, 1->0)"
    assert parts["nothing"] == Part(name="nothing", outcome=Outcome.FAIL, detail="no such output")
    assert [s.state for s in factory.pin(27).states][-1] is False  # driven back to safe
    assert "2 FAIL" in render(config, list(parts.values()))


class BrokenCamera:
    """A camera whose library raises something that is not ours (picamera2's RuntimeError)."""

    width, height, framerate, bitrate = 640, 480, 30.0, 1_000_000
    state, last_error, dropped = SourceState.STOPPED, "", 0
    closed = False

    async def start(self) -> None:
        raise RuntimeError("Camera __init__ sequence did not complete.")

    async def aclose(self) -> None:
        self.closed = True

    async def next_frame(self) -> EncodedFrame:
        raise MediaError("never started")

    def request_keyframe(self) -> None:
        pass

    async def snapshot_jpeg(self) -> bytes:
        raise MediaError("never started")


async def test_a_library_error_is_a_failed_part_not_a_crash(config: Config) -> None:
    camera = BrokenCamera()
    config = dataclasses.replace(config, microphone=None)
    rig = Rig(video=lambda c: camera, pin_factory=MockFactory())
    parts = by_name(await selftest(config, rig=rig))
    assert parts["camera"] == Part(
        name="camera",
        outcome=Outcome.FAIL,
        detail="RuntimeError: Camera __init__ sequence did not complete.",
    )
    assert camera.closed
