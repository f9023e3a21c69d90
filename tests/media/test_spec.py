"""The [camera] and [microphone] config sections: defaults per source, every mistake by path."""

from __future__ import annotations

import dataclasses
import tomllib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.board import load_profile
from edge.config import parse_config
from edge.errors import ConfigError
from edge.media.spec import (
    SCHEMA,
    SYNTHETIC_CAMERA,
    AudioKind,
    CameraConfig,
    CameraKind,
    EncoderKind,
    MicrophoneConfig,
    describe_camera,
    describe_microphone,
    parse_camera,
    parse_microphone,
)
from edge.reference import render
from edge.settings import known_keys
from edge.toml_table import Table

LIVEKIT = '[livekit]\nurl = "ws://127.0.0.1:7880"\nroom = "r"\nidentity = "cam"\ntoken = "x.y.z"\n'
PI4 = '[board]\nprofile = "pi-4"\n'
"""A board with the hardware encoder, whatever machine runs the tests."""


def camera(text: str) -> tuple[CameraConfig, list[str]]:
    data: dict[str, Any] = tomllib.loads(text)
    issues: list[str] = []
    return parse_camera(Table("camera", data, issues, SCHEMA)), issues


def microphone(text: str) -> tuple[MicrophoneConfig, list[str]]:
    data: dict[str, Any] = tomllib.loads(text)
    issues: list[str] = []
    return parse_microphone(Table("microphone", data, issues, SCHEMA)), issues


def test_camera_defaults_suit_a_pi_zero_2w_hardware_encoder() -> None:
    config, issues = camera("")
    assert issues == []
    assert config == CameraConfig()
    assert (config.source, config.encoder) == (CameraKind.PICAMERA2, EncoderKind.HARDWARE)
    assert (config.width, config.height, config.framerate) == (1280, 720, 30.0)
    assert config.keyframe_interval_frames == 60


def test_a_synthetic_camera_defaults_smaller_and_to_libx264() -> None:
    config, issues = camera('source = "synthetic"')
    assert issues == []
    assert config == SYNTHETIC_CAMERA
    assert (config.width, config.height, config.framerate) == (640, 360, 15.0)
    assert config.encoder is EncoderKind.SOFTWARE


def test_every_camera_field() -> None:
    config, issues = camera(
        """
        enabled = false
        source = "picamera2"
        encoder = "software"
        device = "1"
        name = "front door"
        width = 2560
        height = 1440
        framerate = 24
        bitrate = 4000000
        keyframe_interval_s = 10
        allow = ["operator-*"]
        """
    )
    assert issues == []
    assert config == CameraConfig(
        enabled=False,
        encoder=EncoderKind.SOFTWARE,
        device="1",
        name="front door",
        width=2560,
        height=1440,
        framerate=24.0,
        bitrate=4_000_000,
        keyframe_interval_s=10.0,
        allow=("operator-*",),
    )
    assert config.keyframe_interval_frames == 240


@pytest.mark.parametrize(
    ("text", "issue"),
    [
        (
            "width = 1921",
            "camera.width: must be even and 32..1920 for the hardware encoder, got 1921",
        ),
        (
            "width = 1922",
            "camera.width: must be even and 32..1920 for the hardware encoder, got 1922",
        ),
        (
            "height = 1081",
            "camera.height: must be even and 32..1080 for the hardware encoder, got 1081",
        ),
        (
            'encoder = "software"\nwidth = 4000',
            "camera.width: must be even and 32..3840 for the software encoder, got 4000",
        ),
        (
            "height = 16",
            "camera.height: must be even and 32..1080 for the hardware encoder, got 16",
        ),
        ('width = "wide"', "camera.width: expected an integer from 1 to 100000, got string"),
        (
            "width = 1920\nheight = 1080\nframerate = 60",
            "camera.framerate: the hardware encoder manages at most 1920x1080 at 30 fps"
            " (62208000 pixels/s), got 1920x1080 at 60",
        ),
        ('source = "usb"', "camera.source: expected one of picamera2, v4l2, synthetic, got 'usb'"),
        ('encoder = "gpu"', "camera.encoder: expected one of hardware, software, got 'gpu'"),
        (
            'source = "v4l2"\nencoder = "hardware"',
            "camera.encoder: applies to picamera2 only; v4l2 uses libx264",
        ),
        (
            'device = "/dev/video0"',
            "camera.device: expected a camera number such as '0' for picamera2, got '/dev/video0'",
        ),
        (
            'source = "synthetic"\ndevice = "0"',
            "camera.device: does not apply to a synthetic camera",
        ),
        ("bitrate = 1000", "camera.bitrate: expected an integer from 50000 to 25000000, got 1000"),
        (
            "keyframe_interval_s = 0",
            "camera.keyframe_interval_s: expected a number from 0.1 to 60, got 0",
        ),
        ('name = ""', "camera.name: must not be empty"),
        ("frame_rate = 30", "camera.frame_rate: unknown key (did you mean 'framerate'?)"),
    ],
)
def test_camera_mistakes_name_the_field(text: str, issue: str) -> None:
    _, issues = camera(text)
    assert issues == [issue]


def test_a_big_picture_is_fine_on_the_software_encoder_at_high_rates() -> None:
    config, issues = camera('encoder = "software"\nwidth = 1920\nheight = 1080\nframerate = 60')
    assert issues == []
    assert config.framerate == 60.0


def test_microphone_defaults_and_every_field() -> None:
    config, issues = microphone("")
    assert (issues, config) == ([], MicrophoneConfig())
    assert config.frame_samples == 960
    config, issues = microphone(
        'source = "synthetic"\nname = "mic"\nsample_rate = 16000\nchannels = 2\ntone_hz = 1000\n'
        "bitrate_kbps = 24\ncomplexity = 2\nallow = []\nenabled = false"
    )
    assert issues == []
    assert config == MicrophoneConfig(
        enabled=False,
        source=AudioKind.SYNTHETIC,
        name="mic",
        sample_rate=16000,
        channels=2,
        tone_hz=1000.0,
        bitrate_kbps=24,
        complexity=2,
        allow=(),
    )
    assert config.frame_samples == 320
    config, issues = microphone('device = "USB"')
    assert (issues, config.device) == ([], "USB")


@pytest.mark.parametrize(
    ("text", "issue"),
    [
        (
            "sample_rate = 22050",
            "microphone.sample_rate: expected one of 16000, 24000, 32000, 44100, 48000, got 22050",
        ),
        ("channels = 3", "microphone.channels: expected an integer from 1 to 2, got 3"),
        ("bitrate_kbps = 5", "microphone.bitrate_kbps: expected an integer from 6 to 128, got 5"),
        (
            "bitrate_kbps = 256",
            "microphone.bitrate_kbps: expected an integer from 6 to 128, got 256",
        ),
        (
            "bitrate_kbps = 32.5",
            "microphone.bitrate_kbps: expected an integer from 6 to 128, got float",
        ),
        ("complexity = 11", "microphone.complexity: expected an integer from 0 to 10, got 11"),
        ("complexity = -1", "microphone.complexity: expected an integer from 0 to 10, got -1"),
        (
            "tone_hz = 880",
            "microphone.tone_hz: applies to a synthetic microphone only, not pyaudio",
        ),
        (
            'source = "synthetic"\ntone_hz = 30000',
            "microphone.tone_hz: expected a number from 20 to 24000, got 30000",
        ),
        (
            'source = "synthetic"\ndevice = "1"',
            "microphone.device: does not apply to a synthetic microphone",
        ),
        ('source = "alsa"', "microphone.source: expected one of pyaudio, synthetic, got 'alsa'"),
        ("device = 2", "microphone.device: expected a string, got int"),
        ("rate = 48000", "microphone.rate: unknown key"),
    ],
)
def test_microphone_mistakes_name_the_field(text: str, issue: str) -> None:
    _, issues = microphone(text)
    assert issues == [issue]


def test_config_has_no_media_without_the_sections_and_parses_them_with_them() -> None:
    config = parse_config(tomllib.loads(LIVEKIT))
    assert (config.camera, config.microphone) == (None, None)
    config = parse_config(tomllib.loads(LIVEKIT + '[camera]\nsource = "synthetic"\n[microphone]\n'))
    assert config.camera == SYNTHETIC_CAMERA
    assert config.microphone == MicrophoneConfig()
    assert config.redacted()["camera"]["source"] == "synthetic"  # plain data, enums by value


def test_config_reports_media_mistakes_with_the_rest() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            tomllib.loads(LIVEKIT + PI4 + "[camera]\nwidth = 7\n[microphone]\nchannels = 0\n")
        )
    assert caught.value.issues == [
        "camera.width: must be even and 32..1920 for the hardware encoder, got 7",
        "microphone.channels: expected an integer from 1 to 2, got 0",
    ]


def test_check_config_lines() -> None:
    assert describe_camera(None) == "off (no [camera] section)"
    assert describe_camera(CameraConfig()) == (
        "'camera' 1280x720 at 30 fps, 1500 kbit/s, IDR every 2 s (picamera2, hardware encoder)"
    )
    assert describe_microphone(MicrophoneConfig(device="USB")) == (
        "'microphone' 48000 Hz, 1 channel(s), Opus mono 32 kbit/s (pyaudio, device 'USB')"
    )


@given(
    st.dictionaries(
        st.sampled_from(SCHEMA["camera"] + ("extra",)),
        st.one_of(st.integers(-5000, 5000), st.floats(allow_nan=True), st.text(max_size=8)),
        max_size=6,
    )
)
def test_any_camera_table_parses_or_names_its_problems(data: dict[str, Any]) -> None:
    issues: list[str] = []
    config = parse_camera(Table("camera", data, issues, SCHEMA))
    assert all(issue.startswith("camera.") for issue in issues)
    if not issues:
        assert (config.width % 2, config.height % 2) == (0, 0)


def test_camera_problems_come_in_the_order_the_keys_are_declared() -> None:
    _, issues = camera(
        'source = "v4l2"\nencoder = "hardware"\nclip = "a.h264"\nname = ""\nwidth = 7\n'
        'bitrate = 1\nallow = [""]\nenabled = 1\nzoom = 2\n'
    )
    assert issues == [
        "camera.encoder: applies to picamera2 only; v4l2 uses libx264",
        'camera.clip: applies to source = "synthetic" only, not v4l2',
        "camera.name: must not be empty",
        "camera.width: must be even and 32..3840 for the software encoder, got 7",
        "camera.bitrate: expected an integer from 50000 to 25000000, got 1",
        "camera.allow: expected an array of at most 64 non-empty strings",
        "camera.enabled: expected true or false, got int",
        "camera.zoom: unknown key",
    ]
    assert SCHEMA["camera"] == known_keys(CameraConfig)
    assert SCHEMA["microphone"] == known_keys(MicrophoneConfig)


def test_the_pixel_rate_is_checked_only_for_a_size_that_is_itself_fine() -> None:
    _, issues = camera("width = 1921\nheight = 1080\nframerate = 60")
    assert issues == ["camera.width: must be even and 32..1920 for the hardware encoder, got 1921"]
    _, issues = camera('width = "wide"\nheight = 1080\nframerate = 60')
    assert issues == ["camera.width: expected an integer from 1 to 100000, got string"]


def test_picture_defaults_follow_the_board_then_the_source() -> None:
    pi5 = load_profile("pi-5")
    issues: list[str] = []
    config = parse_camera(Table("camera", {}, issues, SCHEMA), board=pi5)
    assert issues == []
    assert (config.encoder, config.bitrate) == (EncoderKind.SOFTWARE, pi5.camera.bitrate)
    synthetic = parse_camera(Table("camera", {"source": "synthetic"}, issues, SCHEMA), board=pi5)
    assert synthetic == SYNTHETIC_CAMERA
    assert (synthetic.width, synthetic.bitrate) == (640, 600_000)
    v4l2 = parse_camera(
        Table("camera", {"source": "v4l2"}, issues, SCHEMA), board=load_profile("pi-4")
    )
    assert (v4l2.encoder, issues) == (EncoderKind.SOFTWARE, [])


def test_a_bad_sample_rate_is_named_and_the_tone_is_bounded_by_the_rate_read() -> None:
    _, issues = microphone('source = "synthetic"\nsample_rate = 16000\ntone_hz = 9000\nrate = 1')
    assert issues == [
        "microphone.tone_hz: expected a number from 20 to 8000, got 9000",
        "microphone.rate: unknown key",
    ]


def test_the_media_reference_rows_are_the_declarations() -> None:
    for name, cls in (("camera", CameraConfig), ("microphone", MicrophoneConfig)):
        rendered = render(f"<!-- keys: {name} -->\n<!-- /keys -->\n").splitlines()
        assert [row.split(" | ")[0][3:-1] for row in rendered[3:-1]] == list(known_keys(cls))
    row = next(
        r for r in render("<!-- keys: camera -->\n<!-- /keys -->\n").splitlines() if "`width`" in r
    )
    assert row.startswith("| `width` | int | board (`1280`); synthetic `640` | 1 to 100 000 |")


def test_the_board_s_sound_card_is_the_default_input_of_pyaudio_only() -> None:
    pi4 = load_profile("pi-4")
    board = dataclasses.replace(pi4, audio=dataclasses.replace(pi4.audio, device="USB"))
    issues: list[str] = []
    real = parse_microphone(Table("microphone", {}, issues, SCHEMA), board=board)
    tone = parse_microphone(
        Table("microphone", {"source": "synthetic"}, issues, SCHEMA), board=board
    )
    assert (real.device, tone.device, issues) == ("USB", "", [])
