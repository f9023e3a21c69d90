"""aiortc's SCTP CRC32C: compiled on every board, the choice made in edge.livekit.checksum.

Where google-crc32c has its C extension (x86_64, aarch64 wheels) nothing changes; where it is
pure Python (32-bit ARM), the `crc32c` distribution's compiled code takes its place in aiortc,
and only then is google-crc32c's slowness warning dropped. The 32-bit case is reproduced here
by hiding google-crc32c's C extension from the import system in a child interpreter; the armhf
proof (tools/armhf-test) runs it for real.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import crc32c
import google_crc32c
import google_crc32c.python
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.livekit import checksum

REPO = Path(__file__).resolve().parents[2]
ARM32 = platform.machine() in ("armv7l", "armv6l")
GOOGLE_NATIVE = google_crc32c.implementation == "c"

# A child interpreter in which the named modules cannot be imported, then `code`.
_HIDE = """
import importlib.abc, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in {hidden!r}:
            raise ImportError(f"hidden: {{name}}")
        return None
sys.meta_path.insert(0, Hide())
"""


def run_hiding(hidden: set[str], code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", _HIDE.format(hidden=sorted(hidden)) + code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
        timeout=60,
    )


# A PeerConnection is made (it installs the choice), then what aiortc's SCTP uses is reported.
REPORT = """
import asyncio, json, crc32c
from edge.livekit import checksum
from edge.livekit.peers import PeerConnection, ice_configuration
from aiortc import rtcsctptransport

async def main():
    pc = PeerConnection(
        name="probe", configuration=ice_configuration([]), on_message=lambda d, r: None,
        on_state=lambda s: None, spawn=lambda coro, name: asyncio.ensure_future(coro),
    )
    await pc.aclose()

asyncio.run(main())
print(json.dumps({
    "describe": checksum.current().describe(),
    "provider": checksum.current().provider,
    "in_aiortc": rtcsctptransport.crc32c is crc32c.crc32c,
}))
"""


@given(st.binary(max_size=2048), st.integers(min_value=0, max_value=2**32 - 1))
def test_the_compiled_replacement_computes_google_crc32c(data: bytes, start: int) -> None:
    pure = google_crc32c.python.value(data)  # type: ignore[no-untyped-call]
    assert crc32c.crc32c(data) == google_crc32c.value(data) == pure
    assert crc32c.crc32c(data, start) == google_crc32c.extend(start, data)


def test_the_rfc3720_check_value() -> None:
    assert checksum.current().function(b"123456789") == 0xE3069283


def test_google_crc32c_stays_where_it_is_compiled() -> None:
    google = SimpleNamespace(implementation="c", value=google_crc32c.value)
    chosen = checksum.choose(google, crc32c, "2.3")
    assert chosen.function is google_crc32c.value
    assert (chosen.provider, chosen.native, chosen.describe()) == ("google-crc32c", True, "native")


def test_pure_python_google_crc32c_gives_way_to_the_compiled_one() -> None:
    google = SimpleNamespace(implementation="python", value=google_crc32c.python.value)
    chosen = checksum.choose(google, crc32c, "2.3")
    assert chosen.function is crc32c.crc32c
    assert chosen.describe() == "pure Python; SCTP uses crc32c 2.3 (native)"
    alone = checksum.choose(google, None)
    assert alone.function is google_crc32c.python.value
    assert (alone.native, alone.describe()) == (False, "pure Python, slow")


def test_on_a_32_bit_board_aiortc_checksums_with_compiled_code_and_nothing_warns() -> None:
    # -W error: google-crc32c's warning at aiortc's import would be an ImportError-like crash.
    done = run_hiding({"google_crc32c._crc32c"}, REPORT)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["provider"] == "crc32c"
    assert report["in_aiortc"] is True
    assert report["describe"].startswith("pure Python; SCTP uses crc32c ")


def test_without_a_compiled_crc32c_the_slowness_warning_still_shows() -> None:
    done = run_hiding({"google_crc32c._crc32c", "crc32c"}, "import edge.livekit.peers")
    assert done.returncode != 0
    assert "RuntimeWarning: " + checksum.SLOW_WARNING in done.stderr


@pytest.mark.skipif(not ARM32, reason="32-bit ARM only (tools/armhf-test)")
def test_on_this_32_bit_arm_machine_sctp_uses_the_compiled_crc32c() -> None:
    # What tools/install gives a 32-bit board: google-crc32c as pure Python, python3-crc32c.
    assert not GOOGLE_NATIVE
    assert checksum.install().provider == "crc32c"


@pytest.mark.skipif(not GOOGLE_NATIVE, reason="google-crc32c has no C extension here")
def test_where_google_crc32c_is_compiled_aiortc_keeps_it() -> None:
    done = run_hiding(set(), REPORT)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["provider"], report["describe"], report["in_aiortc"]) == (
        "google-crc32c",
        "native",
        False,
    )
