"""Headless Chromium driven by npm's playwright-core, from async Python tests.

`driver.mjs` runs Playwright in Node (the version locked in `console/package-lock.json`, no
browser download: Debian's Chromium); this side sends it one JSON request per line and waits
for the matching reply, so tests keep their Python fixtures, the official SDK and
`assert_eventually`, and every wait happens here rather than inside a script.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CONSOLE_DIR = REPO_ROOT / "console"
DRIVER = Path(__file__).with_name("driver.mjs")
CHROMIUM = "/usr/bin/chromium"
DESKTOP = (1280, 800)
PHONE = (390, 844)
"""Viewport sizes (CSS pixels) the console is tested at: a laptop and a phone held upright."""
STARTUP_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 20.0
"""Longer than the driver's own 10 s per action, so its error message arrives first."""


def missing_parts() -> str:
    """Why browser tests cannot run here ("" when they can)."""
    if shutil.which("node") is None:
        return "node is not installed (tools/setup installs it)"
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} is missing (tools/setup installs Debian's chromium)"
    if not (CONSOLE_DIR / "node_modules" / "playwright-core").is_dir():
        return "console/node_modules is missing (tools/setup runs npm ci)"
    if not (CONSOLE_DIR / "dist" / "index.html").is_file():
        return "the console is not built (tools/setup builds console/dist)"
    return ""


class BrowserError(AssertionError):
    """The page or the driver failed a request."""


class Browser:
    """One page in a fresh Chromium profile; `console` and `errors` collect what the page says."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.console: list[str] = []
        """`type: text` of every console message."""
        self.errors: list[str] = []
        """Uncaught exceptions in the page (and crashes)."""
        self.stderr: list[str] = []
        self.viewport = DESKTOP
        self._tasks = [
            asyncio.create_task(self._read_stdout(), name="test.browser-stdout"),
            asyncio.create_task(self._read_stderr(), name="test.browser-stderr"),
        ]

    @classmethod
    async def launch(cls, profile: Path, viewport: tuple[int, int] = DESKTOP) -> Browser:
        """Start the driver and Chromium with an empty profile directory `profile`.

        Under 600 px wide the page is a phone's: touch screen and mobile viewport rules.
        """
        await asyncio.to_thread(profile.mkdir, parents=True, exist_ok=True)
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(DRIVER),
            str(CONSOLE_DIR),
            str(profile),
            CHROMIUM,
            f"{viewport[0]}x{viewport[1]}",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        browser = cls(proc)
        browser.viewport = viewport
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT_S):
                await browser._ready
        except (TimeoutError, BrowserError):
            await browser.close()
            raise BrowserError(f"browser did not start:\n{browser.log()}") from None
        return browser

    async def goto(self, url: str) -> None:
        await self._request("goto", url=url)

    async def click(self, selector: str) -> None:
        await self._request("click", selector=selector)

    async def fill(self, selector: str, value: str) -> None:
        await self._request("fill", selector=selector, value=value)

    async def press(self, selector: str, key: str, *, times: int = 1) -> None:
        """Press `key` (a Playwright key name) `times` times in a row with `selector` focused."""
        await self._request("press", selector=selector, key=key, times=times)

    async def add_script(self, path: Path) -> None:
        """Run a script file in the page (e.g. a test library such as axe-core)."""
        await self._request("script", path=str(path))

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable)."""
        return await self._request("eval", expression=expression)

    async def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        await self._request("screenshot", path=str(path), fullPage=True)
        return path

    def log(self) -> str:
        """The page's last console messages and errors, for failure messages."""
        lines = [*self.console[-30:], *(f"PAGE ERROR {e}" for e in self.errors)]
        return "\n".join([*lines, *self.stderr[-10:]])

    async def close(self) -> None:
        """Close Chromium and the driver; idempotent."""
        if self._proc.returncode is None and self._proc.stdin is not None:
            with contextlib.suppress(BrowserError, ConnectionError):
                await self._request("close")
        try:
            async with asyncio.timeout(10):
                await self._proc.wait()
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
        for task in self._tasks:
            await task

    async def _request(self, op: str, **fields: Any) -> Any:
        if self._proc.returncode is not None or self._proc.stdin is None:
            raise BrowserError(f"browser is gone; cannot {op}:\n{self.log()}")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        line = json.dumps({"id": request_id, "op": op, **fields}) + "\n"
        self._proc.stdin.write(line.encode())
        await self._proc.stdin.drain()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                return await future
        except TimeoutError:
            raise BrowserError(f"{op} got no answer within {REQUEST_TIMEOUT_S} s") from None
        finally:
            self._pending.pop(request_id, None)

    async def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            message = json.loads(line)
            event = message.get("event")
            if event == "ready":
                self._ready.set_result(message.get("version", ""))
            elif event == "console":
                self.console.append(f"{message['type']}: {message['text']}")
            elif event in ("pageerror", "crash"):
                self.errors.append(message.get("text", event))
            elif (future := self._pending.get(message.get("id"))) and not future.done():
                if "error" in message:
                    future.set_exception(BrowserError(f"{message['error']}\n{self.log()}"))
                else:
                    future.set_result(message.get("result"))
        gone = BrowserError(f"browser driver exited:\n{self.log()}")
        if not self._ready.done():
            self._ready.set_exception(gone)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(gone)

    async def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        while line := await self._proc.stderr.readline():
            self.stderr.append(line.decode(errors="replace").rstrip())
