"""The GPIO rows of the access table: identity x method x device, as GPIO and RPC see them."""

from __future__ import annotations

import json

import pytest

from edge.access import AccessPolicy, gpio_rules
from edge.gpio.service import GpioService
from edge.gpio.spec import GpioConfig, InputKind, InputSpec, OutputKind, OutputSpec
from edge.protocol.codes import ErrorCode
from edge.testing.pins import SimulatedPinFactory

CONFIG = GpioConfig(
    outputs=(
        OutputSpec(
            name="relay", kind=OutputKind.DIGITAL, pins=(17,), safe_value=0, allow=("op-*",)
        ),
        OutputSpec(
            name="lamp", kind=OutputKind.DIGITAL, pins=(18,), safe_value=0, allow=("lab-anna",)
        ),
        OutputSpec(name="fan", kind=OutputKind.DIGITAL, pins=(19,), safe_value=0),  # nobody
    ),
    inputs=(
        InputSpec(name="door", kind=InputKind.DIGITAL, pins=(23,), allow=("op-*", "viewer")),
        InputSpec(name="button", kind=InputKind.BUTTON, pins=(27,)),  # everyone
    ),
)

# caller, method, device, allowed
TABLE = [
    ("op-anna", "gpio.set", "relay", True),
    ("op-anna", "gpio.set", "lamp", False),
    ("op-anna", "gpio.set", "fan", False),
    ("lab-anna", "gpio.set", "lamp", True),
    ("lab-anna", "gpio.set", "relay", False),
    ("OP-anna", "gpio.set", "relay", False),  # case-sensitive
    ("viewer", "gpio.set", "relay", False),
    ("op-anna", "gpio.read", "relay", True),  # outputs: whoever may set them
    ("viewer", "gpio.read", "relay", False),
    ("op-anna", "gpio.read", "door", True),
    ("viewer", "gpio.read", "door", True),
    ("lab-anna", "gpio.read", "door", False),
    ("anyone", "gpio.read", "button", True),
    ("anyone", "gpio.read", "fan", False),
    ("op-anna", "gpio.read", "nothing", False),
    ("op-bo", "gpio.lease", "", True),
    ("lab-anna", "gpio.lease", "", True),
    ("viewer", "gpio.lease", "", False),
]


@pytest.fixture(scope="module")
def gpio() -> GpioService:
    return GpioService(CONFIG, pin_factory=SimulatedPinFactory(CONFIG))


@pytest.mark.parametrize(("caller", "method", "device", "expected"), TABLE)
def test_gpio_answers_from_the_table(
    gpio: GpioService, caller: str, method: str, device: str, expected: bool
) -> None:
    checks = {
        "gpio.set": lambda: gpio.may_set(device, caller),
        "gpio.read": lambda: gpio.may_read(device, caller),
        "gpio.lease": lambda: gpio.may_lease(caller),
    }
    assert checks[method]() is expected


@pytest.mark.parametrize(("caller", "method", "device", "expected"), TABLE)
def test_the_rpc_policy_refuses_exactly_what_gpio_refuses(
    caller: str, method: str, device: str, expected: bool
) -> None:
    policy = AccessPolicy(gpio_rules(CONFIG))
    payload = json.dumps({"device": device} if device else {"action": "acquire"})
    refusal = policy.refusal(caller, method, payload)
    if device == "nothing":
        assert refusal is None, "an unknown device is left to the method to name"
    elif expected:
        assert refusal is None
    else:
        assert refusal is not None
        assert refusal.code == ErrorCode.ACCESS_DENIED
        assert caller in refusal.message


@pytest.mark.parametrize("caller", sorted({c for c, *_ in TABLE} | {"anyone"}))
def test_may_call_is_true_exactly_when_gpio_allows_some_device(
    gpio: GpioService, caller: str
) -> None:
    """What `edge.describe` tells a caller it may call: GPIO would let it act on something."""
    policy = AccessPolicy(gpio_rules(CONFIG))
    outputs = [o.name for o in CONFIG.outputs]
    devices = outputs + [i.name for i in CONFIG.inputs]
    assert policy.may_call(caller, "gpio.set") is any(gpio.may_set(d, caller) for d in outputs)
    assert policy.may_call(caller, "gpio.read") is any(gpio.may_read(d, caller) for d in devices)
    assert policy.may_call(caller, "gpio.lease") is gpio.may_lease(caller)
    assert not policy.may_call(caller, "no.such.method")
