"""Settings: one declaration per key drives reading, the unknown-key check and the reference."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from edge.reference import table as reference_table
from edge.settings import Read, from_keys, key, keys_for, known_keys, read_section, setting
from edge.toml_table import Table


class Shape(enum.Enum):
    ROUND = "round"
    PAIR = "pair"


def _differs(value: int, read: Read) -> str | None:
    return "must differ from first" if value == read["first"] else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Gadget:
    """A made-up section using each kind of declaration."""

    shape: Shape = setting(Shape.ROUND, kind="choice", choices=Shape, doc="The shape.")
    ends: tuple[int, ...] = from_keys(
        key("end", kind="int", low=0, high=9, kinds=("round",), doc="The one end."),
        key("first", kind="int", low=0, high=9, kinds=("pair",), doc="The first end."),
        key("second", kind="int", low=0, high=9, kinds=("pair",), check_with=_differs, doc="2nd."),
    )
    size: int = setting(
        10,
        kind="int",
        low=1,
        high=100,
        default_from=lambda read: read.context.get("size"),
        shown_default="context ({default})",
        doc="The size.",
    )
    level: float = setting(
        0.5,
        kind="float",
        low=0.0,
        high=100.0,
        bounds_from=lambda read: (0.0, float(read["size"])),
        doc="At most the size.",
    )
    label: str = setting(
        "x",
        kind="string",
        blank=False,
        kinds=("pair",),
        elsewhere="only for pairs, not {kind} {noun}s",
        doc="A label.",
    )


def read(data: dict[str, Any], **context: Any) -> tuple[Read, list[str]]:
    issues: list[str] = []
    schema = {"gadget": known_keys(Gadget)}
    t = Table("gadget", data, issues, schema)
    values = read_section(t, Gadget, noun="gadget", by="shape", context=context)
    t.check_unknown()
    return values, issues


def test_the_keys_of_a_composed_field_are_its_toml_keys() -> None:
    assert known_keys(Gadget) == ("shape", "end", "first", "second", "size", "level", "label")
    assert "ends" not in known_keys(Gadget)
    assert keys_for(Gadget, "ends", "pair") == ("first", "second")
    assert keys_for(Gadget, "ends", "round") == ("end",)


def test_enum_choices_read_as_members_and_keys_follow_the_kind() -> None:
    values, issues = read({"shape": "PAIR", "first": 1, "second": 2})
    assert issues == []
    assert (values["shape"], values["first"], values["second"]) == (Shape.PAIR, 1, 2)
    assert values["end"] is None  # does not apply: not required, reads as nothing


def test_a_key_is_required_only_for_the_kinds_it_applies_to() -> None:
    _, issues = read({"shape": "pair"})
    assert issues == ["gadget.first: required", "gadget.second: required"]
    _, issues = read({})
    assert issues == ["gadget.end: required"]


def test_a_key_for_another_kind_is_refused_with_its_own_words() -> None:
    values, issues = read({"end": 3, "first": 4, "label": "y"})
    assert issues == [
        "gadget.first: does not apply to a round gadget",
        "gadget.label: only for pairs, not round gadgets",
    ]
    assert values.refused == {"first", "label"}
    assert values["label"] == "x"


def test_a_refused_kind_reads_as_its_default_without_further_messages() -> None:
    values, issues = read({"shape": "oval", "end": 1, "first": 2})
    assert issues == ["gadget.shape: expected one of round, pair, got 'oval'"]
    assert (values["shape"], values["end"], values["first"]) == (Shape.ROUND, 1, None)


def test_check_with_sees_earlier_keys_and_keeps_the_value_it_refuses() -> None:
    values, issues = read({"shape": "pair", "first": 4, "second": 4})
    assert issues == ["gadget.second: must differ from first"]
    assert values["second"] == 4
    assert "second" in values.refused


def test_a_refused_value_reads_as_its_default() -> None:
    values, issues = read({"end": 1, "size": 500})
    assert issues == ["gadget.size: expected an integer from 1 to 100, got 500"]
    assert values["size"] == 10


def test_bounds_narrow_from_earlier_keys_and_defaults_from_the_context() -> None:
    values, issues = read({"end": 1}, size=40)
    assert (issues, values["size"]) == ([], 40)
    _, issues = read({"end": 1, "size": 4, "level": 5.0})
    assert issues == ["gadget.level: expected a number from 0 to 4, got 5.0"]


def test_a_set_string_that_must_not_be_blank() -> None:
    _, issues = read({"shape": "pair", "first": 1, "second": 2, "label": ""})
    assert issues == ["gadget.label: must not be empty"]


def test_an_unknown_key_is_named_with_a_close_match() -> None:
    _, issues = read({"end": 1, "seccond": 2})
    assert issues == ["gadget.seccond: unknown key (did you mean 'second'?)"]


def test_the_reference_has_one_row_per_toml_key() -> None:
    rows = reference_table(Gadget)[2:]
    assert [row.split(" | ")[0] for row in rows] == [
        "| `shape`",
        "| `end`",
        "| `first`",
        "| `second`",
        "| `size`",
        "| `level`",
        "| `label`",
    ]
    assert rows[0] == '| `shape` | string | `"round"` | `round`, `pair` | The shape. |'
    assert rows[1] == "| `end` | int | required | 0 to 9 | The one end. |"
    assert rows[4] == "| `size` | int | context (`10`) | 1 to 100 | The size. |"
