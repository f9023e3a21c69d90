"""Fleet: N simulated boards in one process and one event loop, to load-test a backend.

    logging.basicConfig(level="INFO", handlers=[log_handler()])
    configs = load_fleet(Path("fleet.toml"), count=200, prefix=None, state_dir=None)
    await run_fleet(configs, stagger_s=30.0)

Each board is what `edge run --simulate` runs (`edge.daemon.run_board`): its own identity,
simulated pins, telemetry spool under `<state dir>/<identity>/`, room session, failover,
backoff and eviction judgement. The boards share the imports, the event loop and its default
executor, and one log handler whose lines name the board (a context variable follows each
board's tasks). What is process-wide belongs to the fleet: SIGINT/SIGTERM stop every board
(outputs safe, rooms left); no board talks to systemd; there is no per-board log ring, so
`edge.logs` is not offered.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import random
import resource
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from edge.allocator import HeapTrimmer
from edge.config import Config, held_secrets, parse_config, read_toml
from edge.connection import LinkState
from edge.errors import ConfigError, EdgeError
from edge.fleet_plan import (
    board_data,
    board_identities,
    identity_prefix,
    shared_spools,
    start_delays,
)
from edge.systemd import Notifier

_LOGGER = logging.getLogger(__name__)

EXIT_OK = 0
LOG_FORMAT = "%(asctime)s %(levelname)s %(board)s%(name)s: %(message)s"
"""`edge run`'s format with the board's identity in brackets (none outside any board)."""
FILES_PER_BOARD = 20
"""Open files a data-only board holds, about: signalling, ICE sockets per address, its spool."""
BOARD: contextvars.ContextVar[str] = contextvars.ContextVar("edge_fleet_board", default="")
"""The identity of the board whose task is running ("" outside any board)."""


class BoardLogFilter(logging.Filter):
    """Names the board that logs a record in `record.board` (`[sim-0001] `, or "")."""

    def filter(self, record: logging.LogRecord) -> bool:
        board = BOARD.get()
        record.board = f"[{board}] " if board else ""
        return True


def log_handler(stream: IO[str] | None = None) -> logging.Handler:
    """The one log handler of a fleet (stderr by default): lines name their board."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(BoardLogFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return handler


def copy_board_context(identity: str) -> contextvars.Context:
    """The current context with `BOARD` set: a task started in it (and its tasks) is the board's."""
    context = contextvars.copy_context()
    context.run(BOARD.set, identity)
    return context


def raise_open_files_limit(count: int) -> int:
    """Raise the soft limit on open files to the hard one; warn if `count` boards may not fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    if soft != resource.RLIM_INFINITY and count * FILES_PER_BOARD > soft:
        _LOGGER.warning(
            "%d board(s) may need about %d open files; this process may open %d (ulimit -n)",
            count,
            count * FILES_PER_BOARD,
            soft,
        )
    return soft


def load_fleet(
    path: Path,
    *,
    count: int,
    prefix: str | None,
    state_dir: Path | None,
    env: Mapping[str, str] | None = None,
) -> tuple[Config, ...]:
    """One config per board from the template at `path`; ConfigError naming board and key.

    `state_dir` (default: the template's `daemon.state_dir`, systemd's `STATE_DIRECTORY`,
    else the template's directory) holds one directory per board, named for its identity.
    """
    env = os.environ if env is None else env
    template = read_toml(path)
    identities = board_identities(identity_prefix(template, prefix), count)
    root = state_dir or _default_state_dir(template, path, env)
    configs = []
    for index, identity in enumerate(identities, start=1):
        data = board_data(template, identity=identity, index=index, state_dir=str(root / identity))
        try:
            configs.append(
                parse_config(data, source=f"{path} ({identity})", env=env, simulate=True)
            )
        except ConfigError as exc:
            raise ConfigError([f"{path} (board {identity}): {i}" for i in exc.issues]) from None
    if issues := shared_spools(configs):
        raise ConfigError(issues)
    if (secrets := held_secrets(template)) and path.stat().st_mode & 0o004:
        _LOGGER.warning("%s holds %s but every user can read it", path, ", ".join(secrets))
    return tuple(configs)


async def run_fleet(
    configs: Sequence[Config], *, stagger_s: float = 0.0, rng: random.Random | None = None
) -> int:
    """Run every board until SIGINT/SIGTERM (exit 0), or until all have ended.

    A board ending with an error retrying cannot fix (say a duplicate identity) is logged and
    the others run on; once all are stopped, the first such error is raised (as `edge run`
    would raise it, for its exit status).
    """
    delays = start_delays(len(configs), stagger_s, rng or random.Random())
    stop = asyncio.Event()
    tally = _Tally(total=len(configs), started_at=time.monotonic())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _request_stop, stop, signum)
    try:
        async with asyncio.TaskGroup() as tg:
            boards = []
            for config, delay in zip(configs, delays, strict=True):
                identity = config.livekit.identity
                board = _board(config, stop=stop, delay_s=delay, tally=tally)
                context = copy_board_context(identity)  # its tasks' log lines name it
                boards.append(
                    tg.create_task(board, name=f"fleet.board:{identity}", context=context)
                )
            within = f" within {stagger_s:g} s" if stagger_s else ""
            _LOGGER.info("%d board(s) starting%s", len(configs), within)
            # One heap trimmer for the process (the heap is shared by every board).
            trimmer = tg.create_task(HeapTrimmer().run(), name="fleet.heap-trim")
            await asyncio.wait(boards)
            trimmer.cancel()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if tally.failures:
        _LOGGER.error("%d of %d board(s) ended with an error", len(tally.failures), tally.total)
        raise tally.failures[0]
    _LOGGER.info("stopped: %d board(s) left their rooms", tally.total)
    return EXIT_OK


@dataclass(slots=True)
class _Tally:
    """Which boards are in their rooms, and which ended for good."""

    total: int
    started_at: float
    joined: set[str] = field(default_factory=set)
    failures: list[EdgeError] = field(default_factory=list)
    all_joined_after_s: float | None = None
    """How long until every board was in its room for the first time (None: not yet)."""

    def status(self, identity: str, line: str) -> None:
        """A board's connection changed (`line` starts with its state: `connected ...`)."""
        if not line.startswith(LinkState.CONNECTED.value):  # status lines start with the state
            self.joined.discard(identity)
            return
        self.joined.add(identity)
        if self.all_joined_after_s is None and len(self.joined) == self.total:
            self.all_joined_after_s = time.monotonic() - self.started_at
            _LOGGER.info(
                "all %d board(s) joined, %.1f s after the start",
                self.total,
                self.all_joined_after_s,
            )

    def failed(self, identity: str, error: EdgeError) -> None:
        self.joined.discard(identity)
        self.failures.append(error)
        running = self.total - len(self.failures)
        _LOGGER.error(
            "stopped for good: %s (%d of %d board(s) still running)", error, running, self.total
        )


class _BoardNotifier(Notifier):
    """Where a board would tell systemd: its connection state goes to the fleet's tally."""

    def __init__(self, identity: str, tally: _Tally) -> None:
        super().__init__(None)
        self._identity = identity
        self._tally = tally

    def ready(self, status: str) -> None:
        """The board's connection changed."""
        self._tally.status(self._identity, status)


async def _board(config: Config, *, stop: asyncio.Event, delay_s: float, tally: _Tally) -> None:
    """One board from its start moment until it is stopped or ends for good."""
    from edge.daemon import run_board  # heavy: aiortc

    if delay_s:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay_s):
                await stop.wait()
        if stop.is_set():
            return
    identity = config.livekit.identity
    notifier = _BoardNotifier(identity, tally)
    try:
        fatal = await run_board(
            config, stop=stop, simulate=True, notifier=notifier, keep_logs=False
        )
    except EdgeError as exc:  # its services could not start (say its spool): it alone ends
        fatal = exc
    if fatal is not None:
        tally.failed(identity, fatal)


def _default_state_dir(template: Mapping[str, object], path: Path, env: Mapping[str, str]) -> Path:
    daemon = template.get("daemon")
    configured = daemon.get("state_dir") if isinstance(daemon, Mapping) else None
    if isinstance(configured, str) and configured:
        return Path(configured)
    return Path(env.get("STATE_DIRECTORY", "").split(":")[0] or path.parent)


def _request_stop(stop: asyncio.Event, signum: int) -> None:
    _LOGGER.info("%s received: every board leaves its room", signal.Signals(signum).name)
    stop.set()
