"""The `edge run` daemon: join the room, stay joined, leave cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge import __version__, wire
from edge.access import AccessPolicy
from edge.allocator import HeapTrimmer
from edge.config import Config
from edge.connection import ConnectionStatus
from edge.errors import (
    ClockNotSet,
    CredentialsError,
    EdgeError,
    JoinRefused,
    RoomError,
    ServerLeft,
)
from edge.eviction import EvictionJudge, is_eviction
from edge.failover import Failover
from edge.gpio.room_session import serve_gpio
from edge.livekit.room import (
    DataReceived,
    Disconnected,
    Reconnected,
    Reconnecting,
    Room,
    RoomEvent,
    RoomOptions,
)
from edge.livekit.rpc import RpcEndpoint
from edge.livekit.streams import StreamEndpoint
from edge.logbook import serve_logs
from edge.peer_log import PeerLog
from edge.protocol.participants import (
    AttributesChanged,
    MetadataChanged,
    ParticipantJoined,
    ParticipantLeft,
    RoomMetadataChanged,
)
from edge.services import Services, open_services
from edge.simulation import SimulatedBoard
from edge.systemd import Notifier
from edge.telemetry.uplink import serve_telemetry
from edge.token import inspect_token, iso_utc, require_set_clock, token_for
from edge.twin import DeviceFacts

_LOGGER = logging.getLogger(__name__)
_PEER_LOG = PeerLog(_LOGGER)
"""Data packets and attribute changes are logged per participant within a budget."""

EXIT_OK = 0
FACTS_PERIOD_S = 30.0
"""How often uptime and the like are refreshed in the twin (it coalesces further)."""
FIRST_FACTS_REFRESH_S = 7.0
"""The second refresh, soon after the first ping answer (LiveKit pings every 5 s): RTT."""


async def run_daemon(config: Config, *, simulate: bool, pin_factory: Any = None) -> int:
    """Run until SIGINT/SIGTERM (exit 0) or an error that retrying cannot fix (exit 1).

    `pin_factory` overrides gpiozero's; `--simulate` uses mock pins when none is given.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _request_stop, stop, signum)
    try:
        notifier = Notifier.from_environment()
        fatal = await run_board(
            config,
            stop=stop,
            simulate=simulate,
            pin_factory=pin_factory,
            notifier=notifier,
            keep_logs=True,
            trim_heap=True,  # the process's only board: it keeps the heap trimmed
        )
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if fatal is not None:
        raise fatal
    _LOGGER.info("stopped")
    return EXIT_OK


async def run_board(
    config: Config,
    *,
    stop: asyncio.Event,
    simulate: bool,
    pin_factory: Any = None,
    notifier: Notifier,
    keep_logs: bool,
    trim_heap: bool = False,
) -> EdgeError | None:
    """One board's supervisor: its services, and room sessions until `stop` is set.

    Returns the error retrying cannot fix (None once stopped). Touches nothing process-wide
    but the root logger, and that only with `keep_logs` (the ring behind `edge.logs`), so a
    fleet can run many in one loop; signals and the notifier are the caller's.
    """
    if simulate and pin_factory is None:
        from edge.testing.pins import SimulatedPinFactory

        pin_factory = SimulatedPinFactory(config.gpio)
    model = SimulatedBoard().model if simulate else ""
    services = await open_services(
        config, simulate=simulate, pin_factory=pin_factory, model=model, keep_logs=keep_logs
    )
    if services.logbook is not None:
        logging.getLogger().addHandler(services.logbook)
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(s.run(), name=n) for n, s in services.running().items()]
            tasks.append(tg.create_task(notifier.run_watchdog(), name="daemon.watchdog"))
            if trim_heap:
                tasks.append(tg.create_task(HeapTrimmer().run(), name="daemon.heap-trim"))
            daemon = _Daemon(config, services, notifier, model)
            try:
                fatal = await _run(daemon, stop=stop)
            finally:
                notifier.stopping()
                services.gpio.close("daemon stopping")  # safe state first, before anything
                for task in tasks:
                    task.cancel()
        if services.telemetry is not None:
            await services.telemetry.aclose()  # last: spool what was still queued
    finally:
        if services.logbook is not None:
            logging.getLogger().removeHandler(services.logbook)
    return fatal


@dataclass(slots=True)
class _Daemon:
    """The supervisor's state: the services sessions bind to, and what sessions leave behind."""

    config: Config
    services: Services
    notifier: Notifier
    model: str
    started_at: float = field(default_factory=time.monotonic)
    last_error: str = ""
    """Why the previous session ended (shown as `edge.error`)."""
    refreshed_token: str = field(default="", repr=False)
    """The server's latest refresh of a static token, for the next session."""
    connection: ConnectionStatus = field(default_factory=ConnectionStatus)
    """Where the room connection stands (logs, STATUS= and `edge.connection*` attributes)."""
    failover: Failover = field(init=False)
    """Which server URL to join next, and how long to wait after a failure."""
    evictions: EvictionJudge = field(default_factory=EvictionJudge)
    """Whether being pushed out for our identity is final."""

    def __post_init__(self) -> None:
        self.failover = Failover(self.config.livekit.url)


async def _run(daemon: _Daemon, *, stop: asyncio.Event) -> EdgeError | None:
    """Join, serve and rejoin until stopped (None) or an error retrying cannot fix."""
    while not stop.is_set():
        async with asyncio.TaskGroup() as tg:
            session = tg.create_task(_session(daemon), name="daemon.session")
            stopper = tg.create_task(stop.wait(), name="daemon.stop")
            await asyncio.wait([session, stopper], return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                daemon.services.gpio.close("daemon stopping")  # outputs safe before leaving
            session.cancel()  # on stop: leaves the room cleanly (Room.connect's finally)
            stopper.cancel()
        if stop.is_set():
            break
        outcome = session.result()
        if outcome.fatal and not _forgiven(daemon, outcome):
            return outcome.error
        # Only words from here on: the error's traceback holds the ended session's frames (its
        # Room, peer connections, endpoints), which must not live on through the next session.
        error, joined = str(outcome.error), outcome.joined
        del outcome, session
        delay = daemon.failover.failed()
        where = f" through {daemon.failover.current()}" if daemon.failover.others else ""
        _LOGGER.warning("%s; retrying%s in %.1f s", error, where, delay)
        daemon.last_error = error  # in the twin once we are back
        # Ready: the daemon is doing its job (outputs safe, retrying), just not in a room.
        daemon.connection.retrying(error, delay_s=delay, failed=not joined, now=time.monotonic())
        _connection_changed(daemon)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await stop.wait()
    return None


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How one room session ended."""

    error: EdgeError
    fatal: bool
    """Retrying cannot help (refused token, evicted by a duplicate identity, ...)."""
    joined: bool
    """The session got as far as joining (resets the backoff)."""
    joined_for_s: float = 0.0
    """How long the session was joined before it ended (0: it never was)."""


def _forgiven(daemon: _Daemon, outcome: _Outcome) -> bool:
    """A final eviction for our identity that may be the server's own doing: rejoin once."""
    if not is_eviction(outcome.error):
        return False
    now = time.monotonic()
    if daemon.evictions.final(joined_for_s=outcome.joined_for_s, now=now):
        return False
    _LOGGER.warning(
        "pushed out for our identity %.1f s after joining: probably the server's own retry of"
        " our join, so rejoining once (a second time this soon means another device has it)",
        outcome.joined_for_s,
    )
    return True


async def _session(daemon: _Daemon) -> _Outcome:
    """Join once and serve until the connection ends; the GPIO link timer covers the gap."""
    config = daemon.config
    lk = config.livekit
    joined = False
    joined_at = 0.0
    try:
        token = await _session_token(daemon)
        options = RoomOptions(
            url=daemon.failover.current(),
            attributes={**lk.attributes, wire.Attribute.STATUS: wire.Status.ONLINE},
            connect_timeout_s=lk.connect_timeout_s,
            resume_timeout_s=lk.resume_timeout_s,
            other_servers=daemon.failover.others,
            device_model=daemon.model,
        )
        async with Room.connect(options, token) as room:
            joined, joined_at = True, time.monotonic()
            daemon.failover.joined()
            daemon.connection.joined(room=room.name, identity=lk.identity, now=time.monotonic())
            _connection_changed(daemon)
            try:
                await _serve(room, daemon)
            finally:
                daemon.refreshed_token = room.token if room.token != token else ""
            error = room.disconnect_error or RoomError("disconnected")
            daemon.connection.lost(str(error), now=time.monotonic())
            _connection_changed(daemon)
    except JoinRefused as exc:
        return _Outcome(exc, fatal=not exc.retryable, joined=joined)
    except ServerLeft as exc:
        joined_for = time.monotonic() - joined_at if joined else 0.0
        return _Outcome(exc, fatal=not exc.can_reconnect, joined=joined, joined_for_s=joined_for)
    except (RoomError, ClockNotSet) as exc:
        return _Outcome(exc, fatal=False, joined=joined)
    except EdgeError as exc:
        return _Outcome(exc, fatal=True, joined=joined)
    finally:
        daemon.services.gpio.link_lost()
        if daemon.services.media is not None:
            await daemon.services.media.release()  # after the leave: camera and microphone go last
    fatal = isinstance(error, ServerLeft) and not error.can_reconnect
    return _Outcome(error, fatal=fatal, joined=True, joined_for_s=time.monotonic() - joined_at)


async def _serve(room: Room, daemon: _Daemon) -> None:
    """Bind every service to the room and run until the room disconnects."""
    # One endpoint of each per session, created before any await: calls and streams that
    # arrive meanwhile are held by the room until these register.
    config, services = daemon.config, daemon.services
    rpc = RpcEndpoint(room, policy=AccessPolicy.from_config(config))
    streams = StreamEndpoint(room)
    workdir = Path(config.daemon.state_dir or ".")
    if services.logbook is not None:
        serve_logs(rpc, streams, services.logbook, config=config.redacted(), workdir=workdir)
    if services.media is not None:
        services.media.register(rpc, streams)
    await _align_identity(room, config)
    async with asyncio.TaskGroup() as tg:
        gpio = serve_gpio(room, services.gpio, rpc=rpc, set_attributes=False)  # the twin does
        initial = dict(room.local_participant.attributes)
        tasks = [
            tg.create_task(_log_events(room, daemon), name="daemon.room-events"),
            tg.create_task(gpio, name="daemon.gpio"),
            tg.create_task(services.twin.run(room, initial=initial), name="daemon.twin"),
            tg.create_task(_report_facts(daemon, room), name="daemon.twin-facts"),
        ]
        if services.media is not None:
            tasks.append(tg.create_task(services.media.serve(room), name="daemon.media"))
        if services.bridge is not None and services.link is not None:
            from edge.mqtt.bridge_links import serve_mqtt

            mqtt = serve_mqtt(room, services.bridge, rpc=rpc, link=services.link)
            tasks.append(tg.create_task(mqtt, name="daemon.mqtt-session"))
        if services.telemetry is not None:
            uplink = serve_telemetry(
                room, services.telemetry, streams=streams, rpc=rpc, identity=config.livekit.identity
            )
            tasks.append(tg.create_task(uplink, name="daemon.telemetry-uplink"))
        await room.wait_disconnected()
        for task in tasks:
            task.cancel()


async def _align_identity(room: Room, config: Config) -> None:
    """A static token carries its own name/metadata; apply the config's if they differ."""
    lk = config.livekit
    local = room.local_participant
    name = lk.name or lk.identity
    if name != local.name:
        await room.set_name(name)
    if lk.metadata and lk.metadata != local.metadata:
        await room.set_metadata(lk.metadata)


def _connection_changed(daemon: _Daemon) -> None:
    """Tell systemd and the twin (so the room after a rejoin, and MQTT at once) where we are."""
    daemon.notifier.ready(daemon.connection.status_line())
    daemon.services.twin.update(daemon.connection.attributes())


async def _session_token(daemon: _Daemon) -> str:
    """A static token is replaced by the server's refreshed one while that is still valid.

    (The server refreshes tokens every few minutes and on claim changes; a static token from
    the config would expire during a long deployment. Minted tokens are simply minted anew.)
    """
    now = time.time()
    config = daemon.config.livekit
    if config.token_url:
        require_set_clock(now)  # a token fetched before NTP would look not yet valid
        from edge.livekit.token_source import fetch_token

        fetched = await fetch_token(config, now=now)
        daemon.failover.offer(fetched.server_url)
        return fetched.token
    if config.token and daemon.refreshed_token:
        try:
            info = inspect_token(daemon.refreshed_token, now=now)
        except CredentialsError:
            daemon.refreshed_token = ""
        else:
            _LOGGER.info(
                "rejoining with the server's refreshed token (valid until %s)",
                iso_utc(info.expires_at),
            )
            return daemon.refreshed_token
    return token_for(config, now=now)


async def _report_facts(daemon: _Daemon, room: Room) -> None:
    """Keep the twin's view of the daemon itself current."""
    while True:
        lease = daemon.services.gpio.lease
        facts = DeviceFacts(
            online=True,
            board_model=daemon.model,
            version=__version__,
            uptime_s=time.monotonic() - daemon.started_at,
            lease_holder=lease.holder if lease else "",
            rtt_ms=room.rtt_ms,
            network_quality=room.network_quality,
            last_error=daemon.last_error,
        )
        daemon.services.twin.update(facts.as_attributes())
        await asyncio.sleep(FACTS_PERIOD_S if room.rtt_ms is not None else FIRST_FACTS_REFRESH_S)


async def _log_events(room: Room, daemon: _Daemon) -> None:
    """Say what happens in the room, one line per event; follow a resumed session."""
    identity = daemon.config.livekit.identity
    async for event in room.events():
        _describe(event)
        if isinstance(event, Reconnecting):
            daemon.connection.lost(event.reason, now=time.monotonic())
            _connection_changed(daemon)
        elif isinstance(event, Reconnected):
            daemon.connection.joined(room=room.name, identity=identity, now=time.monotonic())
            _connection_changed(daemon)


def _describe(event: RoomEvent) -> None:
    match event:
        case ParticipantJoined(participant=p):
            _LOGGER.info(
                "participant %r joined (%s, %d attribute(s))", p.identity, p.kind, len(p.attributes)
            )
        case ParticipantLeft(participant=p, reason=reason):
            _LOGGER.info("participant %r left (%s)", p.identity, reason)
        case AttributesChanged(identity=identity, changed=changed, local=False):
            # Debug only: in a room shared by many boards, every board's twin changes all the
            # time, and each line on every other board is noise (the room shows them anyway).
            _PEER_LOG.log(
                logging.DEBUG,
                identity,
                "participant %r attributes changed: %s",
                identity,
                dict(changed),
            )
        case MetadataChanged(identity=identity, name=name, local=False):
            _LOGGER.info("participant %r metadata/name changed (name %r)", identity, name)
        case RoomMetadataChanged(new=new):
            _LOGGER.info("room metadata is now %r", new[:200])
        case DataReceived(data=d):
            _PEER_LOG.log(
                logging.INFO,
                d.sender_identity,
                "data from %r on topic %r: %d byte(s), %s",
                d.sender_identity,
                d.topic,
                len(d.payload),
                "reliable" if d.reliable else "lossy",
            )
        case Reconnecting(reason=reason):
            _LOGGER.info("room connection lost, resuming the session: %s", reason)
        case Reconnected(outage_s=outage):
            _LOGGER.info("room session resumed after %.1f s", outage)
        case Disconnected(reason=reason):
            _LOGGER.info("room connection ended: %s", reason)
        case _:
            _LOGGER.debug("%s", event)


def _request_stop(stop: asyncio.Event, signum: int) -> None:
    _LOGGER.info("%s received: leaving the room", signal.Signals(signum).name)
    stop.set()
