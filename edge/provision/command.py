"""`edge provision`: the command line around the pure plan and the partition I/O."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from edge.errors import ProvisionError
from edge.provision.edge_config import EdgeConfigFile, existing_config, generated_config
from edge.provision.firstboot import CONFIG_PATH
from edge.provision.partition import BootPartition, open_boot_partition
from edge.provision.plan import CMDLINE_NAME, FirstBootFormat, Plan, build_plan
from edge.provision.request import DEFAULT_USER, ProvisionRequest, check_hostname, check_user
from edge.provision.ssh_keys import parse_public_keys
from edge.provision.wifi import WifiNetwork, wifi_network

ENV_WIFI_PASSPHRASE = "EDGE_WIFI_PASSPHRASE"
AUTO = "auto"


def add_parser(commands: Any) -> None:
    """Register `provision` on the `edge` command's subparsers."""
    p: argparse.ArgumentParser = commands.add_parser(
        "provision",
        help="write Wi-Fi, login and the edge config onto a Raspberry Pi OS boot partition",
        description=(
            "Prepare a freshly flashed Raspberry Pi OS card or image for its first boot:"
            " host name, Wi-Fi, a user with SSH keys, and the edge config, which first boot"
            f" moves to {CONFIG_PATH}. Validates everything before writing anything."
        ),
    )
    p.add_argument("target", type=Path, help="mounted boot partition, .img file or SD card device")
    p.add_argument(
        "--format",
        choices=[AUTO, *(f.value for f in FirstBootFormat)],
        default=AUTO,
        help="first-boot format (default: detected from the partition's files)",
    )
    p.add_argument("--hostname", required=True, help="the board's host name")
    p.add_argument("--user", default=DEFAULT_USER, help=f"login name (default: {DEFAULT_USER})")
    p.add_argument(
        "--ssh-key",
        type=Path,
        action="append",
        required=True,
        metavar="FILE",
        help="public key file (.pub or authorized_keys); repeat for more",
    )
    wifi = p.add_argument_group("Wi-Fi (the passphrase comes from $" + ENV_WIFI_PASSPHRASE + ","
                                " --wifi-passphrase-file, or a prompt)")  # fmt: skip
    wifi.add_argument("--wifi-ssid", help="network name (leave out for a wired board)")
    wifi.add_argument("--wifi-country", help="ISO 3166 country code, e.g. GB (needed with SSID)")
    wifi.add_argument("--wifi-passphrase-file", type=Path, metavar="FILE", help="'-' for stdin")
    wifi.add_argument("--wifi-hidden", action="store_true", help="the SSID is not broadcast")
    wifi.add_argument("--wifi-open", action="store_true", help="an open network (no passphrase)")
    conf = p.add_argument_group(
        "edge config: --config FILE, or --url/--room/--identity with the credentials in"
        " LIVEKIT_API_KEY + LIVEKIT_API_SECRET (or LIVEKIT_TOKEN)"
    )
    conf.add_argument("--config", type=Path, metavar="PATH", help="an edge.toml to install")
    conf.add_argument("--url", help="LiveKit server URL")
    conf.add_argument("--room", help="room to join")
    conf.add_argument("--identity", help="participant identity (unique per board)")
    conf.add_argument("--name", default="", help="display name")
    p.add_argument("--dry-run", action="store_true", help="check and show the plan, write nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate every input and the target, then write; ProvisionError before any write."""
    request = build_request(args, env=os.environ, stdin=sys.stdin)
    partition = open_boot_partition(args.target)
    names = partition.names()
    chosen = None if args.format == AUTO else FirstBootFormat(args.format)
    cmdline = _read_cmdline(partition, names)
    plan = build_plan(
        request,
        names=names,
        cmdline=cmdline,
        chosen=chosen,
        instance_id=f"{request.hostname}-{time.time_ns() // 1_000_000}",
        source=partition.description,
    )
    if not args.dry_run:
        try:
            partition.apply(plan.files, plan.remove)
        except OSError as exc:
            raise ProvisionError(
                f"{args.target}: writing failed: {exc.strerror or exc}; run again to finish"
            ) from None
    sys.stdout.write(summary(request, plan, partition.description, dry_run=args.dry_run))
    return 0


def build_request(
    args: argparse.Namespace, *, env: Mapping[str, str], stdin: TextIO
) -> ProvisionRequest:
    """Every input checked; one ProvisionError lists all problems."""
    issues: list[str] = []
    check_hostname(args.hostname, issues)
    check_user(args.user, issues)
    keys: list[str] = []
    for path in args.ssh_key:
        text = _read_text(path, "--ssh-key", issues)
        if text is not None:
            keys += parse_public_keys(text, source=str(path), issues=issues)
    wifi = _wifi(args, env=env, stdin=stdin, issues=issues)
    config = _edge_config(args, env=env, issues=issues)
    if issues or config is None:
        raise ProvisionError("; ".join(issues))
    return ProvisionRequest(
        hostname=args.hostname,
        user=args.user,
        ssh_keys=tuple(dict.fromkeys(keys)),
        wifi=wifi,
        edge_config=config,
    )


def summary(request: ProvisionRequest, plan: Plan, where: str, *, dry_run: bool) -> str:
    """What was (or would be) written, without any secret."""
    how = "detected" if plan.detected else "chosen"
    wifi = request.wifi
    net = f"Wi-Fi {wifi.ssid!r} ({wifi.country})" if wifi else "no Wi-Fi (wired)"
    lines = [
        f"{'would write' if dry_run else 'wrote'} to {where}: {', '.join(sorted(plan.files))}",
        f"  first-boot format: {plan.format.value} ({how})",
        f"  {request.hostname}: {net}, user {request.user!r} with"
        f" {len(request.ssh_keys)} SSH key(s), password login off",
        f"  edge: {request.edge_config.identity!r} in room {request.edge_config.room!r}"
        f" on {request.edge_config.url}",
        *(f"  {note}" for note in plan.notes),
        f"On first boot the config moves to {CONFIG_PATH} (mode 0640) and edge.service is",
        "enabled. The root file system is not visible from here: if this image does not have",
        "edge-participant installed, run tools/install on the board once it is online.",
    ]
    return "\n".join(lines) + "\n"


def _wifi(
    args: argparse.Namespace, *, env: Mapping[str, str], stdin: TextIO, issues: list[str]
) -> WifiNetwork | None:
    if args.wifi_ssid is None:
        for flag, value in (
            ("--wifi-country", args.wifi_country),
            ("--wifi-passphrase-file", args.wifi_passphrase_file),
            ("--wifi-hidden", args.wifi_hidden or None),
            ("--wifi-open", args.wifi_open or None),
        ):
            if value is not None:
                issues.append(f"{flag}: only with --wifi-ssid")
        return None
    if args.wifi_country is None:
        issues.append("--wifi-country: required with --wifi-ssid (e.g. GB, DE, US)")
    passphrase = None if args.wifi_open else _passphrase(args, env, stdin, issues)
    if passphrase is None and not args.wifi_open:
        return None
    return wifi_network(
        ssid=args.wifi_ssid,
        passphrase=passphrase,
        country=args.wifi_country or "",
        hidden=args.wifi_hidden,
        issues=issues,
    )


def _passphrase(
    args: argparse.Namespace, env: Mapping[str, str], stdin: TextIO, issues: list[str]
) -> str | None:
    """From the passphrase file, the environment or a prompt; never from the command line."""
    path: Path | None = args.wifi_passphrase_file
    if path is not None:
        text = (
            stdin.read() if str(path) == "-" else _read_text(path, "--wifi-passphrase-file", issues)
        )
        return None if text is None else text.rstrip("\r\n")
    if env.get(ENV_WIFI_PASSPHRASE):
        return env[ENV_WIFI_PASSPHRASE]
    if stdin.isatty():
        return getpass.getpass(f"Wi-Fi passphrase for {args.wifi_ssid!r}: ")
    issues.append(
        f"wifi passphrase: set {ENV_WIFI_PASSPHRASE}, give --wifi-passphrase-file,"
        " or --wifi-open for an open network"
    )
    return None


def _edge_config(
    args: argparse.Namespace, *, env: Mapping[str, str], issues: list[str]
) -> EdgeConfigFile | None:
    flags = {"--url": args.url, "--room": args.room, "--identity": args.identity}
    if args.config is not None:
        clashing = [flag for flag, value in flags.items() if value is not None]
        if clashing:
            issues.append(f"--config: give either it or {', '.join(clashing)}, not both")
            return None
        content = _read_bytes(args.config, "--config", issues)
        if content is None:
            return None
        return existing_config(content, source=str(args.config), issues=issues)
    missing = [flag for flag, value in flags.items() if not value]
    if missing:
        issues.append(f"edge config: give --config, or {', '.join(missing)}")
        return None
    return generated_config(
        url=args.url, room=args.room, identity=args.identity, name=args.name, env=env,
        issues=issues,
    )  # fmt: skip


def _read_cmdline(partition: BootPartition, names: frozenset[str]) -> bytes:
    if not any(name.lower() == CMDLINE_NAME for name in names):
        return b""  # build_plan names what is missing
    return partition.read(CMDLINE_NAME)


def _read_bytes(path: Path, flag: str, issues: list[str]) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError as exc:
        issues.append(f"{flag} {path}: cannot read: {exc.strerror or exc}")
        return None


def _read_text(path: Path, flag: str, issues: list[str]) -> str | None:
    content = _read_bytes(path, flag, issues)
    if content is None:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        issues.append(f"{flag} {path}: not UTF-8 text")
        return None
