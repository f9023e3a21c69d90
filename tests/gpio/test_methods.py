"""GPIO RPC methods on gpiozero mock pins: payloads in, pin states and JSON out."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.errors import EdgeError
from edge.gpio import methods
from edge.gpio.service import GpioService
from edge.gpio.spec import GpioConfig, InputKind, InputSpec, OutputKind, OutputSpec
from edge.protocol.codes import ErrorCode
from edge.protocol.schema import check_schema
from edge.testing.pins import SimulatedPinFactory
from tests.clock import Clock

OPS = ("op-*",)
CONFIG = GpioConfig(
    outputs=(
        OutputSpec(
            name="relay",
            kind=OutputKind.DIGITAL,
            pins=(17,),
            safe_value=0,
            active_high=False,
            allow=OPS,
        ),
        OutputSpec(name="fan", kind=OutputKind.PWM, pins=(18,), safe_value=0, allow=OPS),
        OutputSpec(name="servo", kind=OutputKind.SERVO, pins=(12,), safe_value=0, allow=OPS),
        OutputSpec(name="motor", kind=OutputKind.MOTOR, pins=(20, 21), safe_value=0, allow=OPS),
        OutputSpec(name="buzzer", kind=OutputKind.BUZZER, pins=(22,), safe_value=0, allow=OPS),
    ),
    inputs=(
        InputSpec(name="button", kind=InputKind.BUTTON, pins=(27,), pull_up=True),
        InputSpec(name="door", kind=InputKind.DIGITAL, pins=(23,), allow=("op-*",)),
        InputSpec(name="range", kind=InputKind.DISTANCE, pins=(24, 25), max_distance_m=2.0),
        InputSpec(name="pot", kind=InputKind.ADC, pins=(), chip="MCP3008", channel=2),
    ),
)


@pytest.fixture
def factory() -> SimulatedPinFactory:
    return SimulatedPinFactory(CONFIG)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(factory: SimulatedPinFactory, clock: Clock) -> Iterator[GpioService]:
    svc = GpioService(CONFIG, pin_factory=factory, clock=clock)
    yield svc
    svc.close("test over")


def pin(factory: SimulatedPinFactory, number: int) -> object:
    return factory.pin(number).state


async def call(
    service: GpioService, method: str, payload: object, caller: str = "op-anna"
) -> object:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return json.loads(await methods.call(service, method, caller, text))


async def test_outputs_start_safe_on_the_pins(
    service: GpioService, factory: SimulatedPinFactory
) -> None:
    # relay is active-low: safe (off) means the pin is high
    assert pin(factory, 17) is True
    assert pin(factory, 18) == 0
    assert pin(factory, 22) is False
    assert (pin(factory, 20), pin(factory, 21)) == (0, 0)


async def test_each_output_kind_is_driven_through_its_method(
    service: GpioService, factory: SimulatedPinFactory, clock: Clock
) -> None:
    assert await call(service, "gpio.set", {"device": "relay", "value": 1}) == {
        "device": "relay",
        "value": 1,
    }
    assert pin(factory, 17) is False
    await call(service, "gpio.set", {"device": "fan", "value": 0.25})
    assert pin(factory, 18) == 0.25
    await call(service, "gpio.set", {"device": "servo", "value": 1})
    assert pin(factory, 12) == pytest.approx(0.1)  # 2 ms pulse in a 20 ms frame
    await call(service, "gpio.set", {"device": "motor", "value": -0.5})
    assert (pin(factory, 20), pin(factory, 21)) == (0, 0.5)
    await call(service, "gpio.set", {"device": "buzzer", "value": True})
    assert pin(factory, 22) is True
    clock.now += 1
    await call(service, "gpio.set", {"device": "motor", "value": 0})
    assert (pin(factory, 20), pin(factory, 21)) == (0, 0)


async def test_pulse_drives_then_returns_to_safe_when_polled(
    service: GpioService, factory: SimulatedPinFactory, clock: Clock
) -> None:
    result = await call(service, "gpio.pulse", {"device": "relay", "duration_s": 0.5})
    assert result == {"device": "relay", "value": 1, "duration_s": 0.5}
    assert pin(factory, 17) is False
    clock.now += 0.5
    service.apply(service.actuator.poll(clock.now))
    assert pin(factory, 17) is True


async def test_inputs_are_read_from_the_pins(
    service: GpioService, factory: SimulatedPinFactory
) -> None:
    assert await call(service, "gpio.read", {"device": "button"}) == {
        "device": "button",
        "value": 0,
    }
    factory.pin(27).drive_low()  # pressed (pull-up)
    assert await call(service, "gpio.read", {"device": "button"}) == {
        "device": "button",
        "value": 1,
    }
    factory.pin(23).drive_high()
    assert await call(service, "gpio.read", {"device": "door"}) == {"device": "door", "value": 1}
    distance = await call(service, "gpio.read", {"device": "range"})
    assert isinstance(distance, dict)
    assert 0 < distance["value"] <= 2.0
    assert factory.adc is not None
    factory.adc.values[2] = 0.25
    adc = await call(service, "gpio.read", {"device": "pot"})
    assert isinstance(adc, dict)
    assert adc["value"] == pytest.approx(0.25, abs=0.002)


async def test_list_shows_values_controllers_and_what_the_caller_may_do(
    service: GpioService,
) -> None:
    await call(service, "gpio.set", {"device": "fan", "value": 0.5})
    listing = await call(service, "gpio.list", {}, caller="viewer")
    assert isinstance(listing, dict)
    fan = next(o for o in listing["outputs"] if o["name"] == "fan")
    assert fan["value"] == 0.5
    assert fan["controller"] == "op-anna"
    assert fan["may_set"] is False
    assert [i["name"] for i in listing["inputs"]] == ["button", "range", "pot"]  # door: op-only
    assert listing["lease"] is None


def test_every_method_publishes_a_schema_the_validator_enforces() -> None:
    assert methods.METHODS["gpio.set"].params["required"] == ["device", "value"]
    for method in methods.METHODS.values():
        check_schema(method.params)


async def test_lease_is_exclusive_and_shown_in_the_listing(service: GpioService) -> None:
    lease = await call(service, "gpio.lease", {"action": "acquire", "duration_s": 20})
    assert lease == {"lease": {"holder": "op-anna", "expires_in_s": 20.0}}
    with pytest.raises(EdgeError) as denied:
        await call(service, "gpio.set", {"device": "relay", "value": 1}, caller="op-ben")
    assert denied.value.code is ErrorCode.ACCESS_DENIED
    assert await call(service, "gpio.lease", {"action": "release"}) == {"lease": None}
    await call(service, "gpio.set", {"device": "relay", "value": 1}, caller="op-ben")


async def test_viewer_cannot_take_the_lease(service: GpioService) -> None:
    with pytest.raises(EdgeError, match="may not actuate any output") as denied:
        await call(service, "gpio.lease", {"action": "acquire"}, caller="viewer")
    assert denied.value.code is ErrorCode.ACCESS_DENIED


@pytest.mark.parametrize(
    ("method", "payload", "code", "message"),
    [
        ("gpio.set", "{not json", ErrorCode.INVALID_PAYLOAD, "payload is not JSON"),
        ("gpio.set", "[1, 2]", ErrorCode.INVALID_PAYLOAD, "must be a JSON object"),
        ("gpio.set", {"device": "relay"}, ErrorCode.INVALID_PAYLOAD, "missing field(s): value"),
        (
            "gpio.set",
            {"device": "relay", "value": 1, "x": 1},
            ErrorCode.INVALID_PAYLOAD,
            "unknown field(s): x",
        ),
        (
            "gpio.set",
            {"device": 5, "value": 1},
            ErrorCode.INVALID_PAYLOAD,
            "device: expected string",
        ),
        (
            "gpio.set",
            {"device": "relay", "value": "on"},
            ErrorCode.INVALID_PAYLOAD,
            "value: expected number",
        ),
        ("gpio.set", '{"device": "fan", "value": NaN}', ErrorCode.INVALID_PAYLOAD, "finite number"),
        (
            "gpio.set",
            {"device": "fan", "value": 1, "hold_s": 0},
            ErrorCode.INVALID_PAYLOAD,
            "hold_s: must be > 0",
        ),
        (
            "gpio.set",
            {"device": "lamp", "value": 1},
            ErrorCode.UNKNOWN_DEVICE,
            "no output named 'lamp'",
        ),
        ("gpio.set", {"device": "fan", "value": 2}, ErrorCode.INVALID_VALUE, "from 0 to 1"),
        ("gpio.read", {"device": "lamp"}, ErrorCode.UNKNOWN_DEVICE, "no device named 'lamp'"),
        (
            "gpio.lease",
            {"action": "steal"},
            ErrorCode.INVALID_PAYLOAD,
            "expected one of acquire, release",
        ),
        (
            "gpio.set",
            json.dumps({"device": "x" * 5000, "value": 1}),
            ErrorCode.INVALID_PAYLOAD,
            "over the limit of 4096",
        ),
    ],
)
async def test_bad_payloads_get_a_precise_error_and_outputs_stay_safe(
    service: GpioService,
    factory: SimulatedPinFactory,
    method: str,
    payload: object,
    code: ErrorCode,
    message: str,
) -> None:
    with pytest.raises(EdgeError) as refused:
        await call(service, method, payload)
    assert refused.value.code is code
    assert message in str(refused.value)
    assert pin(factory, 17) is True
    assert pin(factory, 18) == 0


async def test_denied_read_of_a_restricted_input(service: GpioService) -> None:
    with pytest.raises(EdgeError) as denied:
        await call(service, "gpio.read", {"device": "door"}, caller="viewer")
    assert denied.value.code is ErrorCode.ACCESS_DENIED


async def test_close_drives_everything_safe(
    service: GpioService, factory: SimulatedPinFactory
) -> None:
    await call(service, "gpio.set", {"device": "relay", "value": 1})
    await call(service, "gpio.set", {"device": "fan", "value": 0.9})
    service.close("daemon stopping")
    assert service.actuator.value("relay") == 0
    assert service.actuator.value("fan") == 0


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
@given(
    method=st.sampled_from(sorted(methods.METHODS)),
    payload=st.one_of(
        st.text(max_size=200),
        st.dictionaries(
            st.sampled_from(["device", "value", "hold_s", "duration_s", "action", "zzz"]),
            st.one_of(
                st.none(),
                st.booleans(),
                st.floats(allow_nan=True),
                st.integers(),
                st.text(max_size=10),
                st.sampled_from(["relay", "fan", "motor", "button", "acquire", "release"]),
            ),
        ).map(json.dumps),
    ),
)
async def test_random_payloads_give_json_or_a_method_error(
    service: GpioService, method: str, payload: str
) -> None:
    refusal: EdgeError | None = None
    try:
        json.loads(await methods.call(service, method, "op-anna", payload))
    except EdgeError as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.code in set(ErrorCode)
        assert str(refusal)
    for name in ("relay", "fan", "servo", "motor", "buzzer"):
        low, high = service.actuator.specs[name].kind.value_range
        assert low <= service.actuator.value(name) <= high


async def test_a_failing_pin_is_reported_as_a_hardware_error_and_recorded_safe(
    service: GpioService, factory: SimulatedPinFactory, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(value: float) -> None:
        raise RuntimeError("pin 18 vanished")

    # Swap the fan's gpiozero device for one whose pin write fails.
    fan = service._outputs["fan"]
    fan._device = type("Broken", (), {"value": property(lambda s: 0, lambda s, v: broken(v))})()
    with pytest.raises(EdgeError) as failed:
        await call(service, "gpio.set", {"device": "fan", "value": 0.5})
    assert failed.value.code is ErrorCode.HARDWARE_ERROR
    assert "fan: driving pin failed: pin 18 vanished" in str(failed.value)
    assert service.actuator.value("fan") == 0
    assert "fan: driving pin failed" in caplog.text
    await call(service, "gpio.set", {"device": "relay", "value": 1})  # the others carry on
    assert pin(factory, 17) is False


async def test_link_loss_after_close_starts_no_timer(
    service: GpioService, caplog: pytest.LogCaptureFixture
) -> None:
    service.close("daemon stopping")
    service.link_lost()
    assert "room connection lost" not in caplog.text
