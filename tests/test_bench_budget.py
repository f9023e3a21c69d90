"""`--cpu-budget`: the quota's arithmetic, where the cpu controller is, the join-then-exec
wrapper, the camera pacer's late/dropped accounting, and scenario 6's rows.

No timing is judged: the calibration's inputs are given, the pacer's clock is scripted.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.benchmarks import budget, cgroup, report, runner
from tools.benchmarks.pacer import FramePacer, late_frames
from tools.benchmarks.scenarios import media

# -- calibration ---------------------------------------------------------------------------


def test_the_zero_2_w_is_the_pi_3b_plus_figure_scaled_from_its_clock() -> None:
    zero = budget.BOARDS["zero2w"]
    assert zero.seconds_per_attempt == pytest.approx(245.0 * 1.4)
    assert budget.BOARDS["pi4"].seconds_per_attempt == pytest.approx(79.216)


def test_a_scaled_down_run_is_scaled_up_to_one_attempt_and_divided_by_the_board() -> None:
    calibration = budget.Calibration(
        board=budget.BOARDS["zero2w"], iterations=1000, samples_s=(2.3, 2.15, 2.4), python="x"
    )
    assert calibration.best_s == 2.15
    assert calibration.here_per_attempt_s == pytest.approx(21.5)
    assert calibration.fraction == pytest.approx(21.5 / 343.0)
    assert calibration.quota_us == round(100_000 * 21.5 / 343.0)  # 6268 us per 100 ms
    assert not calibration.capped
    shown = calibration.as_json()
    assert shown["quota_us"] == calibration.quota_us
    assert "issue #20" in shown["board_source"]


def test_the_quota_stays_between_the_kernel_minimum_and_one_core() -> None:
    assert budget.quota_us(0.27) == 27_000
    assert budget.quota_us(0.0001) == budget.MIN_QUOTA_US
    assert budget.quota_us(3.0) == budget.PERIOD_US  # the board is faster: one whole core
    slow_here = budget.Calibration(budget.BOARDS["pi4"], 10, (0.2,), "x")
    assert slow_here.capped
    assert slow_here.quota_us == budget.PERIOD_US


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: budget.per_attempt(1.0, 0), "iterations"),
        (lambda: budget.per_attempt(0.0, 10), "positive"),
        (lambda: budget.core_fraction(1.0, 0.0), "positive"),
        (lambda: budget.quota_us(0.0), "positive"),
        (lambda: budget.quota_us(0.5, period_us=10), "period"),
    ],
)
def test_nonsense_inputs_are_refused_with_what_is_wrong(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_the_benchmark_output_is_read_strictly() -> None:
    assert budget.parse_samples("2.5\n2.25\n2.75\n", 3) == (2.5, 2.25, 2.75)
    with pytest.raises(ValueError, match="expected 3"):
        budget.parse_samples("2.5\n", 3)
    with pytest.raises(ValueError, match="positive"):
        budget.parse_samples("0.0\n", 1)


def test_the_report_states_benchmark_board_source_quota_and_mechanism() -> None:
    calibration = budget.Calibration(budget.BOARDS["pi4"], 1000, (2.15,), "3.11.7")
    text = "\n".join(budget.describe(calibration, "cgroup v1 cpu controller"))
    for expected in ("pi4", "21.50 s per attempt", "79.2 s", "README", "27.14 %", "27141 us"):
        assert expected in text
    assert "cgroup v1" in text
    assert "unconstrained" in text


def test_the_benchmark_runs_in_a_fresh_interpreter_and_gives_one_time_per_repeat() -> None:
    calibration = budget.calibrate(budget.BOARDS["zero2w"], iterations=2, repeats=2)
    assert len(calibration.samples_s) == 2
    assert calibration.python == sys.version.split()[0]


# -- cgroup --------------------------------------------------------------------------------

HYBRID = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu\\040x cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0
cgroup /sys/fs/cgroup/cpuset cgroup rw,relatime,cpuset 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""


def test_a_v1_cpu_mount_comes_before_cgroup2_and_other_controllers_are_ignored() -> None:
    found = cgroup.hierarchies(HYBRID)
    assert found == [
        cgroup.Hierarchy(1, Path("/sys/fs/cgroup/cpu x")),
        cgroup.Hierarchy(2, Path("/sys/fs/cgroup/unified")),
    ]


def test_a_pure_cgroup2_machine_and_one_without_cgroups() -> None:
    unified = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"
    assert cgroup.hierarchies(unified) == [cgroup.Hierarchy(2, Path("/sys/fs/cgroup"))]
    assert cgroup.hierarchies("proc /proc proc rw 0 0\n") == []


def test_quota_files_per_version() -> None:
    assert cgroup.quota_settings(1, 6268, 100_000) == [
        ("cpu.cfs_period_us", "100000"),
        ("cpu.cfs_quota_us", "6268"),
    ]
    assert cgroup.quota_settings(2, 6268, 100_000) == [("cpu.max", "6268 100000")]
    with pytest.raises(ValueError, match="version 3"):
        cgroup.quota_settings(3, 1, 1)
    with pytest.raises(ValueError, match="positive"):
        cgroup.quota_settings(1, 0, 100_000)


def test_cpu_stat_of_either_version() -> None:
    v1 = "nr_periods 40\nnr_throttled 12\nthrottled_time 3000000000\n"
    v2 = "usage_usec 9\nnr_periods 40\nnr_throttled 12\nthrottled_usec 3000000\n"
    expected = cgroup.Throttling(periods=40, throttled=12, throttled_us=3_000_000)
    assert cgroup.parse_stat(v1) == expected
    assert cgroup.parse_stat(v2) == expected
    with pytest.raises(ValueError, match=r"cpu\.stat without"):
        cgroup.parse_stat("usage_usec 9\n")


def test_the_wrapper_joins_with_the_commands_own_pid_then_execs_it(tmp_path: Path) -> None:
    procs = tmp_path / "cgroup.procs"
    procs.touch()
    argv = cgroup.wrap(procs, [sys.executable, "-c", "import os; print(os.getpid())"])
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert procs.read_text().strip() == done.stdout.strip()  # exec kept the pid


def test_the_wrapper_composes_with_a_prefix_and_refuses_to_run_outside_the_group(
    tmp_path: Path,
) -> None:
    argv = cgroup.wrap(tmp_path / "missing" / "cgroup.procs", ["env", "true"])
    assert argv[-2:] == ["env", "true"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 126
    assert "missing" in done.stderr


def test_no_cpu_controller_is_a_reason_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\n")
    monkeypatch.setattr(cgroup, "MOUNTS", mounts)
    if os.geteuid() != 0:
        pytest.skip("the reason checked here is given to root only")
    with pytest.raises(cgroup.QuotaUnavailable, match="no cgroup hierarchy"):
        cgroup.find_hierarchy()


def test_without_a_writable_cgroup_every_budgeted_scenario_is_not_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable() -> cgroup.Hierarchy:
        raise cgroup.QuotaUnavailable("read-only file system")

    monkeypatch.setattr(cgroup, "find_hierarchy", unavailable)
    monkeypatch.setattr(
        budget, "calibrate", lambda board, iterations: budget.Calibration(board, 1, (0.002,), "x")
    )
    args = runner.parse_args(["--scenario", "media", "--cpu-budget", "zero2w"])
    result = asyncio.run(runner.run(args, tmp_path))
    assert result["rows"] == []
    [skipped] = result["not_measured"]
    assert skipped["reason"] == "not measured: CPU budget zero2w: read-only file system"
    assert "none (read-only file system)" in result["cpu_budget"]["mechanism"]


def test_a_real_group_holds_the_process_at_its_quota_and_is_removed_afterwards() -> None:
    try:
        hierarchy = cgroup.find_hierarchy()
    except cgroup.QuotaUnavailable as exc:
        pytest.skip(f"no writable cgroup here: {exc}")
    with cgroup.cpu_group(quota_us=5_000, period_us=100_000) as group:
        assert group.version == hierarchy.version
        name = group.path.name
        argv = group.wrap([sys.executable, "-c", "print(open('/proc/self/cgroup').read())"])
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        assert f"/{name}" in done.stdout
        assert not group.holds(os.getpid())
        waiting = "import sys; print('ready', flush=True); sys.stdin.read()"
        with subprocess.Popen(
            group.wrap([sys.executable, "-c", waiting]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as member:
            assert member.stdout is not None
            assert member.stdout.readline() == "ready\n"
            assert group.holds(member.pid)  # the same pid, from before exec on
            member.communicate("")
        setting = "cpu.cfs_quota_us" if group.version == 1 else "cpu.max"
        assert (group.path / setting).read_text().split()[0] == "5000"
        assert group.throttling() is not None
    assert not group.path.exists()


# -- the camera pacer ------------------------------------------------------------------------


class ScriptedClock:
    def __init__(self, *ms: float) -> None:
        self.values = [round(v * 1e6) for v in ms]

    def __call__(self) -> int:
        return self.values.pop(0)


async def test_late_frames_are_handed_at_once_and_counted_beyond_one_interval() -> None:
    # 10 fps: due at 0, 100, 200 ms. Asked at 0, 150 (50 late), 330 (130 late).
    pacer = FramePacer(fps=10, count=3, clock=ScriptedClock(0, 150, 330, 400))
    frames = [await pacer.next() for _ in range(4)]
    assert [f.index if f else None for f in frames] == [0, 1, 2, None]
    assert pacer.lateness_ns == [0, 50_000_000, 130_000_000]
    assert pacer.started.is_set()
    assert late_frames(pacer.lateness_ns, fps=10) == 1


async def test_frames_not_handed_over_by_the_cameras_deadline_are_dropped() -> None:
    # 10 fps, 5 frames: the camera stops 0.5 s + LATE_LIMIT_S (0.5 s) after its start.
    pacer = FramePacer(fps=10, count=5, clock=ScriptedClock(0, 400, 1001))
    assert await pacer.next() is not None
    assert await pacer.next() is not None
    assert await pacer.next() is None
    assert pacer.handed == 2
    assert pacer.count - pacer.handed == 3


def test_a_pacer_needs_frames() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FramePacer(fps=0, count=10)


# -- scenario 6's rows and the command line -----------------------------------------------


def _run(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "video": "1080p30",
        "cpu_budget": "pi4",
        "cpu_percent": 27.0,
        "pss_bytes": 2**20,
        "video_frames": 590,
        "video_dropped": 10,
        "video_late": 5,
        "telemetry_latencies_ns": [1_000_000] * 99 + [90_000_000],
        "telemetry_lost": 0,
        "rpc_latencies_ns": [2_000_000] * 95,
        "rpc_timeouts": 0,
    }
    return base | fields


def test_scenario_6_rows_show_frames_telemetry_and_rpc_under_the_budget() -> None:
    rows = media.rows({"edge": [_run()], "official": [_run(video_dropped=0, video_late=0)]})
    by_metric = {row.metric: row for row in rows}
    assert rows[0].scenario == "6 1080p30 + audio + telemetry, ours on one pi4 core"
    bad = by_metric["frames dropped or > 1 interval late"]
    assert (bad.ours, bad.official, bad.passed) == (15, 0, False)
    assert by_metric["telemetry p99"].ours == pytest.approx(1 + 0.01 * 89, rel=0.01)
    assert by_metric["RPC p99 (5/s)"].passed is True
    cpu = by_metric["device CPU"]
    assert cpu.target is None  # held to its quota: no CPU goal
    assert "unconstrained" in cpu.note
    assert "ours: quota periods throttled" not in by_metric  # no group statistics given
    throttled = _run(quota_periods=200, quota_throttled_periods=150)
    rows = media.rows({"edge": [throttled], "official": [_run()]})
    assert rows[-1].metric == "ours: quota periods throttled"
    assert rows[-1].ours == 75.0


def test_without_a_budget_the_cpu_goal_is_the_issues() -> None:
    plain = _run(cpu_budget="none", video="720p30", cpu_percent=2.0)
    rows = media.rows({"edge": [plain], "official": [_run(cpu_budget="none", cpu_percent=10)]})
    cpu = rows[0]
    assert rows[0].scenario == "6 720p30 + audio + telemetry"
    assert cpu.target is not None
    assert cpu.target.text == "≤ 2.5, ≤ 0.25xoff"
    assert cpu.passed is True


def test_the_command_line_takes_a_board_or_none() -> None:
    assert runner.parse_args([]).cpu_budget == "none"
    assert runner.parse_args(["--cpu-budget", "pi4"]).cpu_budget == "pi4"
    with pytest.raises(SystemExit):
        runner.parse_args(["--cpu-budget", "pi5"])


def test_the_table_names_the_unconstrained_official_column() -> None:
    row = report.Row("6", "device CPU", "% core", 6.0, 12.0)
    text = report.render([row], [], official="official (unconstrained)")
    assert text.splitlines()[0].split(" | ")[3].strip() == "official (unconstrained)"
