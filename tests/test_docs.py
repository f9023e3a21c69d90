"""The README is a front door and the docs hold together: links resolve, the references are
complete against the code (config keys, RPC methods, error codes)."""

from __future__ import annotations

import ast
import re
import unicodedata
from pathlib import Path

import pytest

from edge import config as edge_config
from edge import wire
from edge.gpio.methods import METHODS as GPIO_METHODS
from edge.protocol.codes import ErrorCode
from edge.protocol.rpc import RpcErrorCode

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
MAX_README_LINES = 200
INSTALL_WITHIN_LINES = 40

_FENCE = re.compile(r"^(```|~~~)")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
_CODE_SPAN = re.compile(r"`[^`]*`")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _prose_lines(path: Path) -> list[str]:
    """The file's lines outside fenced code blocks (fenced lines become empty)."""
    out, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
            out.append("")
            continue
        out.append("" if fenced else line)
    return out


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: links reduced to their text, markup and punctuation
    dropped, lower case, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.replace("`", "").lower()
    kept = [ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in ("L", "M", "N")]
    return "".join(kept).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for line in _prose_lines(path):
        match = _HEADING.match(line)
        if not match:
            continue
        slug = _slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(_prose_lines(path), start=1):
        for match in _LINK.finditer(_CODE_SPAN.sub("", line)):
            found.append((number, match.group(1)))
    return found


def _section(text: str, heading: str) -> str:
    """The body of the heading that contains `heading`, up to the next heading of any level."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if _HEADING.match(line) and heading in line:
            body = []
            for following in lines[index + 1 :]:
                if _HEADING.match(following):
                    break
                body.append(following)
            return "\n".join(body)
    raise AssertionError(f"docs/configuration.md has no heading with {heading}")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    broken = []
    for number, target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        where = f"{page.relative_to(ROOT)}:{number}: {target}"
        if not linked.exists():
            broken.append(f"{where} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{where} (no heading #{anchor} in {linked.name})")
    assert not broken, "\n".join(broken)


def test_the_slug_rule_matches_githubs() -> None:
    assert _slug("`[[gpio.outputs]]`") == "gpiooutputs"
    assert _slug("The armv7 proof: `tools/armhf-test`") == "the-armv7-proof-toolsarmhf-test"
    assert _slug("Checking a board: `edge check`") == "checking-a-board-edge-check"
    assert _slug("MQTT ([mqtt.md](mqtt.md))") == "mqtt-mqttmd"


def test_readme_is_a_front_door() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines"
    install = [
        number
        for number, line in enumerate(_prose_lines(README), start=1)
        if _HEADING.match(line) and "install" in line.lower()
    ]
    assert install, "README.md has no install heading"
    assert install[0] <= INSTALL_WITHIN_LINES, f"the install heading is on line {install[0]}"
    assert lines[0].startswith("# "), "README.md starts with its title"
    top = "\n".join(lines[:INSTALL_WITHIN_LINES])
    assert "tools/demo" in top
    assert "tools/test" in top


def test_readme_links_every_doc() -> None:
    linked = {
        (README.parent / target.partition("#")[0]).resolve()
        for _, target in _links(README)
        if target.partition("#")[0]
    }
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"README.md does not link {missing}"


def test_every_config_key_is_in_the_configuration_reference() -> None:
    # The keys the loader accepts, per section: `config.py` builds them from the config
    # dataclasses ([livekit], [daemon], [simulation]) and each spec module's SCHEMA.
    sections = edge_config._SECTIONS
    assert {"livekit", "daemon", "gpio.outputs[]", "camera"} <= set(sections)
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = []
    for section, keys in sections.items():
        name = section.removesuffix("[]")
        heading = f"`[[{name}]]`" if section.endswith("[]") else f"`[{name}]`"
        body = _section(text, heading)
        missing += [f"{name}.{key}" for key in keys if f"| `{key}` |" not in body]
    assert not missing, f"docs/configuration.md lacks rows for {missing}"


def _registered_methods() -> set[str]:
    """Every RPC method name the daemon registers, read from the code: each is a wire name."""
    names = set(GPIO_METHODS)
    for source in (ROOT / "edge").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "register_method"
            ):
                continue
            argument = ast.unparse(node.args[0])
            if argument == "name":  # edge/gpio/room_session.py: the keys of GPIO_METHODS
                continue
            prefix, _, attribute = argument.rpartition(".")
            assert prefix == "wire.Method", f"{source}: register {argument} by its edge.wire name"
            names.add(getattr(wire.Method, attribute))
    return names


def test_every_rpc_method_is_in_the_rpc_reference() -> None:
    methods = _registered_methods()
    assert {"gpio.set", "media.set", "telemetry.history", "edge.logs", "mqtt.read"} <= methods
    assert methods <= set(wire.names(wire.Method).values())
    methods |= set(wire.names(wire.Method).values())  # edge.describe too
    text = (DOCS / "rpc.md").read_text(encoding="utf-8")
    missing = sorted(m for m in methods if f"| `{m}` |" not in text)
    assert not missing, f"docs/rpc.md lacks rows for {missing}"


def _declared_codes() -> set[int]:
    """Every RPC error code declared in the code: the enums and the module constants."""
    codes = {int(c) for enum in (RpcErrorCode, ErrorCode) for c in enum}
    constant = re.compile(r"^[A-Z_]+\s*=\s*(1[45]\d\d|2\d\d\d)\s*$", re.M)
    for source in (ROOT / "edge").rglob("*.py"):
        code = source.read_text(encoding="utf-8")
        if "RpcError" in code:
            codes.update(int(value) for value in constant.findall(code))
    return codes


def test_every_error_code_is_in_the_one_error_table() -> None:
    codes = _declared_codes()
    assert {1400, 1500, 2000, 2005, 2010, 2200, 2201} <= codes
    text = _section((DOCS / "rpc.md").read_text(encoding="utf-8"), "## Error codes")
    missing = sorted(c for c in codes if not re.search(rf"^\| {c} \|", text, re.M))
    assert not missing, f"docs/rpc.md's error table lacks {missing}"


def test_the_error_table_names_each_code_as_the_code_does() -> None:
    text = _section((DOCS / "rpc.md").read_text(encoding="utf-8"), "## Error codes")
    documented = {int(c): name for c, name in re.findall(r"^\| (\d+) \| `(\w+)` \|", text, re.M)}
    declared = {int(c): c.name for enum in (RpcErrorCode, ErrorCode) for c in enum}
    assert documented == declared
