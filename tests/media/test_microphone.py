"""MicrophoneSource over the pyaudio twin: 20 ms frames, the tone, devices, failures."""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import os
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from edge.errors import DeviceUnavailable, MediaError
from edge.media.frames import PcmFrame, SourceState
from edge.media.microphone import QUEUE_FRAMES, MicrophoneSource
from edge.media.spec import AudioKind, MicrophoneConfig
from edge.media.synthetic_audio import SyntheticAudioSystem, hardware_card, pipewire_device
from tests.helpers import assert_eventually

CONFIG = MicrophoneConfig(source=AudioKind.SYNTHETIC, tone_hz=1000.0)


@pytest.fixture(autouse=True)
def portaudio_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a fresh board: nobody set PA_ALSA_PLUGHW (and what the source sets is undone)."""
    monkeypatch.delenv("PA_ALSA_PLUGHW", raising=False)


@pytest.fixture
def sound_cards() -> SyntheticAudioSystem:
    return SyntheticAudioSystem(tone_hz=1000.0)


@pytest.fixture
async def microphone(sound_cards: SyntheticAudioSystem) -> AsyncIterator[MicrophoneSource]:
    source = MicrophoneSource(CONFIG, pyaudio=sound_cards.module, stall_timeout_s=1.0)
    await source.start()
    try:
        yield source
    finally:
        await source.aclose()


async def frames(source: MicrophoneSource, count: int) -> list[PcmFrame]:
    return [await source.next_frame() for _ in range(count)]


def dominant_hz(frames: list[PcmFrame]) -> float:
    samples = np.frombuffer(b"".join(f.data for f in frames), dtype="<i2")
    samples = samples.reshape(-1, frames[0].channels)[:, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    bins = np.fft.rfftfreq(len(samples), 1 / frames[0].sample_rate)
    return float(bins[int(np.argmax(spectrum))])


async def test_frames_are_20_ms_of_48_khz_mono_s16(microphone: MicrophoneSource) -> None:
    got = await frames(microphone, 10)
    assert {(f.sample_rate, f.channels, f.samples, len(f.data)) for f in got} == {
        (48_000, 1, 960, 1920)
    }
    steps = [b.timestamp_us - a.timestamp_us for a, b in itertools.pairwise(got)]
    assert all(step > 0 for step in steps)
    assert 15_000 < sum(steps) / len(steps) < 40_000  # 20 000 µs, give or take scheduling
    assert (microphone.state, microphone.device_name) == (
        SourceState.RUNNING,
        "Synthetic Microphone: tone (hw:1,0)",
    )


async def test_the_tone_is_at_its_configured_frequency(microphone: MicrophoneSource) -> None:
    got = await frames(microphone, 50)  # one second: 1 Hz bins
    assert dominant_hz(got) == pytest.approx(1000.0, rel=0.02)


async def test_stereo_at_16_khz(sound_cards: SyntheticAudioSystem) -> None:
    sound_cards.tone_hz = 440.0
    config = dataclasses.replace(CONFIG, sample_rate=16_000, channels=2)
    source = MicrophoneSource(config, pyaudio=sound_cards.module)
    await source.start()
    try:
        got = await frames(source, 25)
    finally:
        await source.aclose()
    assert {(f.samples, len(f.data)) for f in got} == {(320, 1280)}
    stereo = np.frombuffer(b"".join(f.data for f in got), dtype="<i2").reshape(-1, 2)
    assert (stereo[:, 0] == stereo[:, 1]).all()
    assert dominant_hz(got) == pytest.approx(440.0, rel=0.02)


@pytest.mark.parametrize("device", ["synthetic MIC", "tone", "0"])
async def test_a_device_by_name_part_or_index(
    sound_cards: SyntheticAudioSystem, device: str
) -> None:
    source = MicrophoneSource(
        dataclasses.replace(CONFIG, device=device), pyaudio=sound_cards.module
    )
    await source.start()
    try:
        assert (await source.next_frame()).samples == 960
        assert source.device_name == "Synthetic Microphone: tone (hw:1,0)"
    finally:
        await source.aclose()


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("webcam", "no audio input device 'webcam' (inputs: 0: 'Synthetic Microphone: tone"),
        ("1", "no audio input device '1' (inputs: 0: 'Synthetic Microphone"),  # output-only
        ("7", "no audio input device '7' (inputs: 0: "),
    ],
)
async def test_an_unknown_device_lists_the_inputs(
    sound_cards: SyntheticAudioSystem, device: str, message: str
) -> None:
    source = MicrophoneSource(
        dataclasses.replace(CONFIG, device=device), pyaudio=sound_cards.module
    )
    with pytest.raises(DeviceUnavailable) as caught:
        await source.start()
    assert str(caught.value).startswith(message)
    assert source.state is SourceState.FAILED
    assert sound_cards.streams == []


async def test_no_input_device_at_all(sound_cards: SyntheticAudioSystem) -> None:
    sound_cards.unplug()
    source = MicrophoneSource(CONFIG, pyaudio=sound_cards.module)
    with pytest.raises(DeviceUnavailable, match=r"^no default audio input device \(inputs: none\)"):
        await source.start()
    sound_cards.plug_in()  # a new PyAudio() scans again: the device is back
    await source.start()
    try:
        assert (await source.next_frame()).samples == 960
    finally:
        await source.aclose()


async def test_too_many_channels_for_the_device(sound_cards: SyntheticAudioSystem) -> None:
    sound_cards.devices[0]["maxInputChannels"] = 1
    source = MicrophoneSource(dataclasses.replace(CONFIG, channels=2), pyaudio=sound_cards.module)
    with pytest.raises(DeviceUnavailable, match="has 1 channel"):
        await source.start()


@pytest.mark.parametrize(("hang", "how"), [(False, "stream ended"), (True, "stream still open")])
async def test_unplugged_at_run_time_raises_device_unavailable(
    sound_cards: SyntheticAudioSystem, hang: bool, how: str
) -> None:
    source = MicrophoneSource(CONFIG, pyaudio=sound_cards.module, stall_timeout_s=0.2)
    await source.start()
    try:
        await frames(source, 2)
        sound_cards.unplug(hang=hang)
        with pytest.raises(
            DeviceUnavailable, match=rf"sent no audio for 0\.2 s \({how}; unplugged"
        ):
            await frames(source, 100)
        assert source.state is SourceState.FAILED
        with pytest.raises(DeviceUnavailable):
            await source.next_frame()
    finally:
        await source.aclose()
    assert sound_cards.streams == []


async def test_input_overflows_are_counted_and_tolerated(
    sound_cards: SyntheticAudioSystem, microphone: MicrophoneSource
) -> None:
    sound_cards.pending_overflows = 3
    got = await frames(microphone, 10)
    assert len(got) == 10
    assert microphone.overflows == 3


async def test_a_stopped_consumer_drops_the_oldest(microphone: MicrophoneSource) -> None:
    await frames(microphone, 1)
    await assert_eventually(lambda: microphone.dropped >= 3, timeout=10)
    # what is left is the freshest audio: at most QUEUE_FRAMES of it, in order
    got = await frames(microphone, QUEUE_FRAMES)
    assert [f.timestamp_us for f in got] == sorted(f.timestamp_us for f in got)
    assert microphone.state is SourceState.RUNNING


async def test_closed_microphone_raises_media_error_and_aclose_is_idempotent(
    sound_cards: SyntheticAudioSystem,
) -> None:
    source = MicrophoneSource(CONFIG, pyaudio=sound_cards.module)
    with pytest.raises(MediaError, match="not started"):
        await source.next_frame()
    await source.start()
    assert len(sound_cards.streams) == 1
    await source.aclose()
    await source.aclose()
    assert source.state is SourceState.STOPPED
    assert sound_cards.streams == []
    with pytest.raises(MediaError, match="closed"):
        await source.next_frame()


async def test_without_pyaudio_the_error_says_how_to_install_it() -> None:
    if importlib.util.find_spec("pyaudio") is not None:
        pytest.skip("pyaudio is installed here")
    with pytest.raises(MediaError, match="python3-pyaudio"):
        await MicrophoneSource(MicrophoneConfig()).start()


def usb_card(index: int) -> dict[str, Any]:
    """A card whose only native format is 44.1 kHz stereo, as many USB microphones."""
    return hardware_card(index, "USB Audio", card=1, rates=(44100,), channels=2)


async def test_a_hw_card_without_48_khz_mono_is_opened_through_plughw() -> None:
    """Issue 17 (8): PortAudio converts nothing on hw: devices unless PA_ALSA_PLUGHW=1."""
    cards = SyntheticAudioSystem(tone_hz=1000.0, devices=[usb_card(0)])
    source = MicrophoneSource(CONFIG, pyaudio=cards.module)
    await source.start()
    try:
        got = await frames(source, 3)
    finally:
        await source.aclose()
    assert {(f.sample_rate, f.channels) for f in got} == {(48_000, 1)}
    assert os.environ["PA_ALSA_PLUGHW"] == "1"


async def test_a_user_who_turned_plughw_off_gets_the_device_and_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PA_ALSA_PLUGHW", "0")
    cards = SyntheticAudioSystem(devices=[usb_card(0)])
    source = MicrophoneSource(CONFIG, pyaudio=cards.module)
    with pytest.raises(DeviceUnavailable) as raised:
        await source.start()
    message = str(raised.value)
    assert "0 'USB Audio (hw:1,0)': [Errno -9997] Invalid sample rate" in message
    assert "PA_ALSA_PLUGHW='0' makes PortAudio open hw: devices without conversion" in message
    assert os.environ["PA_ALSA_PLUGHW"] == "0"  # the user's choice stands


async def test_a_desktop_images_pipewire_default_falls_back_to_the_hw_card(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cards = SyntheticAudioSystem(tone_hz=1000.0, devices=[pipewire_device(0), usb_card(1)])
    source = MicrophoneSource(CONFIG, pyaudio=cards.module)
    await source.start()
    try:
        assert (await source.next_frame()).sample_rate == 48_000
    finally:
        await source.aclose()
    assert source.device_name == "USB Audio (hw:1,0)"
    assert "the default input could not be opened (0 'pipewire'" in caplog.text


async def test_pipewire_alone_says_the_service_user_cannot_reach_it() -> None:
    cards = SyntheticAudioSystem(devices=[pipewire_device(0)])
    with pytest.raises(DeviceUnavailable, match=r"PipeWire.*set microphone\.device to a hardware"):
        await MicrophoneSource(CONFIG, pyaudio=cards.module).start()


async def test_a_failure_inside_the_callback_never_reaches_portaudio(
    sound_cards: SyntheticAudioSystem,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = MicrophoneSource(CONFIG, pyaudio=sound_cards.module, stall_timeout_s=1.0)
    await source.start()
    try:
        bridge = source._bridge
        assert bridge is not None
        put = bridge.put
        failures = iter([True, True])

        def flaky_put(item: PcmFrame) -> None:
            if next(failures, False):
                raise RuntimeError("the loop is closing")
            put(item)

        monkeypatch.setattr(bridge, "put", flaky_put)
        got = await frames(source, 3)  # the stream was not aborted
    finally:
        await source.aclose()
    assert len(got) == 3
    assert caplog.text.count("could not be handed on") == 1
