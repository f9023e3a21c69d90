"""What an operator meets beyond the happy path, on a laptop and on a phone.

A lost connection (pushed out by a second tab, Leave, the device leaving), connect failures in
words, the fan slider under the keyboard, snapshot and log buttons, the lease countdown, the
phone layout, and an axe-core accessibility check of the whole page at both sizes.
"""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import OfficialPeerFactory, ServerProcess
from tests.console.browser import CONSOLE_DIR, DESKTOP, PHONE, Browser
from tests.console.conftest import StartConsole, StartEdge, save_screenshot
from tests.console.test_console import (
    CARD,
    CONSOLE,
    EDGE,
    MEDIA_TOML,
    OPERATOR,
    gpio_read,
    js,
    open_console,
    points,
    until,
)
from tests.official_peer import LiveKitServer, mint_token

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
AXE = CONSOLE_DIR / "node_modules" / "axe-core" / "axe.min.js"
CONTROLS = f"{CARD} fieldset.controls"
LAMP = f'{CARD} input[data-control="switch"][data-device="lamp"]'
FAN = f'{CARD} input[data-control="slider"][data-device="fan"]'

LIVE_CONTROLS = (
    "[...el.querySelectorAll('button, input, select')].filter(c => !c.matches(':disabled'))"
    ".map(c => c.dataset.control ?? c.textContent ?? c.type)"
)
"""Controls in `el` that can still be used (an empty list when all are disabled)."""


async def _is(browser: Browser, expression: str, expected: object) -> bool:
    return bool(await browser.evaluate(expression) == expected)


async def status(browser: Browser, state: str) -> str:
    """The status line's text once it is in `state` ("" before)."""
    text = await browser.evaluate(
        js("#status", f"el.dataset.state === {json.dumps(state)} && el.textContent")
    )
    return str(text or "")


async def assert_stale(browser: Browser, because: str) -> None:
    """The device card is marked offline at once, says `because`, and nothing in it works."""
    note = await until(
        lambda: browser.evaluate(
            js(CARD, "el?.dataset.state === 'stale' && el.querySelector('.stale-note').textContent")
        ),
        message=lambda: f"card not stale; page:\n{browser.log()}",
    )
    assert because in note
    assert await browser.evaluate(js(f"{CARD} .badge.status", "el.textContent")) == "offline"
    assert await browser.evaluate(js(CONTROLS, "el.disabled")) is True
    assert await browser.evaluate(js(CONTROLS, LIVE_CONTROLS)) == []


async def assert_live(browser: Browser) -> None:
    await until(
        lambda: _is(browser, js(LAMP, "el !== null && !el.matches(':disabled')"), True),
        timeout=30,
        message=lambda: f"no live lamp switch; page:\n{browser.log()}",
    )
    assert await browser.evaluate(js(CARD, "el.dataset.state")) == "live"


@VIEWPORTS
async def test_a_lost_connection_greys_the_card_says_why_and_offers_reconnect(
    browser: Browser,
    start_edge: StartEdge,
    start_console: StartConsole,
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    edge = await open_console(
        browser, start_edge, start_console, livekit_server, room_name, tmp_path
    )
    await assert_live(browser)

    # A second tab with the same identity pushes this one out.
    second_tab = await official_peer(CONSOLE)
    said = await until(
        lambda: status(browser, "disconnected"),
        message=lambda: f"still connected; page:\n{browser.log()}",
    )
    assert "same identity" in said
    assert not any(ch.isdigit() for ch in said), said  # words, not a reason code
    await assert_stale(browser, "same identity")
    assert await browser.evaluate(js("#reconnect", "!el.hidden")) is True
    # A click on a disabled control sends nothing and throws nothing.
    await browser.evaluate(js(LAMP, "el.click()"))
    assert await browser.evaluate(js(LAMP, "el.checked")) is False

    await second_tab.disconnect()
    await browser.click("#reconnect")
    await until(lambda: status(browser, "connected"), timeout=20)
    await assert_live(browser)

    await browser.click("#leave")
    assert "You left the room." in await until(lambda: status(browser, "disconnected"))
    await assert_stale(browser, "You left the room.")
    await browser.click("#reconnect")
    await assert_live(browser)

    # The device leaves while the page stays connected: its card turns stale at once.
    assert await edge.stop(signal.SIGTERM) == 0
    await assert_stale(browser, f"{EDGE} left the room")
    assert await status(browser, "connected")
    await save_screenshot(browser, f"device-left-{browser_size(browser)}")


@VIEWPORTS
async def test_when_the_server_goes_away_controls_are_off_at_once_and_come_back_with_it(
    browser: Browser,
    start_edge: StartEdge,
    start_console: StartConsole,
    private_livekit_server: ServerProcess,
    room_name: str,
    tmp_path: Path,
) -> None:
    server = private_livekit_server.server
    await open_console(browser, start_edge, start_console, server, room_name, tmp_path)
    await assert_live(browser)

    private_livekit_server.kill()
    said = await until(
        lambda: status(browser, "connecting"),
        message=lambda: f"no sign of the lost server; page:\n{browser.log()}",
    )
    assert "reconnecting" in said
    note = await until(
        lambda: browser.evaluate(
            js(
                CARD,
                "el.dataset.state === 'suspended' && el.querySelector('.stale-note').textContent",
            )
        )
    )
    assert "reconnecting" in note
    assert await browser.evaluate(js(CONTROLS, LIVE_CONTROLS)) == []

    private_livekit_server.restart()
    await until(lambda: status(browser, "connected"), timeout=60)
    await assert_live(browser)


def browser_size(browser: Browser) -> str:
    return "phone" if browser.viewport == PHONE else "desktop"


@VIEWPORTS
async def test_connect_problems_are_explained_and_the_form_says_where_tokens_come_from(
    browser: Browser,
    start_console: StartConsole,
    livekit_server: LiveKitServer,
    room_name: str,
) -> None:
    await browser.goto(await start_console())
    hint = await browser.evaluate(js("#token-hint", "!el.hidden && el.textContent"))
    assert "edge token --observer" in hint
    assert "demo" in hint
    await check_accessibility(browser)

    await browser.click("#connect button[type=submit]")
    said = await until(lambda: status(browser, "error"))
    assert said == "Enter the server URL (ws://… or wss://…)."

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"ws://127.0.0.1:{probe.getsockname()[1]}"
    await browser.fill("#url", closed)
    await browser.fill("#token", mint_token(livekit_server, identity="someone", room=room_name))
    await browser.click("#connect button[type=submit]")
    said = await until(lambda: status(browser, "error"), timeout=20)
    assert f"The LiveKit server at {closed} can't be reached" in said
    assert "Failed to fetch" not in said


@VIEWPORTS
async def test_the_fan_slider_follows_the_keyboard_without_hitting_the_rate_limit(
    browser: Browser,
    start_edge: StartEdge,
    start_console: StartConsole,
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    operator = await official_peer(OPERATOR)
    await open_console(browser, start_edge, start_console, livekit_server, room_name, tmp_path)
    await until(lambda: _is(browser, js(FAN, "el?.value"), "0"))

    await browser.press(FAN, "ArrowRight", times=10)
    # Every press counted from where the last one left the slider: none snapped back.
    assert await browser.evaluate(js(FAN, "el.value")) == "0.1"
    await until(
        lambda: _near(gpio_read(operator, "fan"), 0.1),
        message=lambda: f"fan pin not at 0.1; page:\n{browser.log()}",
    )
    value = f'{CARD} tr[data-device="fan"] output.value'
    await until(lambda: _is(browser, js(value, "el.textContent"), "0.1"))
    await until(
        lambda: _is(browser, js(f'{CARD} tr[data-device="fan"] .pending', "el.hidden"), True)
    )
    assert await browser.evaluate(js(FAN, "el.value")) == "0.1"
    errors = await browser.evaluate(
        js(CARD, "[...el.querySelectorAll('.activity-list li.error')].map(e => e.textContent)")
    )
    assert errors == []  # in particular no 2004 rate limited
    sets = await browser.evaluate(
        js(
            CARD,
            "[...el.querySelectorAll('.activity-list li.ok .what')]"
            ".filter(e => e.textContent.startsWith('gpio.set')).length",
        )
    )
    assert 1 <= sets <= 6, f"{sets} gpio.set calls for 10 key presses"


async def _near(value: Any, expected: float) -> bool:
    return abs(float(await value) - expected) < 1e-6


@VIEWPORTS
async def test_snapshot_logs_lease_countdown_layout_and_accessibility(
    browser: Browser,
    viewport: tuple[int, int],
    start_edge: StartEdge,
    start_console: StartConsole,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    logs_allowed = f'\n[daemon]\nlogs_allow = ["{CONSOLE}"]\n'
    await open_console(
        browser,
        start_edge,
        start_console,
        livekit_server,
        room_name,
        tmp_path,
        extra=MEDIA_TOML + logs_allowed,
    )
    snapshot_button = f'{CARD} button[data-control="snapshot"]'
    await until(lambda: _is(browser, js(snapshot_button, "el !== null"), True))
    await browser.click(snapshot_button)
    width = await until(
        lambda: browser.evaluate(
            js(f"{CARD} .tile.snapshot img", "el && el.complete && el.naturalWidth")
        ),
        timeout=15,
        message=lambda: f"no snapshot shown; page:\n{browser.log()}",
    )
    assert width == 320

    await browser.click(f'{CARD} [data-control="lease-acquire"]')
    left = f"{CARD} .lease-left"
    first, shown = await until(
        lambda: browser.evaluate(
            js(left, "!el.hidden && [Number(el.dataset.seconds), el.textContent]")
        )
    )
    assert 50 <= first <= 60
    assert shown == f"{first} s left"
    await until(
        lambda: browser.evaluate(js(left, f"Number(el.dataset.seconds) < {first}")), timeout=5
    )

    note = await until(
        lambda: browser.evaluate(
            js(f"{CARD} .telemetry p", "el.textContent.startsWith('Latest') && el.textContent")
        )
    )
    assert "#" not in note

    await until(lambda: _at_least(browser, 5))
    await until(
        lambda: browser.evaluate(js(f"{CARD} .tile.video video", "el && el.currentTime > 0.5")),
        timeout=20,
    )
    # The docs picture (before the log text, which shows this machine's paths).
    await save_screenshot(browser, f"console-{browser_size(browser)}", docs=viewport)

    await browser.click(f'{CARD} button[data-control="logs"]')
    text = await until(
        lambda: browser.evaluate(js(f"{CARD} .logs pre", "el?.textContent")),
        timeout=15,
        message=lambda: f"no log text shown; page:\n{browser.log()}",
    )
    assert EDGE in text
    link = await browser.evaluate(js(f"{CARD} .logs a[download]", "el?.href"))
    assert link.startswith("blob:")

    await check_layout(browser, viewport)
    await check_accessibility(browser)


async def _at_least(browser: Browser, count: int) -> bool:
    return await points(browser, "soc_temperature") >= count


LAYOUT = """
(() => {
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  const targets = [...document.querySelectorAll('button, input, select, summary')]
    .filter(visible)
    .map((el) => {
      const r = el.getBoundingClientRect();
      const what = el.dataset.control || el.textContent.trim() || el.type;
      return { what, w: r.width, h: r.height };
    });
  const twin = [...document.querySelectorAll('.twin td.value')].map((el) => {
    const text = document.createRange();
    text.selectNodeContents(el);
    const lines = new Set([...text.getClientRects()].map((r) => Math.round(r.top))).size;
    return { text: el.textContent, lines };
  });
  const cut = [...document.querySelectorAll('.activity-list li, .device, .twin, .controls')]
    .filter((el) => el.getBoundingClientRect().right > innerWidth + 0.5
      || el.scrollWidth > el.clientWidth + 1)
    .map((el) => el.className || el.tagName);
  return { width: document.documentElement.scrollWidth, targets, twin, cut };
})()
"""


async def check_layout(browser: Browser, viewport: tuple[int, int]) -> None:
    """Nothing wider than the screen, values not wrapped per character, targets big enough."""
    layout = await browser.evaluate(LAYOUT)
    assert layout["width"] <= viewport[0], f"page {layout['width']} px wide in {viewport}"
    assert layout["cut"] == [], f"cut off: {layout['cut']}"
    minimum = 44 if viewport == PHONE else 24
    small = [t for t in layout["targets"] if min(t["w"], t["h"]) < minimum]
    assert small == [], f"targets under {minimum} px: {small}"
    for value in layout["twin"]:
        per_line = len(value["text"]) / max(value["lines"], 1)
        assert per_line >= min(len(value["text"]), 12), f"twin value wraps: {value}"


async def check_accessibility(browser: Browser) -> None:
    """axe-core finds no serious or critical violation (WCAG 2.2 A/AA and best practice)."""
    await browser.add_script(AXE)
    violations = await browser.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})"
        ".then(r => r.violations.filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => `${v.id} (${v.impact}): ${v.help}: `"
        " + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))"
    )
    assert violations == [], "\n".join(violations)
