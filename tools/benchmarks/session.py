"""One measured run: a fresh room with an observer, then a device on one SDK."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livekit import api

from . import procstat
from .cgroup import Group, Throttling
from .netns import Namespace
from .server import Server
from .wire import Child

PACKAGE = __name__.rpartition(".")[0]
DEVICE_MODULES = {"edge": f"{PACKAGE}.device_edge", "official": f"{PACKAGE}.device_official"}
IMPLEMENTATIONS = ("edge", "official")
BUDGETED = ("edge",)
"""Devices that run in the CPU budget's group; the official SDK has no 32-bit wheels for the
boards, so it runs unconstrained and is compared at that."""
JOIN_TIMEOUT_S = 30.0
BUDGET_JOIN_TIMEOUT_S = 120.0
"""A device on a Zero 2 W's share of a core imports and joins about 16 times slower."""


@dataclass
class Pair:
    """The device under test and the observer, both joined."""

    impl: str
    device: Child
    observer: Child
    startup: dict[str, float] = field(default_factory=dict)
    """Seconds from the device's process creation to: joined, and first packet observed."""
    netns: Namespace | None = None
    """The namespace the device runs in, for scenarios that fault its link."""
    cpu_group: Group | None = None
    """The CPU quota group the device runs in, if any."""

    def throttling(self) -> Throttling | None:
        return None if self.cpu_group is None else self.cpu_group.throttling()

    def cpu(self) -> procstat.CpuSample:
        return procstat.CpuSample(procstat.cpu_seconds(self.device.pid), time.monotonic_ns())

    def pss(self) -> int | None:
        return procstat.pss_bytes(self.device.pid)


@dataclass(frozen=True, slots=True)
class Context:
    server: Server
    repo_root: Path
    workdir: Path
    netns: Namespace | None = None
    """When set, devices run inside it and reach `server` on its veth address."""
    cpu_group: Group | None = None
    """When set, the devices of `BUDGETED` SDKs run in it (`--cpu-budget`)."""


def _token(server: Server, identity: str, room: str) -> str:
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        can_update_own_metadata=True,
    )
    return (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity(identity)
        .with_grants(grants)
        .to_jwt()
    )


@asynccontextmanager
async def open_pair(
    ctx: Context,
    impl: str,
    label: str,
    *,
    devices: Mapping[str, str] | None = None,
    hello: bool = True,
) -> AsyncIterator[Pair]:
    """Observer joins first; then the device process starts; yield once each sees the other.

    `devices` replaces the device module per implementation; without `hello` the pair is
    ready once the observer sees the device join (no first data packet is awaited).
    """
    room = f"bench-{label}-{uuid.uuid4().hex[:8]}"
    device_identity = f"device-{impl}"
    observer_config: dict[str, Any] = {
        "url": ctx.server.url,
        "token": _token(ctx.server, "observer", room),
        "device_identity": device_identity,
    }
    url = ctx.server.url if ctx.netns is None else ctx.server.url_via(ctx.netns.host_ip)
    device_config = {
        "url": url,
        "token": _token(ctx.server, device_identity, room),
        "room": room,
        "identity": device_identity,
    }
    wrapper = [] if ctx.netns is None else ctx.netns.wrap([])
    group = ctx.cpu_group if impl in BUDGETED else None
    if group is not None:
        wrapper = group.wrap(wrapper)  # outside the namespace's own sysfs
    logs = ctx.workdir / "logs"
    logs.mkdir(exist_ok=True)
    observer = await Child.start(
        "observer",
        f"{PACKAGE}.observer",
        observer_config,
        cwd=ctx.repo_root,
        log_path=logs / f"{label}-{impl}-observer.log",
    )
    device: Child | None = None
    try:
        await observer.expect("joined", timeout_s=JOIN_TIMEOUT_S)
        device = await Child.start(
            f"device ({impl})",
            (devices or DEVICE_MODULES)[impl],
            device_config,
            cwd=ctx.repo_root,
            log_path=logs / f"{label}-{impl}-device.log",
            wrapper=wrapper,
        )
        join_timeout_s = JOIN_TIMEOUT_S if group is None else BUDGET_JOIN_TIMEOUT_S
        joined = await device.expect("joined", timeout_s=join_timeout_s)
        seen = await observer.expect("device_seen", timeout_s=join_timeout_s)
        if hello:
            seen = await observer.expect("hello", timeout_s=join_timeout_s)
        pair = Pair(impl, device, observer, netns=ctx.netns, cpu_group=group)
        pair.startup = {"joined_s": (joined["joined_ns"] - device.spawned_ns) / 1e9}
        if hello:
            pair.startup["first_packet_seen_s"] = (seen["at_ns"] - device.spawned_ns) / 1e9
        yield pair
    finally:
        if device is not None:
            await device.stop()
        await observer.stop()
