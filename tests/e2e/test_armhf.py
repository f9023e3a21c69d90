"""The daemon on 32-bit ARM, end to end: `edge run --simulate` in an armhf chroot under qemu-user.

tools/armhf-test builds a Debian bookworm armhf root, installs the project into it the way
tools/install does on a 32-bit board, and runs this module on the host with EDGE_ARMHF_ROOT set
(skipped without it). livekit-server and the official-SDK peer run on the host; the chroot
shares the host's loopback. The peer calls a GPIO method over RPC, receives the telemetry byte
streams and decodes the synthetic camera's track (replaying an H.264 clip encoded here: PyPI's
armv7l PyAV has no libx264, see edge/media/clip.py); the daemon must also start without
google-crc32c's slowness warning and stop cleanly. Correctness only: under qemu everything runs
many times slower than on a board, so the bounds are generous and the times measured are only
written down (EDGE_ARMHF_TIMES), never asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from edge.livekit.checksum import SLOW_WARNING
from tests.conftest import OfficialPeerFactory
from tests.e2e.edge_process import EdgeProcess
from tests.e2e.test_daemon import GPIO_TOML, TELEMETRY_TOML, TelemetryInbox, write_config
from tests.e2e.test_media import MediaWatcher
from tests.helpers import assert_eventually
from tests.media.test_clip import HEIGHT, WIDTH, write_clip
from tests.official_peer import LiveKitServer

ROOT_ENV = "EDGE_ARMHF_ROOT"
TIMES_ENV = "EDGE_ARMHF_TIMES"
PYTHON = "/opt/edge/.venv/bin/python"
"""The board's venv inside the chroot (tools/armhf-test installs it there)."""
IDENTITY = "edge-armhf"


def camera_toml(clip: str) -> str:
    return (
        f'[camera]\nsource = "synthetic"\nwidth = {WIDTH}\nheight = {HEIGHT}\nframerate = 5\n'
        f'bitrate = 100000\nclip = "{clip}"\n'
    )


QEMU_S = 240.0
"""Upper bound for each step under qemu (imports alone take tens of seconds there)."""

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.armhf,
    pytest.mark.timeout(1800),  # several steps of up to QEMU_S each
    pytest.mark.skipif(not os.environ.get(ROOT_ENV), reason=f"{ROOT_ENV} not set (armhf only)"),
]


def in_chroot(root: Path) -> tuple[str, ...]:
    """The command prefix that runs a program in the armhf root with a board's bare environment."""
    path = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
    return ("chroot", str(root), "/usr/bin/env", "-i", path, "HOME=/root", "LANG=C.UTF-8")


def run_in_chroot(root: Path, code: str) -> str:
    done = subprocess.run(
        [*in_chroot(root), PYTHON, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=QEMU_S,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def armhf_root() -> Path:
    root = Path(os.environ[ROOT_ENV])
    assert (root / PYTHON.lstrip("/")).exists(), f"{root} has no {PYTHON}: run tools/armhf-test"
    return root


def test_the_chroot_is_32_bit_arm_and_edge_check_reports_a_compiled_crc32c(
    armhf_root: Path,
) -> None:
    code = (
        "import platform, struct\n"
        "from edge.doctor.versions import check_libraries\n"
        "print(platform.machine(), struct.calcsize('P') * 8)\n"
        "finding = check_libraries()\n"
        "print(finding.level.name, finding.message)\n"
    )
    machine, libs = run_in_chroot(armhf_root, code).splitlines()
    assert machine == "armv7l 32"
    assert "google-crc32c 1.9.0 (pure Python; SCTP uses crc32c 2.3 (native))" in libs, libs
    assert libs.startswith("OK "), libs


async def test_the_armv7_daemon_answers_rpc_streams_telemetry_and_publishes_its_camera(
    armhf_root: Path,
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
) -> None:
    workdir = armhf_root / "tmp" / room_name
    workdir.mkdir(parents=True)
    write_clip(workdir / "camera.h264")
    extra = GPIO_TOML + camera_toml(f"/tmp/{room_name}/camera.h264") + TELEMETRY_TOML
    write_config(workdir / "edge.toml", livekit_server, room_name, identity=IDENTITY, extra=extra)
    op = await official_peer("op-armhf")
    inbox = TelemetryInbox(op)
    media = MediaWatcher(op)
    times: dict[str, float] = {}
    started = time.monotonic()

    def mark(step: str) -> None:
        times[step] = round(time.monotonic() - started, 1)

    edge = await EdgeProcess.start(
        "run",
        "--config",
        f"/tmp/{room_name}/edge.toml",
        "--simulate",
        cwd=workdir,
        wrapper=in_chroot(armhf_root),
        python=PYTHON,
    )
    try:
        await op.wait_participant(IDENTITY, timeout=QEMU_S)
        mark("joined_s")
        await edge.wait_line("GPIO ready: 2 output(s)", timeout=QEMU_S)
        reply = await op.local.perform_rpc(
            destination_identity=IDENTITY,
            method="gpio.set",
            payload='{"device": "relay", "value": 1}',
            response_timeout=QEMU_S,
        )
        assert reply == '{"device":"relay","value":1.0}'
        mark("rpc_answered_s")
        await edge.wait_line("output relay -> 1 (set by op-armhf)", timeout=QEMU_S)
        await assert_eventually(
            lambda: len(inbox.readings) >= 3,
            timeout=QEMU_S,
            message=lambda: f"{len(inbox.streams)} telemetry batch(es); log:\n{edge.log()}",
        )
        mark("telemetry_s")
        await assert_eventually(
            lambda: len(media.video) >= 3,
            timeout=QEMU_S,
            message=lambda: f"{len(media.video)} frame(s), {media.publications}; {edge.log()}",
        )
        mark("video_frames_s")
        video = list(media.video)  # what came while the daemon ran (not its track's end)
    finally:
        stopping = time.monotonic()
        code = await edge.stop(signal.SIGTERM, timeout=QEMU_S)
        times["stop_s"] = round(time.monotonic() - stopping, 1)
        await media.aclose()
        inbox.close()
        shutil.rmtree(workdir, ignore_errors=True)
    assert code == 0, edge.log()
    assert "camera" in media.publications
    assert {(w, h) for _, w, h in video} == {(WIDTH, HEIGHT)}, video
    seqs = [r[0] for r in inbox.readings]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert any("left room cleanly" in line for line in edge.lines), edge.log()
    assert not any(SLOW_WARNING in line for line in edge.lines), edge.log()
    assert not any("Traceback" in line for line in edge.lines), edge.log()
    if report := os.environ.get(TIMES_ENV):
        with open(report, "w") as out:  # noqa: ASYNC230 - once, a few bytes, after the test
            out.write(json.dumps(times) + "\n")
