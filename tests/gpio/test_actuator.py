"""Actuator: validation, allow-lists, leases, rate limits and every timer-driven fail-safe. Pure."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.access import AccessPolicy, output_rules
from edge.errors import AccessDenied, DeviceError, InvalidValue, RateLimited, UnknownDevice
from edge.gpio.actuator import Actuator, Change
from edge.gpio.spec import OutputKind, OutputSpec

OPS = ("op-*",)


def specs() -> list[OutputSpec]:
    return [
        OutputSpec(name="relay", kind=OutputKind.DIGITAL, pins=(17,), safe_value=0, allow=OPS),
        OutputSpec(
            name="fan", kind=OutputKind.PWM, pins=(18,), safe_value=0, max_hold_s=10, allow=OPS
        ),
        OutputSpec(
            name="motor",
            kind=OutputKind.MOTOR,
            pins=(20, 21),
            safe_value=0,
            max_rate_hz=2,
            allow=OPS,
        ),
        OutputSpec(name="valve", kind=OutputKind.DIGITAL, pins=(5,), safe_value=1, allow=()),
    ]


def test_outputs_start_at_their_safe_values() -> None:
    act = Actuator(specs())
    assert [act.value(n) for n in ("relay", "fan", "motor", "valve")] == [0, 0, 0, 1]


def test_allowed_caller_sets_a_value_and_becomes_its_controller() -> None:
    act = Actuator(specs())
    change = act.request(device="relay", value=1, caller="op-anna", now=0)
    assert change == Change("relay", 1.0, "set by op-anna")
    assert act.controller("relay") == "op-anna"


@pytest.mark.parametrize("caller", ["viewer", "OP-anna", "op", ""])
def test_callers_outside_the_allow_list_are_denied(caller: str) -> None:
    act = Actuator(specs())
    with pytest.raises(AccessDenied, match="may not actuate 'relay'"):
        act.request(device="relay", value=1, caller=caller, now=0)
    assert act.value("relay") == 0


def test_the_access_table_it_is_given_decides_not_the_specs_own_lists() -> None:
    """One rule, one place: the daemon's table, even where it disagrees with a spec."""
    narrower = [replace(s, allow=("op-boss",)) if s.name == "relay" else s for s in specs()]
    act = Actuator(specs(), access=AccessPolicy(output_rules(narrower)))
    with pytest.raises(AccessDenied, match="may not actuate 'relay'"):
        act.request(device="relay", value=1, caller="op-anna", now=0)
    assert act.request(device="relay", value=1, caller="op-boss", now=0).value == 1
    assert act.request(device="fan", value=0.5, caller="op-anna", now=0).value == 0.5


def test_empty_allow_list_means_nobody() -> None:
    with pytest.raises(AccessDenied):
        Actuator(specs()).request(device="valve", value=0, caller="op-anna", now=0)


@pytest.mark.parametrize(
    ("device", "value", "message"),
    [
        ("relay", 0.5, "takes 0 or 1"),
        ("relay", 2, "takes 0 or 1"),
        ("fan", 1.5, "from 0 to 1"),
        ("fan", -0.1, "from 0 to 1"),
        ("motor", -1.5, "from -1 to 1"),
        ("fan", math.nan, "finite number"),
        ("fan", math.inf, "finite number"),
        ("fan", "0.5", "finite number"),
    ],
)
def test_out_of_range_values_are_refused_and_the_output_is_unchanged(
    device: str, value: object, message: str
) -> None:
    act = Actuator(specs())
    with pytest.raises(InvalidValue, match=message):
        act.request(device=device, value=value, caller="op-a", now=0)  # type: ignore[arg-type]
    assert act.value(device) == 0


def test_unknown_device_lists_the_known_ones() -> None:
    with pytest.raises(UnknownDevice, match=r"no output named 'door' \(outputs: fan, motor"):
        Actuator(specs()).request(device="door", value=1, caller="op-a", now=0)


def test_booleans_are_accepted_for_binary_outputs() -> None:
    act = Actuator(specs())
    assert act.request(device="relay", value=True, caller="op-a", now=0).value == 1.0


def test_rate_limit_refuses_fast_changes_but_never_a_return_to_safe() -> None:
    act = Actuator(specs())
    act.request(device="motor", value=0.5, caller="op-a", now=0.0)
    with pytest.raises(RateLimited, match="at most 2 changes per second"):
        act.request(device="motor", value=-0.5, caller="op-a", now=0.2)
    assert act.value("motor") == 0.5
    act.request(device="motor", value=0, caller="op-a", now=0.25)
    assert act.value("motor") == 0
    act.request(device="motor", value=1, caller="op-a", now=0.8)
    assert act.value("motor") == 1
    act.request(device="motor", value=1, caller="op-a", now=0.9)  # a renewal moves nothing


def test_dead_man_interval_reverts_unless_renewed() -> None:
    act = Actuator(specs())
    act.request(device="fan", value=0.7, caller="op-a", now=0)
    assert act.next_deadline() == 10
    assert act.poll(9.9) == []
    act.request(device="fan", value=0.7, caller="op-a", now=9.9)  # renewal
    assert act.poll(19.8) == []
    expired = Change("fan", 0.0, "hold time expired without renewal", failsafe=True)
    assert act.poll(19.9) == [expired]
    assert act.value("fan") == 0
    assert act.controller("fan") is None


def test_hold_must_fit_within_the_dead_man_interval() -> None:
    act = Actuator(specs())
    with pytest.raises(InvalidValue, match=r"hold_s must be > 0 and <= 10 s"):
        act.request(device="fan", value=0.5, caller="op-a", now=0, hold_s=11)
    act.request(device="fan", value=0.5, caller="op-a", now=0, hold_s=2)
    assert act.poll(2.0) == [Change("fan", 0.0, "hold time expired without renewal", failsafe=True)]


def test_pulse_returns_to_safe_after_its_duration() -> None:
    act = Actuator(specs())
    change = act.request(device="relay", value=1, caller="op-a", now=5, pulse_s=0.5)
    assert change.reason == "pulse 0.5 s by op-a"
    assert act.poll(5.4) == []
    assert act.poll(5.5) == [Change("relay", 0.0, "pulse ended")]  # its end, not a fail-safe


def test_controller_leaving_makes_only_its_outputs_safe() -> None:
    act = Actuator(specs())
    act.request(device="relay", value=1, caller="op-anna", now=0)
    act.request(device="motor", value=0.5, caller="op-ben", now=0)
    changes = act.participant_left("op-anna")
    assert changes == [Change("relay", 0.0, "controller 'op-anna' left", failsafe=True)]
    assert act.value("motor") == 0.5
    assert act.participant_left("op-anna") == []


def test_all_safe_drives_every_output() -> None:
    act = Actuator(specs())
    act.request(device="relay", value=1, caller="op-a", now=0)
    changes = act.all_safe("daemon stopping")
    assert {c.device: c.value for c in changes} == {"relay": 0, "fan": 0, "motor": 0, "valve": 1}
    assert {c.reason for c in changes} == {"daemon stopping"}
    assert all(c.failsafe for c in changes)


def test_lease_gives_exclusive_control_until_it_expires_or_is_released() -> None:
    act = Actuator(specs(), lease_max_s=60)
    act.acquire_lease("op-anna", 30, now=0)
    with pytest.raises(AccessDenied, match="leased to 'op-anna'"):
        act.request(device="relay", value=1, caller="op-ben", now=1)
    with pytest.raises(AccessDenied, match="leased to 'op-anna'"):
        act.acquire_lease("op-ben", 30, now=1)
    with pytest.raises(AccessDenied, match="held by 'op-anna'"):
        act.release_lease("op-ben", now=1)
    act.request(device="relay", value=1, caller="op-anna", now=1)
    act.acquire_lease("op-anna", 30, now=20)  # renew
    renewed = act.lease
    assert renewed is not None
    assert renewed.expires_at == 50
    act.poll(50)
    assert act.lease is None
    act.request(device="motor", value=1, caller="op-ben", now=51)


def test_lease_duration_is_bounded() -> None:
    act = Actuator(specs(), lease_max_s=60)
    with pytest.raises(InvalidValue, match="<= 60 s"):
        act.acquire_lease("op-a", 61, now=0)


def test_lease_holder_leaving_frees_the_lease() -> None:
    act = Actuator(specs())
    act.acquire_lease("op-anna", 30, now=0)
    act.participant_left("op-anna")
    act.request(device="relay", value=1, caller="op-ben", now=1)


@given(
    device=st.sampled_from(["relay", "fan", "motor", "valve", "nope"]),
    value=st.one_of(st.floats(allow_nan=True), st.integers(), st.booleans(), st.text()),
    caller=st.sampled_from(["op-a", "x"]),
    hold=st.one_of(st.none(), st.floats(allow_nan=True)),
)
def test_random_commands_are_applied_in_range_or_refused_with_a_device_error(
    device: str, value: object, caller: str, hold: float | None
) -> None:
    act = Actuator(specs())
    try:
        change = act.request(device=device, value=value, caller=caller, now=0, hold_s=hold)  # type: ignore[arg-type]
    except DeviceError:
        if device != "nope":
            assert act.value(device) == act.specs[device].safe_value
        return
    low, high = act.specs[device].kind.value_range
    assert low <= change.value <= high
