"""Every private aiortc, aioice and gpiozero name edge/ relies on: present, shaped, and used.

A private name can vanish or stop being called in any release without a deprecation; the
daemon would then not fail, it would silently stop doing something (no keyframe on a PLI, no
ICE restart, aiortc's SCTP timers). Each name we touch is pinned here, by behaviour where the
library's own code path can be driven cheaply, else by shape; `test_no_unpinned_private_names`
fails when edge/ starts touching a new one, so it cannot slip in without a pin.

picamera2's names are pinned by the camera contract tests over picamera2's version matrix,
lgpio's by the GPIO line contract tests; aiortc's SCTP inbound reassembly by its own tests.
"""

from __future__ import annotations

import ast
import asyncio
import collections
import inspect
import sys
from pathlib import Path
from typing import Any

import pytest
from aiortc import MediaStreamTrack, RTCCertificate, rtcicetransport, rtcsctptransport
from aiortc.rtcdtlstransport import RTCDtlsTransport

from edge.livekit import ice
from tests.helpers import assert_eventually
from tests.livekit.conftest import MakePeer, make_peer, spawn, states

__all__ = ["make_peer", "spawn", "states"]  # the loopback fixtures of tests/livekit

REPO = Path(__file__).resolve().parents[2]
EDGE = REPO / "edge"

_GPIO_LINES = "tests/contract/test_gpio_lines.py"
_VIDEO = "tests/livekit/test_video_sender.py::"
_DECODES = _VIDEO + "test_the_far_end_decodes_every_frame_we_packetise"
_NACK = _VIDEO + "test_a_nack_is_answered_from_the_history_on_the_rtx_stream"
_REPORTS = _VIDEO + "test_sender_reports_carry_our_counts"
_INACTIVE = _VIDEO + "test_nothing_is_sent_while_the_m_line_is_inactive"
PINNED = {
    # (file under edge/, the private name touched on a library object): the test pinning it,
    # in this module or given as `tests/<path>.py::test_name`
    ("livekit/peers.py", "_send_keyframe"): "test_a_pli_from_the_far_end_reaches_our_hook",
    ("livekit/peers.py", "_connection"): "test_aiortc_builds_its_ice_on_our_connection",
    ("livekit/peers.py", "_remote_candidates_end"): "test_aiortc_builds_its_ice_on_our_connection",
    ("gpio/devices.py", "_queue"): "test_gpiozero_distance_sensor_has_a_stoppable_queue",
    # the safe-level claims of our lgpio pin: real gpiozero over lgpio.py with the C recorded
    ("gpio/lines.py", "_handle"): _GPIO_LINES
    + "::test_start_claims_every_output_at_its_safe_level",
    ("gpio/lines.py", "_set_function"): _GPIO_LINES
    + "::test_start_claims_every_output_at_its_safe_level",
    ("gpio/lines.py", "_set_state"): _GPIO_LINES
    + "::test_stop_brings_commanded_outputs_back_to_safe_and_keeps_them_there",
    ("gpio/lines.py", "_set_frequency"): _GPIO_LINES
    + "::test_servo_pulses_in_whole_microseconds_from_tx_servo",
    ("testing/pins.py", "_set_function"): "tests/gpio/test_twin_lines.py"
    "::test_outputs_start_at_their_safe_level_and_stay_driven_after_close",
    # where aiortc keeps the inbound streams our reassembly replaces and the guard samples
    ("livekit/sctp_inbound.py", "_inbound_streams"): "tests/livekit/test_sctp_inbound.py"
    "::test_a_real_association_reassembles_with_our_class",
    # our H.264 sender under aiortc's RTCRtpSender: driven end to end over the loopback
    ("livekit/video_sender.py", "_next_encoded_frame"): _DECODES,
    ("livekit/video_sender.py", "_ssrc"): _DECODES,
    ("livekit/video_sender.py", "_tx_srtp"): _DECODES,
    ("livekit/video_sender.py", "_connection"): _DECODES,
    ("livekit/video_sender.py", "_retransmit"): _NACK,
    ("livekit/video_sender.py", "_rtx_ssrc"): _NACK,
    ("livekit/video_sender.py", "_send_rtcp"): _REPORTS,
    ("livekit/video_sender.py", "_enabled"): _INACTIVE,
    # the keyframe stream of picamera2's software encoder, over its version matrix
    ("media/picamera.py", "_start"): "tests/contract/test_picamera2.py"
    "::test_a_keyframe_request_makes_an_idr_and_the_camera_thread_survives",
}
OURS = {
    # private names of our own objects used across our own modules: not a library's business
    ("livekit/room.py", "_start"),
    ("livekit/video_sender.py", "_start"),
    ("livekit/room.py", "_shutdown"),
    ("livekit/streams.py", "_push"),
    ("livekit/streams.py", "_finish"),
    ("livekit/streams.py", "_fail"),
    ("livekit/token_source.py", "_replace"),  # a namedtuple's public API
    ("media/picamera.py", "_edge_stream"),  # our attribute on our encoder subclass
    ("media/software.py", "_closed"),
    ("media/synthetic_audio.py", "_lock"),
    ("protocol/stream_reassembler.py", "_Decompress"),  # the stdlib's type name
}


class SilentVideo(MediaStreamTrack):
    """A video track that never yields a frame: the sender's RTCP side runs all the same."""

    kind = "video"

    async def recv(self) -> Any:
        await asyncio.Event().wait()


async def test_a_pli_from_the_far_end_reaches_our_hook(make_peer: MakePeer) -> None:
    # A real RTCP PLI, sent by the receiving peer over SRTCP on the loopback, must end in
    # the hook `add_sender` installs: aiortc's `_handle_rtcp_packet` calls `_send_keyframe`.
    requests: list[str] = []
    offerer, answerer = make_peer("publisher", []), make_peer("subscriber", [])
    try:
        handle = offerer.add_sender(
            SilentVideo(), mime_type="video/H264", on_keyframe_request=lambda: requests.append("")
        )
        offerer.create_data_channels()
        await offerer.set_answer(await answerer.answer_offer(await offerer.create_offer()))
        await offerer.wait_channels_open(timeout_s=10)
        receiver = answerer._pc.getTransceivers()[0].receiver
        media_ssrc = handle.sender._ssrc
        await receiver._send_rtcp_pli(media_ssrc)
        await assert_eventually(lambda: len(requests) == 1)
        await receiver._send_rtcp_pli(media_ssrc)
        await assert_eventually(lambda: len(requests) == 2)
    finally:
        await offerer.aclose()
        await answerer.aclose()


async def test_aiortc_builds_its_ice_on_our_connection() -> None:
    # ice.install() replaces the `Connection` aiortc's gatherer instantiates; peers.py reaches
    # it as `RTCIceTransport._connection` and re-arms `RTCIceGatherer._remote_candidates_end`.
    ice.install()
    gatherer = rtcicetransport.RTCIceGatherer()
    transport = rtcicetransport.RTCIceTransport(gatherer)
    assert isinstance(transport._connection, ice.RestartableConnection)
    assert transport._connection is gatherer._connection
    ended: list[bool] = [gatherer._remote_candidates_end]
    await transport.addRemoteCandidate(None)  # end of candidates, as peers.py sees it
    ended.append(gatherer._remote_candidates_end)
    assert ended == [False, True]
    await transport.stop()


async def test_aioice_connection_has_the_state_our_restart_rewrites() -> None:
    # RestartableConnection.restart() resets these; if one is renamed, restart() would
    # create a new attribute and aioice would keep checking with the old state.
    connection = ice.RestartableConnection(ice_controlling=True)
    shapes: dict[str, type | tuple[type, ...]] = {
        "_closed": bool,
        "_closing": bool,
        "_local_candidates": list,
        "_use_ipv4": bool,
        "_use_ipv6": bool,
        "_nominated": dict,
        "_nominating": set,
        "_check_list": list,
        "_check_list_done": bool,
        "_check_list_state": asyncio.Queue,
        "_remote_candidates": list,
        "_remote_candidates_end": bool,
        "_early_checks": collections.deque,
        "_early_checks_done": bool,
        "_queue": asyncio.Queue,
        "_local_username": str,
        "_local_password": str,
    }
    for name, kind in shapes.items():
        assert isinstance(getattr(connection, name), kind), f"aioice Connection.{name}"
    assert connection._query_consent_task is None
    # The public credentials are read from the private ones restart() replaces.
    connection._local_username, connection._local_password = "abcd", "p" * 22
    assert (connection.local_username, connection.local_password) == ("abcd", "p" * 22)
    assert list(inspect.signature(connection.protocol_lost).parameters) == ["protocol"]
    # A check-list pair carries what sendto() and protocol_lost() use.
    from aioice.ice import CandidatePair

    protocol: Any = object()
    pair = CandidatePair(protocol=protocol, remote_candidate=_candidate())
    assert pair.task is None
    assert pair.remote_addr == ("192.0.2.1", 4000)
    await connection.close()


def _candidate() -> Any:
    from aioice import Candidate

    return Candidate(
        foundation="1",
        component=1,
        transport="udp",
        priority=1,
        host="192.0.2.1",
        port=4000,
        type="host",
    )


async def test_aiortc_sctp_reads_the_timer_globals_we_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # sctp.tune() assigns module globals: a renamed global would be assigned but never read.
    for name in ("SCTP_RTO_INITIAL", "SCTP_RTO_MIN", "SCTP_RTO_MAX"):
        assert isinstance(getattr(rtcsctptransport, name), int | float), name
    monkeypatch.setattr(rtcsctptransport, "SCTP_RTO_INITIAL", 1.25)
    monkeypatch.setattr(rtcsctptransport, "SCTP_RTO_MIN", 0.125)
    monkeypatch.setattr(rtcsctptransport, "SCTP_RTO_MAX", 2.5)
    gatherer = rtcicetransport.RTCIceGatherer()
    dtls = RTCDtlsTransport(
        rtcicetransport.RTCIceTransport(gatherer), [RTCCertificate.generateCertificate()]
    )
    sctp = rtcsctptransport.RTCSctpTransport(dtls)
    assert sctp._rto == 1.25
    sctp._update_rto(0.0001)  # a loopback round trip: the floor
    assert sctp._rto == 0.125
    sctp._update_rto(100.0)  # a huge one: the ceiling
    assert sctp._rto == 2.5
    await dtls.stop()
    await gatherer._connection.close()


def test_aiortc_sctp_checksums_every_packet_with_the_crc32c_global(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # checksum.install() assigns `rtcsctptransport.crc32c`: it must be read at every packet
    # serialized and parsed, not bound elsewhere at import.
    calls: list[int] = []

    def recording(data: bytes) -> int:
        calls.append(len(data))
        return 0x01020304

    monkeypatch.setattr(rtcsctptransport, "crc32c", recording)
    chunk = rtcsctptransport.DataChunk(flags=3)
    chunk.user_data = b"x" * 100
    packet = rtcsctptransport.serialize_packet(5000, 5000, 7, chunk)
    assert packet[8:12] == (0x01020304).to_bytes(4, "little")
    rtcsctptransport.parse_packet(packet)
    assert len(calls) == 2


def test_gpiozero_distance_sensor_has_a_stoppable_queue() -> None:
    # Input.close() stops a distance sensor's reader thread through `_queue` first.
    from gpiozero import DistanceSensor, SmoothedInputDevice
    from gpiozero.mixins import GPIOQueue

    assert issubclass(DistanceSensor, SmoothedInputDevice)
    source = inspect.getsource(SmoothedInputDevice.__init__)
    assert "self._queue = GPIOQueue(" in source
    assert callable(GPIOQueue.stop)


def _private_names_touched() -> set[tuple[str, str]]:
    """(file, name) for every `x._name` in edge/ where x is not self/cls, and every
    getattr/setattr/hasattr with a literal `_name`."""
    found = set()
    for path in sorted(EDGE.rglob("*.py")):
        where = str(path.relative_to(EDGE))
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            name = None
            if isinstance(node, ast.Attribute):
                value = node.value
                if not (isinstance(value, ast.Name) and value.id in ("self", "cls")):
                    name = node.attr
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "setattr", "hasattr")
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                name = node.args[1].value
            if name and name.startswith("_") and not name.startswith("__"):
                found.add((where, name))
    return found


def test_no_unpinned_private_names() -> None:
    unpinned = _private_names_touched() - set(PINNED) - OURS
    assert not unpinned, (
        f"edge/ touches private names no test pins: {sorted(unpinned)}. Add a test here that"
        " fails when the library drops the name or stops using it, and list it in PINNED"
        " (or in OURS if the object is our own)."
    )
    for test in PINNED.values():
        # a test of this module, or `tests/<path>.py::test_name` pinning it elsewhere
        path, _, name = test.rpartition("::")
        source = (REPO / path).read_text() if path else inspect.getsource(sys.modules[__name__])
        assert f"def {name}(" in source, f"{test}: no such test"


def test_the_ice_subclass_only_relies_on_pinned_aioice_state() -> None:
    # RestartableConnection reads aioice's private state through `self`: every such name
    # it does not assign itself must be in the shape test above.
    tree = ast.parse((EDGE / "livekit/ice.py").read_text())
    cls = next(
        n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "RestartableConnection"
    )
    used = {
        n.attr
        for n in ast.walk(cls)
        if isinstance(n, ast.Attribute)
        and isinstance(n.value, ast.Name)
        and n.value.id == "self"
        and n.attr.startswith("_")
        and not n.attr.startswith("__")
    }
    own = {"_previous"}
    source = inspect.getsource(test_aioice_connection_has_the_state_our_restart_rewrites)
    missing = {name for name in used - own if name not in source}
    assert not missing, f"ice.py relies on aioice names no test pins: {sorted(missing)}"
