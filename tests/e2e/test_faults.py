"""Real network faults: `edge run` in a network namespace, its link cut or made lossy.

livekit-server runs here (the root namespace) and listens on the veth's host address as well;
the daemon runs inside the namespace (`ip netns exec`), so every packet between the two crosses
the veth, where iptables drops them (`tools/benchmarks/netns.py`). The official SDK watches from
the root namespace, over a link no fault touches. Holding a cut for 3 s or 20 s is the fault
itself; everything else waits on events or `assert_eventually`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from livekit import rtc

from tests import needs
from tests.conftest import API_KEY, API_SECRET, REPO_ROOT
from tests.e2e.edge_process import EdgeProcess
from tests.e2e.inbox import Inbox, in_order
from tests.e2e.relay import SignalRelay
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, OfficialPeer, mint_token
from tools.benchmarks import server as lk_server
from tools.benchmarks.netns import Namespace, NetnsUnavailable, namespace

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.netns]

IDENTITY = "edge-ft"
SHORT_CUT_S = 3.0
LONG_CUT_S = 20.0
LOSS = 0.05
LOSS_HOLD_S = 15.0
SAFE_LINE = "output relay -> 0 (room connection lost for"


@dataclass(frozen=True, slots=True)
class FaultRig:
    """A namespace, and a server reachable from inside it (`edge_url`) and from here (`server`)."""

    ns: Namespace
    server: LiveKitServer
    edge_url: str


@pytest.fixture
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRig]:
    """A fresh namespace and a private server advertising the veth address; both removed after."""
    with contextlib.ExitStack() as stack:
        try:
            ns = stack.enter_context(namespace())
        except NetnsUnavailable as exc:
            needs.missing(f"network fault tests need a network namespace: {exc}")
        workdir = tmp_path_factory.mktemp("netns-livekit-server")
        port, config_path = lk_server.write_config(
            workdir, api_key=API_KEY, api_secret=API_SECRET, log_level="info", ip=ns.host_ip
        )
        log_path = workdir / "server.log"
        binary = lk_server.default_binary(REPO_ROOT)
        command = lk_server.server_command(binary, config_path, ip=ns.host_ip)
        proc = lk_server.spawn(command, log_path)
        stack.callback(lk_server.stop, proc)
        http_url = f"http://127.0.0.1:{port}"
        try:
            lk_server.wait_ready(proc, http_url, log_path)
        except lk_server.ServerError as exc:
            pytest.fail(str(exc))
        server = LiveKitServer(
            url=f"ws://127.0.0.1:{port}",
            http_url=http_url,
            api_key=API_KEY,
            api_secret=API_SECRET,
            log_path=str(log_path),
        )
        yield FaultRig(ns, server, f"ws://{ns.host_ip}:{port}")


CONFIG = """
[livekit]
url = "{url}"
room = "{room}"
identity = "{identity}"
api_key = "{api_key}"
api_secret = "{api_secret}"
attributes = {{ location = "bench" }}

[telemetry]
batch_window_s = 0.2

[[telemetry.sensors]]
name = "soc"
kind = "simulated"
period_s = {period_s}
unit = "°C"
mean = 48.0

[gpio]
link_loss_grace_s = {grace_s}

[[gpio.outputs]]
name = "relay"
kind = "digital"
pin = 17
allow = ["op-*"]
"""


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class Held:
    """When a fault was in force, as the test saw it."""

    applied_us: int
    """Wall clock once the fault was in force."""
    lifting_at: float
    """Monotonic, just before it was lifted: nothing could cross the link before this."""
    lifted_us: int
    """Wall clock once it was lifted."""


@dataclass
class Scene:
    """The daemon (in the namespace, if any), an official-SDK operator watching from outside."""

    namespace: Namespace | None
    edge: EdgeProcess
    op: OfficialPeer
    inbox: Inbox
    notify: socket.socket
    """Bound where the daemon's NOTIFY_SOCKET points: what it tells systemd."""
    status: list[str] = field(default_factory=list)

    def statuses(self) -> list[str]:
        """Every STATUS= the daemon sent so far, in order."""
        with contextlib.suppress(BlockingIOError):
            while True:
                lines = self.notify.recv(4096).decode().splitlines()
                self.status += [x.removeprefix("STATUS=") for x in lines if x.startswith("STATUS=")]
        return self.status

    @property
    def ns(self) -> Namespace:
        assert self.namespace is not None, "this scene has no network namespace"
        return self.namespace

    def device(self) -> rtc.RemoteParticipant:
        participant = self.op.remote(IDENTITY)
        assert participant is not None, f"{IDENTITY} is not in the room"
        return participant

    def joins(self) -> int:
        return sum("joined room" in line for line in self.edge.lines)

    def why(self) -> str:
        faults = self.namespace.log if self.namespace is not None else "none"
        return f"faults {faults}; edge log:\n{self.edge.log()}"

    async def hold(self, fault: Callable[[], None], seconds: float) -> Held:
        """Apply `fault`, keep it `seconds` (the fault itself), restore."""
        await asyncio.to_thread(fault)
        held = Held(applied_us=now_us(), lifting_at=0.0, lifted_us=0)
        await asyncio.sleep(seconds)
        held.lifting_at = time.monotonic()
        await asyncio.to_thread(self.ns.restore)
        held.lifted_us = now_us()
        return held

    async def readings_after(self, wall_us: int, *, timeout: float = 30) -> None:  # noqa: ASYNC109
        await assert_eventually(
            lambda: self.inbox.complete and any(r[1] > wall_us for r in self.inbox.readings),
            timeout=timeout,
            message=lambda: f"{len(self.inbox.readings)} reading(s); {self.why()}",
        )


SceneFactory = Callable[..., Awaitable[Scene]]


async def start_scene(
    server: LiveKitServer,
    room: str,
    workdir: Path,
    *,
    edge_url: str,
    namespace: Namespace | None = None,
    grace_s: float = 2.0,
    period_s: float = 0.1,
) -> Scene:
    """Start an operator and the daemon (inside `namespace`, if given), joined through
    `edge_url`; return once readings arrive."""
    inbox = Inbox()
    token = mint_token(server, identity="op-anna", room=room)
    op = await OfficialPeer.connect(server.url, token, identity="op-anna")
    inbox.attach(op)
    config = workdir / "edge.toml"
    config.write_text(
        CONFIG.format(
            url=edge_url,
            room=room,
            identity=IDENTITY,
            api_key=server.api_key,
            api_secret=server.api_secret,
            period_s=period_s,
            grace_s=grace_s,
        )
    )
    config.chmod(0o600)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(workdir / "notify.sock"))
    notify.setblocking(False)
    edge = await EdgeProcess.start(
        "run",
        "--config",
        str(config),
        "--simulate",
        cwd=workdir,
        env={"NOTIFY_SOCKET": str(workdir / "notify.sock")},
        wrapper=namespace.wrap([]) if namespace is not None else (),
    )
    current = Scene(namespace, edge, op, inbox, notify)
    await op.wait_participant(IDENTITY, timeout=30)
    await assert_eventually(
        lambda: len(inbox.readings) >= 10, timeout=30, message=lambda: current.why()
    )
    return current


async def stop_scene(current: Scene) -> None:
    """SIGTERM the daemon (it must exit 0 without a traceback), then close everything."""
    try:
        assert await current.edge.stop(signal.SIGTERM) == 0, current.why()
        broken = ("Traceback", "--- Logging error ---")
        assert not any(b in line for line in current.edge.lines for b in broken), current.why()
    finally:
        await current.edge.kill()
        await current.inbox.aclose()
        await current.op.disconnect()
        current.notify.close()


@pytest.fixture
async def scene(rig: FaultRig, room_name: str, tmp_path: Path) -> AsyncIterator[SceneFactory]:
    """Start the daemon inside the namespace and an operator outside; stop both at the end."""
    started: list[Scene] = []

    async def start(*, period_s: float = 0.1) -> Scene:
        current = await start_scene(
            rig.server,
            room_name,
            tmp_path,
            edge_url=rig.edge_url,
            namespace=rig.ns,
            period_s=period_s,
        )
        started.append(current)
        return current

    yield start
    for current in started:
        await stop_scene(current)


async def test_after_a_3_s_cut_telemetry_resumes_without_a_rejoin_and_nothing_is_lost(
    scene: SceneFactory,
) -> None:
    s = await scene()
    sid = s.device().sid
    cut = await s.hold(s.ns.cut, SHORT_CUT_S)
    await s.readings_after(cut.lifted_us)

    # The cut was real: nothing taken once it was in force arrived before it was lifted.
    early = s.inbox.arrived_before(cut.lifting_at)
    assert not [r for r in early if r[1] > cut.applied_us + 20_000], s.why()
    # Contiguous from the first reading to one taken after the restore: none lost, in order.
    in_order(s.inbox.readings)
    during = {r[0] for r in s.inbox.readings if cut.applied_us < r[1] < cut.lifted_us}
    assert len(during) >= SHORT_CUT_S * 10 * 0.8  # 10 Hz, with slack for a slow machine
    # Same session: no second join, the same participant, never seen leaving.
    assert s.joins() == 1, s.why()
    assert s.device().sid == sid
    assert s.op.disconnected == []
    assert not any("connection: connected -> " in line for line in s.edge.lines), s.why()


async def test_after_a_20_s_cut_the_edge_comes_back_whole_and_its_outputs_were_safe_meanwhile(
    scene: SceneFactory,
) -> None:
    s = await scene()
    reply = await s.op.local.perform_rpc(
        destination_identity=IDENTITY, method="gpio.set", payload='{"device": "relay", "value": 1}'
    )
    assert json.loads(reply) == {"device": "relay", "value": 1.0}
    sid = s.device().sid

    await asyncio.to_thread(s.ns.cut)
    cut_at, cut_at_us = time.monotonic(), now_us()
    # Outputs go safe once the loss is detected and the (2 s) grace has run out, within the cut.
    await s.edge.wait_line(SAFE_LINE, timeout=LONG_CUT_S - 0.5)
    await s.edge.wait_line("connection: connected -> reconnecting", timeout=1)
    assert time.monotonic() - cut_at < LONG_CUT_S
    await asyncio.sleep(max(0.0, cut_at + LONG_CUT_S - time.monotonic()))  # the rest of the cut
    await asyncio.to_thread(s.ns.restore)
    restored_at_us = now_us()

    # The official SDK sees the edge back with its attributes, saying there was an outage.
    # The server gives a session up about 20 s after its last packet: the edge either resumes
    # it (same participant) or, more often, finds it gone and joins anew.
    await assert_eventually(
        lambda: s.device().attributes.get("edge.reconnects") == "1",
        timeout=30,
        message=lambda: f"device: {s.op.remote(IDENTITY)}; {s.why()}",
    )
    attributes = s.device().attributes
    assert attributes["location"] == "bench"
    assert attributes["edge.status"] == "online"
    assert attributes["edge.connection"] == "connected"
    assert LONG_CUT_S - 16 < float(attributes["edge.last_outage_s"]) < LONG_CUT_S + 10
    # The twin may first repeat the value it last published, then the safe one follows.
    await assert_eventually(lambda: s.device().attributes.get("gpio.relay") == "0")
    # Its RPC methods answer again; the output is still at its safe value.
    reply = await s.op.local.perform_rpc(
        destination_identity=IDENTITY, method="gpio.read", payload='{"device": "relay"}'
    )
    assert json.loads(reply) == {"device": "relay", "value": 0.0}

    # Every reading taken during the cut arrives, in order, without a gap.
    await s.readings_after(restored_at_us)
    in_order(s.inbox.readings)  # resent batches come again: duplicates, but no gap
    during = {r[0] for r in s.inbox.readings if cut_at_us < r[1] < restored_at_us}
    assert len(during) >= LONG_CUT_S * 10 * 0.8  # 10 Hz, with slack for a slow machine
    assert s.joins() == (1 if s.device().sid == sid else 2), s.why()
    # systemd heard it all: connected, lost (maybe a failed retry), connected again.
    states = [line.split(" ", 1)[0].rstrip(",:") for line in s.statuses()]
    assert states[0] == "connected", s.statuses()
    assert states[1] == "reconnecting", s.statuses()
    assert set(states[1:-1]) <= {"reconnecting", "offline"}, s.statuses()
    assert s.statuses()[-1].startswith("connected to room"), s.statuses()
    assert "(reconnect 1, last outage " in s.statuses()[-1]


async def test_under_5_percent_random_loss_telemetry_arrives_complete_and_in_order(
    scene: SceneFactory,
) -> None:
    s = await scene(period_s=0.05)
    sid = s.device().sid
    lossy = await s.hold(lambda: s.ns.loss(LOSS), LOSS_HOLD_S)
    await s.readings_after(lossy.lifted_us)

    in_order(s.inbox.readings)
    during = {r[0] for r in s.inbox.readings if lossy.applied_us < r[1] < lossy.lifted_us}
    assert len(during) >= LOSS_HOLD_S * 20 * 0.8  # 20 Hz, with slack for a slow machine
    assert s.joins() == 1, s.why()
    assert s.device().sid == sid


async def test_a_dropped_signal_connection_is_resumed_and_nothing_notices(
    livekit_server: LiveKitServer, room_name: str, tmp_path: Path
) -> None:
    """No namespace needed: the daemon's signalling goes through a relay that drops it."""
    relay = SignalRelay.to(livekit_server.url)
    url = await relay.start()
    s = await start_scene(livekit_server, room_name, tmp_path, edge_url=url, grace_s=10.0)
    try:
        on = '{"device": "relay", "value": 1}'
        reply = await s.op.local.perform_rpc(
            destination_identity=IDENTITY, method="gpio.set", payload=on
        )
        assert json.loads(reply) == {"device": "relay", "value": 1.0}
        sid = s.device().sid

        relay.drop()
        dropped_us = now_us()
        await s.edge.wait_line("room session resumed after", timeout=20)
        await s.readings_after(dropped_us)

        # Same session: one join, the same participant, never seen leaving.
        assert s.joins() == 1, s.why()
        assert s.device().sid == sid
        assert s.op.disconnected == []
        # Observers still learn there was an outage, and that the edge is connected again.
        await assert_eventually(
            lambda: s.device().attributes.get("edge.reconnects") == "1", message=s.why
        )
        assert s.device().attributes["edge.connection"] == "connected"
        # The outage was far shorter than the grace: the output was never driven safe.
        assert not any(SAFE_LINE in line for line in s.edge.lines), s.why()
        reply = await s.op.local.perform_rpc(
            destination_identity=IDENTITY, method="gpio.read", payload='{"device": "relay"}'
        )
        assert json.loads(reply) == {"device": "relay", "value": 1.0}
        # Telemetry went on in order, without a gap; systemd heard the short outage.
        in_order(s.inbox.readings)
        states = [line.split(" ", 1)[0].rstrip(",:") for line in s.statuses()]
        assert states == ["connected", "reconnecting", "connected"], s.statuses()
        assert relay.accepted == 2  # the join and the resume
    finally:
        await stop_scene(s)
        await relay.aclose()


async def test_after_the_address_changes_the_edge_joins_anew_without_trying_to_resume(
    scene: SceneFactory,
) -> None:
    """A new DHCP lease or access point: sockets on the old address can never work again."""
    s = await scene()
    sid = s.device().sid
    old_ip = s.ns.peer_ip
    new_ip = await asyncio.to_thread(s.ns.readdress)
    changed_us = now_us()

    # The signalling socket is stranded; once that is noticed, resuming over the old address
    # is not even tried: the edge joins anew from the new one.
    await s.edge.wait_line("our network addresses changed", timeout=30)
    await assert_eventually(
        lambda: s.device().sid != sid,
        timeout=30,
        message=lambda: f"device: {s.op.remote(IDENTITY)}; {s.why()}",
    )
    assert not any("resume attempt" in line for line in s.edge.lines), s.why()
    assert new_ip != old_ip
    # Telemetry spooled meanwhile arrives, in order, without a gap.
    await s.readings_after(changed_us + 5_000_000)
    in_order(s.inbox.readings)
    assert s.joins() == 2, s.why()
