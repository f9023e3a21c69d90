"""A network namespace joined to this one by a veth pair: one side's network, to cut or degrade.

Also the test suite's recipe (`tests/e2e/test_faults.py`), as `server.py` is for livekit-server:

    with netns.namespace() as ns:            # NetnsUnavailable says why it cannot be made
        argv = ns.wrap([sys.executable, "-m", "edge", "run", ...])   # runs inside
        ns.cut()                             # every packet on the veth dropped, both ways
        ns.restore()
        ns.loss(0.05)                        # each packet dropped with this probability

The namespace side has `peer_ip`; this side's end of the pair has `host_ip`, where a server
started here is reached from inside (it must listen there and advertise it as its ICE
candidate). Faults are iptables rules inside the namespace only, on its end of the veth, so
the host's firewall is never touched. As on a real link that goes away, a process inside sees
its UDP sends refused (EPERM) and its TCP segments vanish. The kernel's netem is not needed.

Names are unique per process (`edge-<pid>-<hex>`), so parallel runs do not collide, and a
namespace left behind by a process that died (SIGKILL) is removed by the next `namespace()`.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import random
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

COMMAND_TIMEOUT_S = 10.0
CHAIN = "EDGE_FAULT"
"""The iptables chain, in the namespace, that holds the current fault (empty: none)."""
NAME_PREFIX = "edge-"
_NAME = re.compile(rf"^{NAME_PREFIX}(\d+)-([0-9a-f]{{8}})$")
SUBNET_POOL = ipaddress.IPv4Network("10.223.0.0/16")
"""Point-to-point /30 subnets are picked at random from here, avoiding addresses in use."""
TOOLS = ("ip", "iptables", "iptables-restore")


class NetnsUnavailable(RuntimeError):
    """Namespaces cannot be made here (not root, no `ip`/`iptables`, no permission)."""


class Fault(enum.Enum):
    """What the namespace's link does to packets now."""

    NONE = "none"
    """Everything passes."""
    CUT = "cut"
    """Everything is dropped, both ways."""
    LOSS = "loss"
    """Each packet, either way, is dropped with probability `Namespace.loss_probability`."""


@dataclass(slots=True, kw_only=True)
class Namespace:
    """A live namespace; made by `namespace()`, removed when its block ends."""

    name: str
    host_if: str
    """This side's end of the veth pair."""
    peer_if: str
    """The namespace's end."""
    host_ip: str
    peer_ip: str
    fault: Fault = Fault.NONE
    loss_probability: float = 0.0
    log: list[str] = field(default_factory=list)
    """Every fault change, for failure messages."""

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside the namespace (`ip netns exec` execs: the pid is argv's own)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def cut(self) -> None:
        """Drop every packet on the namespace's link, both ways, until `restore()`."""
        self._set(Fault.CUT, ["-A", CHAIN, "-j", "DROP"])

    def loss(self, probability: float) -> None:
        """Drop each packet, either way, with `probability` (0..1), until `restore()`."""
        if not 0.0 < probability < 1.0:
            raise ValueError(f"loss probability must be between 0 and 1, not {probability}")
        rule = ["-A", CHAIN, "-m", "statistic", "--mode", "random"]
        rule += ["--probability", f"{probability:.4f}", "-j", "DROP"]
        self._set(Fault.LOSS, rule, probability)

    def restore(self) -> None:
        """Let everything pass again."""
        self._set(Fault.NONE, None)

    def readdress(self) -> str:
        """Give the namespace's end a new address and remove the old one (a new DHCP lease,
        another access point): sockets bound to the old address are stranded, new ones work.
        Returns the new address; `host_ip` stays reachable from it."""
        new_ip = _free_pair()[1]
        inside = ["ip", "netns", "exec", self.name]
        try:
            _run([*inside, "ip", "addr", "add", f"{new_ip}/32", "dev", self.peer_if])
            _run([*inside, "ip", "addr", "del", f"{self.peer_ip}/30", "dev", self.peer_if])
            route = [*inside, "ip", "route", "add", f"{self.host_ip}/32", "dev", self.peer_if]
            _run([*route, "src", new_ip])
            _run(["ip", "route", "add", f"{new_ip}/32", "dev", self.host_if])
        except subprocess.CalledProcessError as exc:
            raise NetnsUnavailable(f"could not change the address: {_explain(exc)}") from None
        self.log.append(f"readdress {self.peer_ip} -> {new_ip}")
        self.peer_ip = new_ip
        return new_ip

    def _set(self, fault: Fault, rule: list[str] | None, probability: float = 0.0) -> None:
        # One iptables-restore transaction: the flush and the new rule apply atomically.
        lines = ["*filter", f"-F {CHAIN}"]
        if rule is not None:
            lines.append(" ".join(rule))
        lines.append("COMMIT")
        try:
            _run(self.wrap(["iptables-restore", "-w", "--noflush"]), stdin="\n".join(lines) + "\n")
        except subprocess.CalledProcessError as exc:
            raise NetnsUnavailable(
                f"could not set fault {fault.value!r}: {_explain(exc)}"
            ) from None
        self.fault, self.loss_probability = fault, probability
        self.log.append(fault.value if fault is not Fault.LOSS else f"loss {probability:g}")


def unavailable_reason() -> str | None:
    """Why namespaces cannot be made here, or None when they probably can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)} (Debian packages iproute2 and iptables)"
    return None


@contextmanager
def namespace() -> Iterator[Namespace]:
    """Make a namespace with a veth pair and the fault chain; always removed afterwards."""
    reason = unavailable_reason()
    if reason is not None:
        raise NetnsUnavailable(reason)
    remove_stale()
    token = secrets.token_hex(4)
    host_ip, peer_ip = _free_pair()
    ns = Namespace(
        name=f"{NAME_PREFIX}{os.getpid()}-{token}",
        host_if=f"edh{token}",
        peer_if=f"edn{token}",
        host_ip=host_ip,
        peer_ip=peer_ip,
    )
    try:
        _build(ns)
    except subprocess.CalledProcessError as exc:
        _remove(ns.name, ns.host_if)
        raise NetnsUnavailable(f"could not set up a network namespace: {_explain(exc)}") from None
    try:
        yield ns
    finally:
        _remove(ns.name, ns.host_if)


def remove_stale() -> list[str]:
    """Remove namespaces of ours whose creating process is gone; return their names."""
    listed = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=False
    ).stdout
    removed = []
    for line in listed.splitlines():
        name = line.split(" ", 1)[0]
        match = _NAME.match(name)
        if match is None or _alive(int(match.group(1))):
            continue
        _remove(name, f"edh{match.group(2)}")
        removed.append(name)
    return removed


def _build(ns: Namespace) -> None:
    inside = ["ip", "netns", "exec", ns.name]
    _run(["ip", "netns", "add", ns.name])
    _run(["ip", "link", "add", ns.host_if, "type", "veth", "peer", "name", ns.peer_if])
    _run(["ip", "link", "set", ns.peer_if, "netns", ns.name])
    _run(["ip", "addr", "add", f"{ns.host_ip}/30", "dev", ns.host_if])
    _run(["ip", "link", "set", ns.host_if, "up"])
    _run([*inside, "ip", "addr", "add", f"{ns.peer_ip}/30", "dev", ns.peer_if])
    _run([*inside, "ip", "link", "set", ns.peer_if, "up"])
    _run([*inside, "ip", "link", "set", "lo", "up"])
    # Only the veth is faulted; the namespace's own loopback keeps working.
    _run([*inside, "iptables", "-w", "-N", CHAIN])
    _run([*inside, "iptables", "-w", "-A", "INPUT", "-i", ns.peer_if, "-j", CHAIN])
    _run([*inside, "iptables", "-w", "-A", "OUTPUT", "-o", ns.peer_if, "-j", CHAIN])


def _remove(name: str, host_if: str) -> None:
    # Deleting our end removes both ends at once, even while processes still run inside.
    for argv in (["ip", "link", "del", host_if], ["ip", "netns", "del", name]):
        subprocess.run(argv, capture_output=True, check=False, timeout=COMMAND_TIMEOUT_S)


def _free_pair() -> tuple[str, str]:
    """Host and peer addresses of a /30 that no local interface uses."""
    shown = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False
    ).stdout
    used = set(re.findall(r"inet (\d+\.\d+\.\d+\.\d+)", shown))
    subnets = list(SUBNET_POOL.subnets(new_prefix=30))
    for subnet in random.sample(subnets, 64):
        host, peer = (str(ip) for ip in subnet.hosts())
        if host not in used and peer not in used:
            return host, peer
    raise NetnsUnavailable(f"no free /30 left in {SUBNET_POOL}")


def _run(argv: list[str], *, stdin: str | None = None) -> None:
    subprocess.run(
        argv, input=stdin, capture_output=True, text=True, check=True, timeout=COMMAND_TIMEOUT_S
    )


def _explain(exc: subprocess.CalledProcessError) -> str:
    detail = (exc.stderr or "").strip().splitlines()
    return f"`{' '.join(exc.cmd)}` failed: {detail[-1] if detail else f'exit {exc.returncode}'}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
