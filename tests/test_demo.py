"""The demo runner (`tools/demo-run`, what `tools/demo` runs after setup): ports and signals."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNNER = REPO_ROOT / "tools" / "demo-run"
pytestmark = pytest.mark.server  # the demo runs livekit-server (and the console): not fast
SERVER_BINARY = REPO_ROOT / ".cache" / "bin" / "livekit-server"
CONSOLE_DIST = REPO_ROOT / "console" / "dist" / "index.html"

UP_TIMEOUT_S = 60.0
"""Upper bound for a demo to join its room (generous: the machine is shared)."""
STOP_TIMEOUT_S = 30.0
"""Upper bound for a signalled demo to stop everything it started."""
POLL_INTERVAL_S = 0.1
JOINED = "joined room 'demo'"
MEDIA_OFFSET = 2
"""UDP media port = EDGE_DEMO_PORT + 2."""
CONSOLE_OFFSET = 10
"""Console port = EDGE_DEMO_PORT + 10 (unless EDGE_CONSOLE_PORT)."""


def _interruptible() -> None:
    """Ctrl-C reaches the runner as at a terminal. A process started in the background by a
    non-interactive shell inherits SIGINT ignored, and bash cannot trap a signal ignored on
    entry, so without this the INT case depends on how the test run itself was started."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass(slots=True)
class Demo:
    """One demo runner, in a process group of its own (its pid is the group id)."""

    port: int
    proc: subprocess.Popen[bytes]
    output: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float = UP_TIMEOUT_S) -> None:
        """Until `needle` appears in the output; fail if the runner exits or time runs out."""
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if time.monotonic() > deadline:
                pytest.fail(f"no {needle!r} within {timeout:g} s; output:\n{self.text()}")
            try:
                rc = self.proc.wait(timeout=POLL_INTERVAL_S)  # the poll interval
            except subprocess.TimeoutExpired:
                continue
            if needle not in self.text():
                pytest.fail(f"demo exited with {rc} before {needle!r}; output:\n{self.text()}")

    def group(self) -> list[int]:
        """Live (not zombie) processes of the demo's process group."""
        return group_members(self.proc.pid)


@dataclass(slots=True)
class Demos:
    """Starts demo runners under one cache folder; kills whatever is left at the end."""

    cache: Path
    started: list[Demo] = field(default_factory=list)

    def start(self, port: int, **env: str) -> Demo:
        output = self.cache / f"runner-{port}-{len(self.started)}.out"
        with output.open("wb") as out:
            proc = subprocess.Popen(
                ["bash", str(RUNNER)],
                cwd=REPO_ROOT,
                env={
                    **os.environ,
                    "EDGE_DEMO_PORT": str(port),
                    "EDGE_DEMO_DIR": str(self.cache),
                    **env,
                },
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_interruptible,
            )
        demo = Demo(port, proc, output)
        self.started.append(demo)
        return demo

    def close(self) -> None:
        for demo in self.started:
            if demo.proc.poll() is None:
                demo.proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    demo.proc.wait(timeout=STOP_TIMEOUT_S)
            for pid in demo.group():  # whatever the demo left behind
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if demo.proc.poll() is None:
                demo.proc.wait()


@pytest.fixture
def demos(tmp_path: Path) -> Iterator[Demos]:
    if not SERVER_BINARY.exists() or not CONSOLE_DIST.is_file():
        pytest.fail("livekit-server or the console bundle not built: run tools/setup")
    started = Demos(tmp_path)
    try:
        yield started
    finally:
        started.close()


def group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def _free(kind: socket.SocketKind, port: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("", port))  # all interfaces: a listener on any address makes it busy
        except OSError:
            return False
    return True


def free_demo_port() -> int:
    """An EDGE_DEMO_PORT whose whole family (signal, +1, +2/udp, +10) is free."""
    for _ in range(200):
        port = random.randrange(20000, 60000)
        offsets = (0, 1, CONSOLE_OFFSET)
        if all(_free(socket.SOCK_STREAM, port + o) for o in offsets) and _free(
            socket.SOCK_DGRAM, port + MEDIA_OFFSET
        ):
            return port
    pytest.fail("no free demo port family found")


def bound_addresses(port: int, kind: str) -> set[tuple[str, str]]:
    """(protocol, IPv4 or IPv6 address) of every `kind` (tcp, udp) socket bound to `port`.

    Only the kind the demo uses there: any process's ephemeral socket of the other kind may
    happen to have the same number (the demo's own ICE sockets, for one).
    """
    found = set()
    for proto in (kind, f"{kind}6"):
        lines = Path(f"/proc/net/{proto}").read_text().splitlines()[1:]
        for line in lines:
            local = line.split()[1]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port:
                found.add((proto, address))
    return found


LOOPBACK_HEX = "0100007F"
"""127.0.0.1 as /proc/net/tcp writes it."""


def test_two_demos_run_side_by_side_each_on_its_own_ports_and_logs(demos: Demos) -> None:
    first_port = free_demo_port()
    first = demos.start(first_port)
    first.wait_for(JOINED)
    second_port = free_demo_port()
    second = demos.start(second_port)
    second.wait_for(JOINED)

    assert first.proc.poll() is None, first.text()
    assert second.proc.poll() is None, second.text()
    for demo in (first, second):
        log = demos.cache / str(demo.port) / "server.log"
        assert log.stat().st_size > 0, f"{log} is empty"
        # Signal, UDP media and console ports, loopback only; no ICE/TCP port.
        assert bound_addresses(demo.port, "tcp") == {("tcp", LOOPBACK_HEX)}
        assert bound_addresses(demo.port + MEDIA_OFFSET, "udp") == {("udp", LOOPBACK_HEX)}
        assert bound_addresses(demo.port + CONSOLE_OFFSET, "tcp") == {("tcp", LOOPBACK_HEX)}
        assert not bound_addresses(demo.port + 1, "tcp")

    # A third demo on the first one's port stops at once and leaves the first one alone.
    first_log = demos.cache / str(first_port) / "server.log"
    size_before = first_log.stat().st_size
    third = demos.start(first_port)
    assert third.proc.wait(timeout=STOP_TIMEOUT_S) == 1
    assert "EDGE_DEMO_PORT" in third.text()
    assert first.proc.poll() is None
    assert first_log.stat().st_size >= size_before > 0


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["TERM", "INT"]
)
def test_a_signal_to_the_demo_stops_everything_it_started(
    demos: Demos, signum: signal.Signals, status: int
) -> None:
    demo = demos.start(free_demo_port())
    demo.wait_for(JOINED)
    demo.wait_for("Open the operator console")
    # The runner, livekit-server, the console server and the daemon (and any short-lived helper).
    assert len(demo.group()) >= 4, demo.text()

    demo.proc.send_signal(signum)

    assert demo.proc.wait(timeout=STOP_TIMEOUT_S) == status, demo.text()
    assert demo.group() == [], f"left running: {demo.group()}\n{demo.text()}"
    # The daemon itself was told to stop (its outputs go safe and it leaves the room).
    assert f"{signum.name} received: leaving the room" in demo.text()
    assert "left room cleanly" in demo.text()


@pytest.mark.parametrize(
    ("kind", "offset", "what"),
    [
        (socket.SOCK_STREAM, 0, "signalling"),
        (socket.SOCK_DGRAM, MEDIA_OFFSET, "media"),
        (socket.SOCK_STREAM, CONSOLE_OFFSET, "console"),
    ],
    ids=["signalling", "media", "console"],
)
def test_a_busy_port_stops_the_demo_with_a_message_naming_the_variable(
    demos: Demos, kind: socket.SocketKind, offset: int, what: str
) -> None:
    port = free_demo_port()
    with socket.socket(socket.AF_INET, kind) as squatter:
        squatter.bind(("127.0.0.1", port + offset))
        if kind == socket.SOCK_STREAM:
            squatter.listen()
        demo = demos.start(port)
        assert demo.proc.wait(timeout=STOP_TIMEOUT_S) == 1, demo.text()

    assert f"{port + offset}" in demo.text()
    assert what in demo.text()
    assert "EDGE_DEMO_PORT" in demo.text()
    assert demo.group() == []
