"""The browser console against `edge run --simulate` on a real livekit-server, in Chromium.

Also the interop check with LiveKit's JS client: RPC, byte streams, attributes and media all
go from our daemon to `livekit-client` in a real browser. The official Python SDK checks what
the clicks did (`gpio.read`, attributes), so the page is never its own witness.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import OfficialPeerFactory
from tests.console.browser import Browser
from tests.console.conftest import StartConsole, StartEdge, save_screenshot
from tests.e2e.test_daemon import write_config
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, OfficialPeer, mint_token

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EDGE = "edge-con"
CONSOLE = "console"
OPERATOR = "operator-sdk"
DEVICE_TOML = """
[gpio]
link_loss_grace_s = 10.0

[[gpio.outputs]]
name = "lamp"
kind = "digital"
pin = 17
allow = ["console", "operator-*"]
description = "Desk lamp relay"

[[gpio.outputs]]
name = "fan"
kind = "pwm"
pin = 18
allow = ["console", "operator-*"]
description = "Fan speed"

[[gpio.outputs]]
name = "heater"
kind = "digital"
pin = 22
allow = ["operator-*"]          # not the console: its calls are refused
description = "Heater relay (operators only)"

[[gpio.inputs]]
name = "door"
kind = "button"
pin = 27
pull_up = true
description = "Door contact"

[telemetry]
batch_window_s = 0.2
history_allow = ["console", "operator-*"]

[[telemetry.sensors]]
name = "soc_temperature"
kind = "simulated"
period_s = 0.3
unit = "°C"
mean = 48.0
amplitude = 6.0

[[telemetry.sensors]]
name = "humidity"
kind = "simulated"
period_s = 0.5
unit = "%"
mean = 40.0
amplitude = 10.0
seed = 7
"""
MEDIA_TOML = """
[camera]
source = "synthetic"
width = 320
height = 240
framerate = 15
bitrate = 300000
allow = ["console", "operator-*"]

[microphone]
source = "synthetic"
allow = ["console", "operator-*"]
"""

CARD = f'section.device[data-identity="{EDGE}"]'


async def until(
    predicate: Callable[[], Awaitable[Any]],
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 - passed on to assert_eventually
    message: str | Callable[[], str] = "",
) -> Any:
    """`assert_eventually` for async predicates (page queries, RPCs), typed for them."""
    result: Any = await assert_eventually(predicate, timeout=timeout, message=message)
    return result


def js(selector: str, expression: str) -> str:
    """`expression` evaluated with `el` bound to the first match of `selector` (or null)."""
    return f"(el => ({expression}))(document.querySelector({json.dumps(selector)}))"


async def open_console(
    browser: Browser,
    start_edge: StartEdge,
    start_console: StartConsole,
    server: LiveKitServer,
    room: str,
    tmp_path: Path,
    *,
    extra: str = "",
) -> Any:
    """Start the simulated edge and the console server, and load the console's link."""
    config = write_config(
        tmp_path / "edge.toml", server, room, identity=EDGE, extra=DEVICE_TOML + extra
    )
    edge = await start_edge("run", "--config", str(config), "--simulate")
    link = await start_console("--config", str(config), "--identity", CONSOLE)
    assert "#url=ws" in link
    assert "&token=" in link
    await browser.goto(link)
    await until(
        lambda: browser.evaluate(js(CARD, "el !== null")),
        timeout=30,
        message=lambda: f"no card for {EDGE}; page:\n{browser.log()}\nedge:\n{edge.log()}",
    )
    return edge


async def points(browser: Browser, sensor: str) -> int:
    plot = f'{CARD} svg.plot[data-sensor="{sensor}"]'
    return int(await browser.evaluate(js(plot, "el ? Number(el.dataset.points) : 0")))


async def gpio_read(peer: OfficialPeer, device: str) -> float:
    answer = await peer.room.local_participant.perform_rpc(
        destination_identity=EDGE, method="gpio.read", payload=json.dumps({"device": device})
    )
    return float(json.loads(answer)["value"])


async def test_the_page_shows_the_device_its_twin_and_plots_with_history_and_live_points(
    browser: Browser,
    start_edge: StartEdge,
    start_console: StartConsole,
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    watcher = await official_peer(OPERATOR)
    config = write_config(
        tmp_path / "edge.toml", livekit_server, room_name, identity=EDGE, extra=DEVICE_TOML
    )
    edge = await start_edge("run", "--config", str(config), "--simulate")
    twin = await watcher.wait_participant(EDGE, timeout=30)
    # Readings exist before the console joins: it can only see them through the backfill.
    await assert_eventually(
        lambda: "edge.temperature.soc_temperature" in twin.attributes,
        timeout=20,
        message=lambda: f"attributes {dict(twin.attributes)}",
    )
    link = await start_console("--config", str(config), "--identity", CONSOLE)
    await browser.goto(link)

    status = await until(
        lambda: browser.evaluate(js(CARD, "el?.querySelector('.badge.status')?.textContent")),
        timeout=30,
        message=lambda: f"page:\n{browser.log()}",
    )
    assert status == "online"
    version = await until(
        lambda: browser.evaluate(
            js(f'{CARD} .twin tr[data-key="edge.version"]', "el?.dataset.value")
        )
    )
    assert version == twin.attributes["edge.version"]
    assert await browser.evaluate(js("#status", "el.dataset.state")) == "connected"

    history = await edge.wait_line(f"history for {CONSOLE!r}")
    counted = re.search(r": (\d+) reading", history)
    assert counted is not None, history
    backfilled = int(counted.group(1))
    assert backfilled >= 1
    # The backfill answers with both sensors; live batches only add to that.
    first = await until(
        lambda: _at_least(points(browser, "soc_temperature"), backfilled // 2),
        message=lambda: f"history had {backfilled} reading(s); page:\n{browser.log()}",
    )
    await until(
        lambda: _at_least(points(browser, "soc_temperature"), first + 3),
        message=lambda: f"the plot stayed at {first} point(s); page:\n{browser.log()}",
    )
    assert await points(browser, "humidity") >= 1
    latest = await browser.evaluate(
        js(f'{CARD} figure.sensor[data-sensor="soc_temperature"] .latest', "el.textContent")
    )
    assert latest.endswith("°C")
    assert 30.0 < float(latest.split()[0]) < 70.0

    # Controls generated from edge.describe + gpio.list: a switch, a slider, reads.
    controls = await browser.evaluate(
        js(
            CARD,
            "[...el.querySelectorAll('[data-control]')]"
            ".map(c => c.dataset.control + ':' + (c.dataset.device ?? ''))",
        )
    )
    assert {"switch:lamp", "slider:fan", "pulse:lamp", "read:door", "lease-acquire:"} <= set(
        controls
    )
    await save_screenshot(browser, "device")


async def _at_least(count: Any, minimum: int) -> int:
    value = int(await count)
    return value if value >= max(minimum, 1) else 0


async def test_clicking_controls_drives_the_pins_and_takes_the_lease(
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
    switch = f'{CARD} input[data-control="switch"][data-device="lamp"]'
    await until(lambda: browser.evaluate(js(switch, "el !== null")))
    assert await gpio_read(operator, "lamp") == 0

    await browser.click(switch)
    await until(
        lambda: _equals(gpio_read(operator, "lamp"), 1.0),
        message=lambda: f"lamp pin still off; page:\n{browser.log()}",
    )
    device = operator.remote(EDGE)
    assert device is not None
    await assert_eventually(lambda: device.attributes.get("gpio.lamp") == "1")
    # The page follows the device's twin, not its own click.
    lamp_row = js(f'{CARD} .twin tr[data-key="gpio.lamp"]', "el?.dataset.value")
    await until(lambda: _equals_js(browser, lamp_row, "1"))
    assert await browser.evaluate(js(switch, "el.checked")) is True

    slider = f'{CARD} input[data-control="slider"][data-device="fan"]'
    await browser.evaluate(
        js(slider, "(el.value = '0.5', el.dispatchEvent(new Event('change', {bubbles: true})))")
    )
    await until(
        lambda: _equals(gpio_read(operator, "fan"), 0.5),
        message=lambda: f"fan pin not at 0.5; page:\n{browser.log()}",
    )

    await browser.click(f'{CARD} [data-control="lease-acquire"]')
    await assert_eventually(lambda: device.attributes.get("edge.lease") == CONSOLE)
    await until(lambda: _equals_js(browser, js(f"{CARD} .lease-holder", "el.textContent"), CONSOLE))
    await browser.click(f'{CARD} [data-control="lease-release"]')
    await assert_eventually(lambda: not device.attributes.get("edge.lease"))  # "" deletes it
    await until(lambda: _equals_js(browser, js(f"{CARD} .lease-holder", "el.textContent"), "free"))
    await save_screenshot(browser, "controls")


async def _equals(value: Any, expected: object) -> bool:
    return bool(await value == expected)


async def _equals_js(browser: Browser, expression: str, expected: object) -> bool:
    return bool(await browser.evaluate(expression) == expected)


async def test_a_denied_call_is_shown_with_its_code_and_the_pin_stays_put(
    browser: Browser,
    start_edge: StartEdge,
    start_console: StartConsole,
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    operator = await official_peer(OPERATOR)
    edge = await open_console(
        browser, start_edge, start_console, livekit_server, room_name, tmp_path
    )
    switch = f'{CARD} input[data-control="switch"][data-device="heater"]'
    await until(
        lambda: browser.evaluate(js(switch, "el !== null")),
        message=lambda: f"no switch; page:\n{browser.log()}",
    )
    hint = await browser.evaluate(
        js(f'{CARD} tr[data-device="heater"] .badge.warn', "el?.textContent")
    )
    assert hint == "not allowed for you"  # gpio.list's may_set, before anyone clicks

    await browser.click(switch)
    banner = await until(
        lambda: browser.evaluate(
            js(f"{CARD} .banner.denied", "el && !el.hidden && el.textContent")
        ),
        message=lambda: f"no denial shown; page:\n{browser.log()}",
    )
    assert "gpio.set: DENIED (2003 access denied" in banner
    assert f"'{CONSOLE}'" in banner  # the edge's own message: who was refused
    entry = await browser.evaluate(
        js(f'{CARD} .activity-list li.denied[data-code="2003"] .outcome', "el?.textContent")
    )
    assert entry is not None
    assert "access denied" in entry
    await until(lambda: _equals_js(browser, js(switch, "el.checked"), False))
    assert await gpio_read(operator, "heater") == 0
    await edge.wait_line("refused")  # the edge logs refusals with the caller's identity
    await save_screenshot(browser, "denied")


async def test_the_camera_plays_in_the_page(
    browser: Browser,
    start_edge: StartEdge,
    start_console: StartConsole,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    edge = await open_console(
        browser, start_edge, start_console, livekit_server, room_name, tmp_path, extra=MEDIA_TOML
    )
    video = f"{CARD} .tile.video video"
    size = await until(
        lambda: browser.evaluate(
            js(video, "el && el.videoWidth > 0 && [el.videoWidth, el.videoHeight]")
        ),
        timeout=30,
        message=lambda: f"no picture; page:\n{browser.log()}\nedge:\n{edge.log()}",
    )
    assert size == [320, 240]
    start = float(await browser.evaluate(js(video, "el.currentTime")))
    await until(
        lambda: _after(browser, js(video, "el.currentTime"), start + 1.0),
        timeout=15,
        message=lambda: f"video time stuck at {start}; page:\n{browser.log()}",
    )
    audio = f"{CARD} .tile.audio audio"
    begun = await until(
        lambda: browser.evaluate(
            js(audio, "el && !el.paused && el.currentTime > 0 && el.currentTime")
        ),
        timeout=15,
        message=lambda: f"audio not playing; page:\n{browser.log()}",
    )
    await until(lambda: _after(browser, js(audio, "el.currentTime"), begun + 0.5))
    # The snapshot button: camera.snapshot answers with a JPEG byte stream, shown inline.
    await browser.click(f'{CARD} button[data-control="snapshot"]')
    snapshot = f"{CARD} .tile.snapshot img"
    width = await until(
        lambda: browser.evaluate(js(snapshot, "el && el.complete && el.naturalWidth")),
        timeout=15,
        message=lambda: f"no snapshot shown; page:\n{browser.log()}",
    )
    assert width == 320
    await until(lambda: _at_least(points(browser, "soc_temperature"), 5))
    await save_screenshot(browser, "camera")
    assert await edge.stop(signal.SIGTERM) == 0
    await until(  # the card stays, marked offline, when the device leaves
        lambda: _equals_js(browser, js(CARD, "el?.dataset.state"), "stale")
    )


async def _after(browser: Browser, expression: str, threshold: float) -> bool:
    return float(await browser.evaluate(expression)) > threshold


async def test_any_deployment_through_the_form_and_a_refused_token_is_shown(
    browser: Browser,
    start_console: StartConsole,
    livekit_server: LiveKitServer,
    room_name: str,
) -> None:
    base = await start_console()  # no config: nothing to mint, the page asks
    assert "#" not in base
    await browser.goto(base)
    assert await browser.evaluate(js("#status", "el.dataset.state")) == "idle"

    await browser.fill("#url", livekit_server.http_url)  # http(s) URLs are accepted too
    await browser.fill("#token", mint_token(livekit_server, identity="someone", room=room_name))
    await browser.click("#connect button[type=submit]")
    status = await until(
        lambda: browser.evaluate(
            js("#status", "el.dataset.state === 'connected' && el.textContent")
        ),
        message=lambda: f"page:\n{browser.log()}",
    )
    assert f"room {room_name} as someone" in status
    assert await browser.evaluate(js("main .empty", "el?.textContent")) == (
        "No edge participants in this room yet."
    )

    await browser.fill("#token", "not-a-token")
    await browser.click("#connect button[type=submit]")
    refused = await until(
        lambda: browser.evaluate(js("#status", "el.dataset.state === 'error' && el.textContent"))
    )
    assert refused.startswith("Could not connect:")
