"""The network-namespace recipe cleans up after itself, even after a failure or a SIGKILL."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tools.benchmarks import netns

pytestmark = pytest.mark.netns


def namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split(" ", 1)[0] for line in listed.stdout.splitlines()}


def links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout


def test_the_namespace_and_its_veth_are_removed_when_the_block_fails() -> None:
    made: list[netns.Namespace] = []

    def failing_test() -> None:
        with netns.namespace() as ns:
            made.append(ns)
            assert ns.name in namespaces()
            assert ns.host_if in links()
            ns.cut()
            raise RuntimeError("the test failed")

    with pytest.raises(RuntimeError, match="the test failed"):
        failing_test()
    [ns] = made
    assert ns.name not in namespaces()
    assert ns.host_if not in links()


def test_a_namespace_left_by_a_killed_process_is_removed_by_the_next_one() -> None:
    leaver = (
        "import os, sys\n"
        "from tools.benchmarks import netns\n"
        "made = netns.namespace()\n"  # held: a collected generator would clean up
        "ns = made.__enter__()\n"
        "print(ns.name, ns.host_if, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", leaver], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == -9, proc.stderr
    name, host_if = proc.stdout.split()
    assert name in namespaces()
    with netns.namespace() as fresh:
        assert name not in namespaces()
        assert host_if not in links()
        assert fresh.name in namespaces()
