"""Fixtures for the browser console: Chromium, `edge console`, and `edge run --simulate`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path

import pytest

from tests.console.browser import DESKTOP, PHONE, REPO_ROOT, Browser
from tests.e2e.edge_process import EdgeProcess

ARTIFACTS = REPO_ROOT / ".cache" / "console-tests"
"""Screenshots of every test run land here."""
DOCS_SCREENSHOTS = {
    DESKTOP: REPO_ROOT / "docs" / "console.png",
    PHONE: REPO_ROOT / "docs" / "console-phone.png",
}
UPDATE_DOCS_ENV = "EDGE_UPDATE_SCREENSHOTS"
"""Set to 1 to refresh docs/console.png and docs/console-phone.png (runs leave git clean)."""

StartConsole = Callable[..., Awaitable[str]]
StartEdge = Callable[..., Awaitable[EdgeProcess]]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember whether the test body failed, for the browser fixture's failure artifacts."""
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def viewport() -> tuple[int, int]:
    """The page's size; parametrize `viewport` with `DESKTOP` and `PHONE` to test both."""
    return DESKTOP


@pytest.fixture
async def browser(
    request: pytest.FixtureRequest, tmp_path: Path, viewport: tuple[int, int]
) -> AsyncIterator[Browser]:
    """A headless Chromium page of size `viewport`; an uncaught exception in it fails the test.

    When the test fails, the page's screenshot and text land in the artifacts directory.
    """
    name = f"{request.node.name}-failed"
    for stale in (ARTIFACTS / f"{name}.png", ARTIFACTS / f"{name}.txt"):
        stale.unlink(missing_ok=True)
    page = await Browser.launch(tmp_path / "chromium-profile", viewport)
    try:
        yield page
        if request.node.stash.get(FAILED, False):
            with contextlib.suppress(AssertionError):
                await page.screenshot(ARTIFACTS / f"{name}.png")
                text = await page.evaluate("document.body.innerText")
                (ARTIFACTS / f"{name}.txt").write_text(f"{text}\n\n--- console ---\n{page.log()}")
    finally:
        await page.close()
    assert not page.errors, f"the page threw:\n{page.log()}"


@pytest.fixture
async def start_console(tmp_path: Path) -> AsyncIterator[StartConsole]:
    """Start `edge console --port 0 ...`; returns the link it prints."""
    procs: list[asyncio.subprocess.Process] = []

    async def start(*args: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "edge",
            "console",
            "--port",
            "0",
            *args,
            cwd=tmp_path,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        procs.append(proc)
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            line = await proc.stdout.readline()
        assert line.startswith(b"http://127.0.0.1:"), f"edge console printed {line!r}"
        return line.decode().strip()

    yield start
    for proc in procs:
        if proc.returncode is None:
            proc.terminate()
        async with asyncio.timeout(10):
            await proc.communicate()  # also closes the pipe
        assert proc.returncode == 0, f"edge console exited with {proc.returncode} on SIGTERM"


@pytest.fixture
async def start_edge(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StartEdge]:
    """Start `python -m edge ...`; killed at teardown, its log kept when the test failed."""
    procs: list[EdgeProcess] = []

    async def start(*args: str) -> EdgeProcess:
        proc = await EdgeProcess.start(*args, cwd=tmp_path)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        await proc.kill()
    log = ARTIFACTS / f"{request.node.name}-edge.log"
    log.unlink(missing_ok=True)
    if request.node.stash.get(FAILED, False):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        log.write_text("\n".join(line for proc in procs for line in proc.lines) + "\n")


async def save_screenshot(page: Browser, name: str, *, docs: tuple[int, int] | None = None) -> Path:
    """Screenshot into the artifacts directory; with `docs` (the viewport) also into docs/.

    The docs copy (docs/console.png, docs/console-phone.png) is written only when
    `EDGE_UPDATE_SCREENSHOTS=1`.
    """
    path = await page.screenshot(ARTIFACTS / f"{name}.png")
    if docs is not None and os.environ.get(UPDATE_DOCS_ENV) == "1":
        await page.screenshot(DOCS_SCREENSHOTS[docs])
    return path
