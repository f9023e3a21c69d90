"""The PyAV stand-in: aiortc's data channels work without FFmpeg, media code fails clearly.

Each case runs in a fresh interpreter: the stand-in must be in place before anything imports
aiortc, and this test process has long imported the real PyAV.
"""

from __future__ import annotations

import json
import subprocess
import sys

DATA_CHANNEL = """\
import asyncio, json, pathlib, sys
from edge import pyav_stand_in
assert pyav_stand_in.install()
from aiortc import RTCPeerConnection

async def main():
    a, b = RTCPeerConnection(), RTCPeerConnection()
    got = asyncio.get_running_loop().create_future()
    channel = a.createDataChannel("reliable")
    channel.on("open", lambda: channel.send("over the data channel"))
    b.on("datachannel", lambda ch: ch.on("message", got.set_result))
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    message = await asyncio.wait_for(got, 20)
    await a.close(); await b.close()
    maps = pathlib.Path("/proc/self/maps").read_text()
    print(json.dumps([message, pyav_stand_in.installed(), "libavcodec" in maps]))

asyncio.run(main())
"""

MEDIA = """\
from edge import pyav_stand_in
pyav_stand_in.install()
from av import AudioFrame
try:
    AudioFrame(format="s16", layout="mono", samples=960)
except pyav_stand_in.PyAvAbsent as exc:
    print(exc)
"""

ALREADY_LOADED = """\
import av
from edge import pyav_stand_in
print(pyav_stand_in.install(), pyav_stand_in.installed(), av.AudioFrame.__module__)
"""


def run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def test_a_data_channel_carries_a_message_with_ffmpeg_never_mapped() -> None:
    message, stand_in, ffmpeg = json.loads(run(DATA_CHANNEL))
    assert message == "over the data channel"
    assert stand_in is True
    assert ffmpeg is False


def test_media_code_fails_at_once_naming_what_is_missing() -> None:
    said = run(MEDIA)
    assert said.startswith("av.AudioFrame is not loaded: this daemon has no [camera] or")
    assert "EDGE_PYAV=1" in said


def test_a_real_pyav_already_loaded_is_kept() -> None:
    assert run(ALREADY_LOADED).split()[:2] == ["False", "False"]
