"""Run the selected scenarios for both SDKs, alternating order, and report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from . import budget, cgroup, netns, report, soak
from .procstat import cpu_percent
from .scenarios import (
    Params,
    Raw,
    Scenario,
    attributes,
    loss,
    media,
    recovery,
    rpc,
    startup,
    stream,
    telemetry,
)
from .scenarios.pending import PENDING
from .server import ServerError, default_binary, livekit_server
from .session import IMPLEMENTATIONS, Context, open_pair
from .wire import ChildFailed

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        telemetry.SCENARIO,
        loss.SCENARIO,
        rpc.SCENARIO,
        stream.SCENARIO,
        attributes.SCENARIO,
        startup.SCENARIO,
        media.SCENARIO,
        recovery.SCENARIO,
    )
}
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / ".cache" / "bench" / "latest.json"
DEFAULT_SOAK_OUT = REPO_ROOT / ".cache" / "bench" / "soak.json"
DEFAULT_BUDGET_S = 420.0
VIDEO_BY_BOARD = {"pi4": (1080, 4_000_000)}
"""Scenario 6's (height, bit/s) per `--cpu-budget`; otherwise 720p30 at 2 Mbit/s."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    defaults = Params()
    parser = argparse.ArgumentParser(
        prog="bench",
        description="Side-by-side benchmarks: this project's LiveKit client against LiveKit's "
        "official Python SDK, on one local livekit-server.",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        help="run only this scenario (repeatable; default: all)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file of raw results")
    parser.add_argument("--runs", type=int, default=defaults.runs, help="runs per SDK")
    parser.add_argument("--telemetry-count", type=int, default=defaults.telemetry_count)
    parser.add_argument("--rpc-count", type=int, default=defaults.rpc_count)
    parser.add_argument("--stream-count", type=int, default=defaults.stream_count)
    parser.add_argument("--attribute-count", type=int, default=defaults.attribute_count)
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--loss-count", type=int, default=defaults.loss_count)
    parser.add_argument(
        "--cut-s", type=float, default=defaults.cut_s, help="scenario 8's cut (default %(default)g)"
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=DEFAULT_BUDGET_S,
        help="no new run starts after this many seconds (default %(default)g)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the server's and every process's log here (default: a temporary directory)",
    )
    parser.add_argument(
        "--cpu-budget",
        choices=["none", *budget.BOARDS],
        default="none",
        help="run our device under a CPU quota equal to one core of this board, calibrated "
        "on this machine (the official SDK's device stays unconstrained; default %(default)s)",
    )
    parser.add_argument(
        "--calibration-iterations",
        type=int,
        default=budget.SCALED_ITERATIONS,
        help="the CPU budget's benchmark: iterations per measurement here (of the published "
        "10,000; default %(default)s)",
    )
    parser.add_argument(
        "--soak",
        type=float,
        metavar="MINUTES",
        help="instead of the scenarios: the daemon under mixed load this long (soak.py)",
    )
    args = parser.parse_args(argv)
    if args.soak is not None and args.soak <= 0:
        parser.error("--soak needs a positive number of minutes")
    if args.calibration_iterations < 1:
        parser.error("--calibration-iterations must be at least 1")
    if args.runs < 1 or min(args.telemetry_count, args.rpc_count, args.stream_count) < 1:
        parser.error("counts and --runs must be at least 1")
    return args


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    defaults = Params()
    height, bitrate = VIDEO_BY_BOARD.get(
        args.cpu_budget, (defaults.video_height, defaults.video_bitrate)
    )
    params = Params(
        runs=args.runs,
        telemetry_count=args.telemetry_count,
        rpc_count=args.rpc_count,
        stream_count=args.stream_count,
        attribute_count=args.attribute_count,
        warmup=args.warmup,
        loss_count=args.loss_count,
        cut_s=args.cut_s,
        video_height=height,
        video_bitrate=bitrate,
        cpu_budget=args.cpu_budget,
    )
    selected = [SCENARIOS[name] for name in (args.scenario or SCENARIOS)]
    deadline = time.monotonic() + args.budget_s
    started = datetime.datetime.now(datetime.UTC)
    results: dict[str, dict[str, list[Raw]]] = {}
    rows: list[report.Row] = []
    skipped: list[tuple[str, str]] = []
    cpu_budget: dict[str, Any] | None = None
    with contextlib.ExitStack() as stack:
        group: cgroup.Group | None = None
        if args.cpu_budget != "none":
            board = budget.BOARDS[args.cpu_budget]
            _say(f"calibrating one {board.name} core on this machine ...")
            cpu_budget, group, why_not = budget.apply(stack, board, args.calibration_iterations)
            if why_not is not None:
                _say(f"CPU budget {args.cpu_budget} not available: {why_not}")
                skipped += [
                    (s.title, f"not measured: CPU budget {args.cpu_budget}: {why_not}")
                    for s in selected
                ]
                selected = []
        plain = [s for s in selected if not s.in_namespace]
        if plain:
            with livekit_server(default_binary(REPO_ROOT), workdir) as server:
                ctx = Context(server, REPO_ROOT, workdir, cpu_group=group)
                for scenario in plain:
                    by_impl = await _run_scenario(ctx, scenario, params, deadline)
                    results[scenario.name] = by_impl
                    rows += scenario.rows(by_impl)
        namespaced = [s for s in selected if s.in_namespace]
        if namespaced:
            try:
                # Created before its server, which must listen on the namespace's veth address.
                with netns.namespace() as ns:
                    ns_workdir = workdir / "netns-server"
                    ns_workdir.mkdir(exist_ok=True)
                    binary = default_binary(REPO_ROOT)
                    with livekit_server(binary, ns_workdir, ip=ns.host_ip) as ns_server:
                        ctx = Context(ns_server, REPO_ROOT, workdir, netns=ns, cpu_group=group)
                        for scenario in namespaced:
                            by_impl = await _run_scenario(ctx, scenario, params, deadline)
                            results[scenario.name] = by_impl
                            rows += scenario.rows(by_impl)
            except netns.NetnsUnavailable as exc:
                _say(f"skipping {', '.join(s.name for s in namespaced)}: {exc}")
                skipped += [(s.title, f"needs a network namespace: {exc}") for s in namespaced]
    wall_s = (datetime.datetime.now(datetime.UTC) - started).total_seconds()
    return {
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_s": round(wall_s, 1),
        "machine": _machine(),
        "versions": _versions(),
        "params": dataclasses.asdict(params),
        "cpu_budget": cpu_budget,
        "rows": [row.as_json() for row in rows],
        "not_measured": [{"scenario": n, "reason": why} for n, why in [*PENDING, *skipped]],
        "runs": results,
        "_rows": rows,
    }


async def _run_scenario(
    ctx: Context, scenario: Scenario, params: Params, deadline: float
) -> dict[str, list[Raw]]:
    by_impl: dict[str, list[Raw]] = {impl: [] for impl in IMPLEMENTATIONS}
    runs = min(params.runs, scenario.max_runs or params.runs)
    if scenario.prepare is not None:
        scenario.prepare(params)
    for index in range(runs):
        order = IMPLEMENTATIONS if index % 2 == 0 else tuple(reversed(IMPLEMENTATIONS))
        for impl in order:
            if time.monotonic() > deadline:
                _say(f"{scenario.name}: time budget spent, skipping {impl} run {index + 1}")
                continue
            _say(f"{scenario.name}: run {index + 1}/{runs}, {impl}")
            by_impl[impl].append(await _one_run(ctx, scenario, params, impl, index))
    return by_impl


async def _one_run(ctx: Context, scenario: Scenario, params: Params, impl: str, index: int) -> Raw:
    raw: Raw = {"run": index, "order": list(IMPLEMENTATIONS).index(impl) ^ (index % 2)}
    try:
        async with open_pair(
            ctx, impl, f"{scenario.name}{index}", devices=scenario.devices, hello=scenario.hello
        ) as pair:
            raw["startup"] = pair.startup
            before, held_before = pair.cpu(), pair.throttling()
            raw.update(await scenario.measure(pair, params))
            after, held_after = pair.cpu(), pair.throttling()
            raw["cpu_percent"] = cpu_percent(before, after)
            raw["cpu_s"] = after.cpu_s - before.cpu_s
            raw["pss_bytes"] = pair.pss()
            if pair.cpu_group is not None:
                raw["in_cpu_group"] = pair.cpu_group.holds(pair.device.pid)
            if held_before is not None and held_after is not None:
                raw["quota_periods"] = held_after.periods - held_before.periods
                raw["quota_throttled_periods"] = held_after.throttled - held_before.throttled
                raw["quota_throttled_s"] = (
                    held_after.throttled_us - held_before.throttled_us
                ) / 1e6
    except (ChildFailed, RuntimeError) as exc:
        _say(f"  failed: {exc}")
        raw["error"] = str(exc)
    return raw


def _machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": model,
        "cpus": os.cpu_count(),
    }


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("edge-participant", "livekit", "aiortc", "livekit-protocol"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "?"
    return out


def _say(text: str) -> None:
    sys.stderr.write(f"bench: {text}\n")
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.soak is not None:
        return _soak_main(args)
    try:
        with tempfile.TemporaryDirectory(prefix="edge-bench-") as tmp:
            workdir = args.workdir or Path(tmp)
            workdir.mkdir(parents=True, exist_ok=True)
            result = asyncio.run(run(args, workdir))
    except ServerError as exc:
        _say(str(exc))
        return 1
    rows = result.pop("_rows")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    header = (
        f"edge vs official livekit SDK — {result['started_utc']}, "
        f"{result['machine']['cpu'] or result['machine']['platform']} "
        f"({result['machine']['cpus']} CPUs), {result['wall_s']:g} s"
    )
    skipped = [(entry["scenario"], entry["reason"]) for entry in result["not_measured"]]
    official = "official"
    if result["cpu_budget"] is not None:
        header += "\n\n" + "\n".join(result["cpu_budget"]["text"])
        official = "official (unconstrained)"
    sys.stdout.write(header + "\n\n" + report.render(rows, skipped, official=official) + "\n")
    sys.stdout.write(f"\nraw results: {args.out}\n")
    failed_runs = [
        name
        for name, by_impl in result["runs"].items()
        for runs in by_impl.values()
        for r in runs
        if "error" in r
    ]
    return 1 if failed_runs else 0


def _soak_main(args: argparse.Namespace) -> int:
    out = DEFAULT_SOAK_OUT if args.out == DEFAULT_OUT else args.out
    try:
        with tempfile.TemporaryDirectory(prefix="edge-soak-") as tmp:
            workdir = args.workdir or Path(tmp)
            workdir.mkdir(parents=True, exist_ok=True)
            plan = soak.Plan.for_minutes(args.soak)
            _say(f"soak: {args.soak:g} min, logs in {workdir}")
            figures = asyncio.run(soak.run_soak(plan, workdir, REPO_ROOT))
    except ServerError as exc:
        _say(str(exc))
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=1) + "\n")
    sys.stdout.write(soak.render(figures) + f"\n\nraw results: {out}\n")
    return 1 if figures["problems"] else 0
