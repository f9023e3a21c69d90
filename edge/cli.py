"""The `edge` command line: run the daemon (or a fleet of simulated ones), check a config file,
mint a token."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edge import __version__
from edge.allocator import limit_arenas
from edge.config import (
    DEFAULT_TOKEN_TTL_S,
    LOG_LEVELS,
    TOKEN_TTL_MAX_S,
    TOKEN_TTL_MIN_S,
    Config,
    LiveKitConfig,
    debug_census_path,
    env_api_credentials,
    load_config,
)
from edge.console import add_parser as add_console_parser
from edge.errors import (
    ConfigError,
    CredentialsError,
    EdgeError,
    JoinRefused,
    ServerLeft,
    TokenExpired,
)
from edge.media.spec import describe_camera, describe_microphone
from edge.provision.command import add_parser as add_provision_parser
from edge.state_dir import check_state_dir
from edge.token import inspect_token, iso_utc, mint_token

_LOGGER = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
"""The server refused us for good (bad token, duplicate identity, removed), or the static
token expired: restarting would only repeat it, or evict the other device with our
identity, in a loop."""
EXIT_INTERRUPTED = 130
DEFAULT_CONFIG = Path("/etc/edge/edge.toml")
"""Where tools/install puts the config."""

_Handler = Callable[[argparse.Namespace], int]


def main(argv: list[str] | None = None) -> int:
    """Run one `edge` command and return its exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors; argparse has printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler: _Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_usage(sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except ConfigError as exc:
        _errors(exc.issues)
        return EXIT_USAGE
    except (JoinRefused, ServerLeft, TokenExpired) as exc:
        _errors([str(exc)])
        return EXIT_REFUSED
    except EdgeError as exc:
        _errors([str(exc)])
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    limit_arenas()  # before any thread allocates
    _setup_logging(args.log_level or "info")
    config = load_config(args.config, simulate=args.simulate)
    state = check_state_dir(config)
    if state.errors or state.denied:
        raise ConfigError([*state.errors, *state.denied])
    if args.log_level is None:
        _setup_logging(config.daemon.log_level)
    from edge import pyav_stand_in

    pyav_stand_in.install_for(config)  # before aiortc loads: no FFmpeg in a data-only daemon
    from edge.daemon import run_daemon  # heavy: aiortc (and PyAV, with media)
    from edge.executor import DaemonThreadExecutor

    with asyncio.Runner() as runner:
        # A host-name lookup stuck in the resolver must not hold the process once stopped.
        runner.get_loop().set_default_executor(DaemonThreadExecutor())
        if census_path := debug_census_path():
            from edge.heap_census import install

            install(runner.get_loop(), census_path)
        return runner.run(run_daemon(config, simulate=args.simulate))


def _fleet(args: argparse.Namespace) -> int:
    """`edge fleet`: N simulated boards in this process; exit statuses as `edge run`'s."""
    limit_arenas()  # before any thread allocates
    from edge import fleet

    _setup_logging(args.log_level or "info", handler=fleet.log_handler())
    configs = fleet.load_fleet(
        args.config, count=args.count, prefix=args.identity_prefix, state_dir=args.state_dir
    )
    fleet.raise_open_files_limit(len(configs))
    for config in configs:
        state = check_state_dir(config)
        if state.errors or state.denied:
            raise ConfigError([*state.errors, *state.denied])
    if args.log_level is None:
        _setup_logging(configs[0].daemon.log_level)
    from edge import pyav_stand_in

    pyav_stand_in.install_for(configs[0])  # before aiortc loads: no FFmpeg for data-only boards
    from edge.executor import DaemonThreadExecutor

    with asyncio.Runner() as runner:
        runner.get_loop().set_default_executor(DaemonThreadExecutor())
        return runner.run(fleet.run_fleet(configs, stagger_s=args.stagger))


def _check_config(args: argparse.Namespace) -> int:
    _setup_logging("warning")
    config = load_config(args.config)
    state = check_state_dir(config)
    if state.errors:
        raise ConfigError(list(state.errors))
    try:
        credentials = _describe_credentials(config.livekit)
    except CredentialsError as exc:
        _errors([str(exc)])
        return EXIT_USAGE
    lk = config.livekit
    lines = [
        f"{args.config}: OK",
        f"  url: {', '.join(lk.url)}",
        f"  room: {lk.room}",
        f"  identity: {lk.identity} (name {lk.name!r}, {len(lk.attributes)} attribute(s))",
        f"  credentials: {credentials}",
        f"  log level: {config.daemon.log_level}",
        f"  gpio: {_names(config.gpio.outputs)} output(s), {_names(config.gpio.inputs)} input(s)",
        f"  telemetry: {_names(config.telemetry.sensors)} sensor(s), spool {config.spool_path}",
        "  mqtt: "
        + (f"{config.mqtt.host}:{config.mqtt.port}" if config.mqtt else "off (no [mqtt] section)"),
        f"  camera: {describe_camera(config.camera)}",
        f"  microphone: {describe_microphone(config.microphone)}",
        *(f"  warning: {line}; the daemon's user must be able to" for line in state.denied),
        *(f"  warning: {line}" for line in _mqtt_warnings(config)),
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def _mqtt_warnings(config: Config) -> list[str]:
    if config.mqtt is None:
        return []
    from edge.mqtt.discovery import config_warnings

    return config_warnings(config.mqtt, config.gpio.outputs)


def _names(items: Sequence[Any]) -> str:
    """`2 (lamp, fan)` for named config items."""
    names = ", ".join(item.name for item in items)
    return f"{len(items)} ({names})" if items else "0"


def _token(args: argparse.Namespace) -> int:
    _setup_logging("warning")
    env_key, env_secret = env_api_credentials()
    config: LiveKitConfig | None = None
    if args.config is not None:
        config = load_config(args.config).livekit
    device = config if args.identity is None else None  # same participant as the config
    api_key = args.api_key or (config.api_key if config else "") or env_key
    api_secret = args.api_secret or (config.api_secret if config else "") or env_secret
    room = args.room or (config.room if config else "")
    identity = args.identity or (config.identity if config else "")
    ttl = (
        args.ttl
        if args.ttl is not None
        else (config.token_ttl_s if config else DEFAULT_TOKEN_TTL_S)
    )
    problems = [
        f"{what}: required (give --{flag}{hint})"
        for what, value, flag, hint in (
            ("api key", api_key, "api-key", ", --config or set LIVEKIT_API_KEY"),
            ("api secret", api_secret, "api-secret", ", --config or set LIVEKIT_API_SECRET"),
            ("room", room, "room", " or --config"),
            ("identity", identity, "identity", " or --config"),
        )
        if not value
    ]
    if not TOKEN_TTL_MIN_S <= ttl <= TOKEN_TTL_MAX_S:
        problems.append(f"--ttl: expected {TOKEN_TTL_MIN_S} to {TOKEN_TTL_MAX_S} s, got {ttl}")
    if problems:
        _errors(problems)
        return EXIT_USAGE
    jwt = mint_token(
        api_key=api_key,
        api_secret=api_secret,
        room=room,
        identity=identity,
        name=args.name or (device.name if device else None),
        ttl_s=ttl,
        metadata=device.metadata if device else None,
        attributes=device.attributes if device else None,
        observer=args.observer,
    )
    sys.stdout.write(jwt + "\n")
    return EXIT_OK


def _describe_credentials(lk: LiveKitConfig) -> str:
    """One line about the credentials; CredentialsError if a static token is unusable now."""
    if lk.credentials == "api_key":
        return f"api key {lk.api_key!r} + secret (tokens minted for {lk.token_ttl_s} s)"
    if lk.credentials == "token_url":
        return f"a token fetched from {lk.token_url} for every join"
    info = inspect_token(lk.token, now=time.time())
    expires = iso_utc(info.expires_at)
    return f"static token for {info.identity!r} in room {info.room!r}, expires {expires}"


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge", description="A LiveKit room participant for single-board computers."
    )
    parser.add_argument("--version", action="version", version=f"edge {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = commands.add_parser("run", help="join the room and stay there")
    _add_config(run, required=True)
    run.add_argument("--simulate", action="store_true", help="use a simulated board")
    run.add_argument("--log-level", choices=LOG_LEVELS, help="override daemon.log_level")
    run.set_defaults(handler=_run)

    fleet = commands.add_parser(
        "fleet",
        help="run N simulated boards in this process, to load-test a backend",
        description="Run N simulated boards (each as `edge run --simulate` would run it) in one"
        " process. Every board gets the template's settings, its own identity (PREFIX-0001, ...)"
        " and its own state directory (DIR/<identity>/); {identity} and {index} in the"
        ' template\'s strings name the board (e.g. room = "site-{index}"). SIGINT/SIGTERM stop'
        " every board (exit 0); a board that ends for good (say a refused token) is logged and the"
        " others run on, and the fleet then exits as `edge run` would have for it (3 or 1)."
        " Boards keep no log ring: edge.logs is not offered.",
    )
    fleet.add_argument(
        "--config", type=Path, required=True, metavar="TEMPLATE", help="TOML config template"
    )
    fleet.add_argument("--count", type=int, required=True, metavar="N", help="how many boards")
    fleet.add_argument(
        "--identity-prefix",
        metavar="PREFIX",
        help="identities PREFIX-0001... (default: the template's livekit.identity)",
    )
    fleet.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="boards keep their state in DIR/<identity>/ (default: the template's state directory)",
    )
    fleet.add_argument(
        "--stagger",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="start each board at a random moment within SECONDS (default 0: all at once)",
    )
    fleet.add_argument("--log-level", choices=LOG_LEVELS, help="override daemon.log_level")
    fleet.set_defaults(handler=_fleet)

    check = commands.add_parser("check-config", help="validate a config file")
    _add_config(check, required=True)
    check.set_defaults(handler=_check_config)

    doctor = commands.add_parser(
        "check", help="check this board, its config and the server; say what to fix"
    )
    doctor.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, metavar="PATH", help="TOML config file"
    )
    doctor.set_defaults(handler=_doctor)

    selftest = commands.add_parser(
        "selftest", help="exercise camera, microphone and chosen outputs; print a report"
    )
    _add_config(selftest, required=True)
    selftest.add_argument(
        "--toggle",
        action="append",
        default=[],
        metavar="OUTPUT",
        help="pulse this on/off output (only if what it drives is safe to switch); repeatable",
    )
    selftest.set_defaults(handler=_selftest)

    safe = commands.add_parser(
        "safe-state", help="drive every declared output to its safe value and exit"
    )
    _add_config(safe, required=True)
    safe.set_defaults(handler=_safe_state)

    token = commands.add_parser("token", help="mint an access token and print it")
    _add_config(token, required=False)
    token.add_argument("--api-key", help="API key (default: config, then LIVEKIT_API_KEY)")
    token.add_argument("--api-secret", help="API secret (default: config, LIVEKIT_API_SECRET)")
    token.add_argument("--room", help="room name (default: config)")
    token.add_argument("--identity", help="participant identity (default: config)")
    token.add_argument("--name", help="display name (default: config when --identity is not given)")
    token.add_argument("--ttl", type=int, metavar="SECONDS", help="lifetime (default: config, 6 h)")
    token.add_argument("--observer", action="store_true", help="viewer token: no media publish")
    token.set_defaults(handler=_token)

    add_provision_parser(commands)
    add_console_parser(commands)
    return parser


def _doctor(args: argparse.Namespace) -> int:
    """`edge check`: one line per check; exit 1 when any check failed."""
    _setup_logging("error")  # the report names what config loading would warn about
    from edge.doctor import diagnose, failed, render

    findings = diagnose(args.config)
    sys.stdout.write(render(findings))
    return EXIT_FAILED if failed(findings) else EXIT_OK


def _selftest(args: argparse.Namespace) -> int:
    """`edge selftest`: the report on stdout; exit 1 when a part failed."""
    _setup_logging("warning")
    config = load_config(args.config)
    from edge.doctor.selftest import failed, render, selftest

    parts = asyncio.run(selftest(config, toggle=args.toggle))
    sys.stdout.write(render(config, parts))
    return EXIT_FAILED if failed(parts) else EXIT_OK


def _safe_state(args: argparse.Namespace) -> int:
    """For ExecStopPost= and by hand: outputs to safe even when the daemon died."""
    _setup_logging("info")
    config = load_config(args.config)
    from edge.gpio.safe_state import drive_outputs_safe  # heavy: gpiozero

    report = drive_outputs_safe(config.gpio.outputs)
    if report.failures:
        total = len(config.gpio.outputs)
        _errors([*report.failures, f"{len(report.safe)} of {total} output(s) driven safe"])
        return EXIT_FAILED
    return EXIT_OK


def _add_config(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--config", type=Path, required=required, metavar="PATH", help="TOML config file"
    )


def _setup_logging(level: str, *, handler: logging.Handler | None = None) -> None:
    """`handler`: the root logger's, when it has none yet (default: stderr, `LOG_FORMAT`)."""
    handlers = None if handler is None else [handler]
    logging.basicConfig(format=LOG_FORMAT, level=level.upper(), handlers=handlers)
    logging.getLogger().setLevel(level.upper())
    # Library warnings (e.g. gpiozero's "no echo received" from a sensor's own thread) go to the
    # log, where journald and the log bundle keep them, once per place they come from.
    logging.captureWarnings(True)
    # ICE/DTLS libraries log every candidate pair at INFO; keep them for --log-level debug.
    for noisy in ("aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(
            logging.DEBUG if level.lower() == "debug" else logging.WARNING
        )


def _errors(lines: Sequence[str]) -> None:
    sys.stderr.write("".join(f"edge: {line}\n" for line in lines))
