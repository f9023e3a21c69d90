"""The benchmark still runs end to end: one small scenario through `python -m tools.benchmarks`.

Numbers are not checked (timing goals belong to the benchmark, not to tests); only that both
sides produced them, so the bench cannot rot unnoticed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools.benchmarks import cgroup, netns

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN_BOUND_S = 90.0


@pytest.mark.server
def test_rpc_scenario_reports_both_sides(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.benchmarks",
            "--scenario",
            "rpc",
            "--runs",
            "1",
            "--rpc-count",
            "5",
            "--warmup",
            "1",
            "--out",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_BOUND_S,
        check=False,
    )
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(out.read_text())

    runs = result["runs"]["rpc"]
    for impl in ("edge", "official"):
        assert len(runs[impl]) == 1, runs
        run = runs[impl][0]
        assert "error" not in run, run
        assert len(run["latencies_ns"]) == 5
        assert run["startup"]["joined_s"] > 0
        assert run["pss_bytes"] > 0
    p50 = next(row for row in result["rows"] if row["metric"] == "p50")
    assert p50["ours"] > 0
    assert p50["official"] > 0
    assert p50["ratio"] is not None
    assert "p50" in proc.stdout  # the table was printed
    assert all(entry["reason"] for entry in result["not_measured"])


@pytest.mark.server
def test_under_a_cpu_budget_ours_runs_in_the_quota_group_and_the_official_sdk_does_not(
    tmp_path: Path,
) -> None:
    try:
        hierarchy = cgroup.find_hierarchy()
    except cgroup.QuotaUnavailable as exc:
        pytest.skip(f"no cgroup CPU quota here: {exc}")
    out = tmp_path / "bench.json"
    argv = ["--scenario", "rpc", "--runs", "1", "--rpc-count", "5", "--warmup", "1"]
    argv += ["--cpu-budget", "pi4", "--calibration-iterations", "20"]
    proc = subprocess.run(
        [sys.executable, "-m", "tools.benchmarks", *argv, "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_BOUND_S,
        check=False,
    )
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(out.read_text())
    budget = result["cpu_budget"]
    if budget["mechanism"].startswith("none"):
        pytest.skip(f"the quota group could not be made: {budget['mechanism']}")
    assert budget["board"] == "pi4"
    assert 0 < budget["quota_us"] <= budget["period_us"]
    assert budget["mechanism"].startswith(f"cgroup v{hierarchy.version}")
    [edge] = result["runs"]["rpc"]["edge"]
    [official] = result["runs"]["rpc"]["official"]
    assert "error" not in edge, edge
    assert "error" not in official, official
    assert edge["in_cpu_group"] is True
    assert "quota_periods" in edge
    assert "in_cpu_group" not in official
    assert "quota_periods" not in official
    assert "CPU budget pi4" in proc.stdout
    assert "official (unconstrained)" in proc.stdout
    group = Path(budget["group"])
    assert group.name.startswith(cgroup.NAME_PREFIX)
    assert not group.exists()  # removed after the run


@pytest.mark.server
@pytest.mark.netns
def test_loss_scenario_reports_both_sides_from_a_network_namespace(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    argv = ["--scenario", "loss", "--runs", "1", "--loss-count", "20", "--warmup", "1"]
    proc = subprocess.run(
        [sys.executable, "-m", "tools.benchmarks", *argv, "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_BOUND_S,
        check=False,
    )
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout}\n{proc.stderr}"
    runs = json.loads(out.read_text())["runs"]["loss"]
    for impl in ("edge", "official"):
        [run] = runs[impl]
        assert "error" not in run, run
        assert run["sent"] == 20
        assert len(run["latencies_ns"]) + run["lost"] == 20
        assert run["loss_probability"] == 0.05


@pytest.mark.server
def test_soak_reports_its_figures(tmp_path: Path) -> None:
    """Half a minute of soak: every worker ran and every figure is there (none is judged)."""
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tools.benchmarks", "--soak", "0.5", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_BOUND_S,
        check=False,
    )
    assert proc.returncode == 0, f"soak failed:\n{proc.stdout}\n{proc.stderr}"
    figures = json.loads(out.read_text())
    assert figures["problems"] == []
    assert figures["rss_samples"] >= 2
    assert len(figures["rss_series"]) == figures["rss_samples"]
    assert "rss_growth_second_half_bytes_per_hour" in figures
    assert len(figures["anon_series"]) >= 2
    assert figures["rpc_calls"] > figures["probes"] > 0
    assert figures["readings_through"] > 0
    assert figures["churn_joins"] >= 1
    assert figures["edge_attribute_changes"] > 0
    assert isinstance(figures["deaf_periods"], list)
    if netns.unavailable_reason() is None:
        assert figures["link_cuts"] >= 1
    assert "deaf periods" in proc.stdout
