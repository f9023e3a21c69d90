"""Fixtures for MQTT tests: Debian's mosquitto on free loopback ports, and a paho peer."""

from __future__ import annotations

import getpass
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import needs
from tests.mqtt.peer import MqttPeer

READY_TIMEOUT_S = 10.0
USERNAME = "edge"
PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Broker:
    """One mosquitto process on 127.0.0.1:`port`; `stop()` / `start()` keep the port."""

    workdir: Path
    port: int = field(default_factory=_free_port)
    password_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    host = "127.0.0.1"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def start(self) -> None:
        binary = needs.program("mosquitto", package="mosquitto")
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            f"user {getpass.getuser()}",
            f"log_dest file {self.log_path}",
            "log_type all",
        ]
        if self.password_file is None:
            lines.append("allow_anonymous true")
        else:
            lines += ["allow_anonymous false", f"password_file {self.password_file}"]
        config = self.workdir / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(
            [binary, "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _accepts(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.log_path.read_text() if self.log_path.exists() else "(no log)"
                self.stop()
                pytest.fail(f"mosquitto did not start on port {self.port}:\n{log[-3000:]}")
            time.sleep(0.05)  # readiness poll of a child process, not test synchronisation

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """The shared anonymous broker of the test session."""
    broker = Broker(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def mosquitto_with_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A broker that only lets USERNAME / PASSWORD in."""
    workdir = tmp_path_factory.mktemp("mosquitto-auth")
    password_file = workdir / "passwords"
    tool = needs.program("mosquitto_passwd", package="mosquitto")
    subprocess.run([tool, "-b", "-c", str(password_file), USERNAME, PASSWORD], check=True)
    password_file.chmod(0o600)
    broker = Broker(workdir, password_file=password_file)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def private_mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """A broker of this test's own, for tests that stop and restart it."""
    broker = Broker(tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def mqtt_peer(mosquitto: Broker) -> Iterator[MqttPeer]:
    """A paho client on the shared broker: the other side of the bridge."""
    peer = MqttPeer(mosquitto.host, mosquitto.port)
    yield peer
    peer.close()
