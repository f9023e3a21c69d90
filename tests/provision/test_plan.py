"""Format detection and the file plan, from names and cmdline.txt alone (no I/O)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from edge.errors import ProvisionError
from edge.provision.edge_config import EdgeConfigFile
from edge.provision.plan import FirstBootFormat, Plan, build_plan
from edge.provision.request import ProvisionRequest
from edge.provision.wifi import WifiNetwork
from tests.provision.conftest import EDGE_TOML, public_key
from tests.provision.images import BOOKWORM_CMDLINE, BULLSEYE_CMDLINE, FLAVOURS, TRIXIE_CMDLINE

REQUEST = ProvisionRequest(
    hostname="edge-pi-07",
    user="maker",
    ssh_keys=(public_key(),),
    wifi=WifiNetwork(ssid="lab", country="GB", psk="ab" * 32),
    edge_config=EdgeConfigFile(
        content=EDGE_TOML, url="wss://lk.example.org", room="r", identity="edge-pi-07"
    ),
)


def _plan(names: set[str], cmdline: str, chosen: FirstBootFormat | None = None) -> Plan:
    return build_plan(
        REQUEST,
        names=names,
        cmdline=cmdline.encode(),
        chosen=chosen,
        instance_id="edge-pi-07-1",
        source="boot",
    )


@pytest.mark.parametrize(
    ("flavour", "cmdline", "expected"),
    [
        ("bullseye", BULLSEYE_CMDLINE, FirstBootFormat.FIRSTRUN),
        ("bookworm", BOOKWORM_CMDLINE, FirstBootFormat.FIRSTRUN),
        ("trixie", TRIXIE_CMDLINE, FirstBootFormat.CLOUD_INIT),
    ],
)
def test_each_flavour_gets_the_format_its_first_boot_reads(
    flavour: str, cmdline: str, expected: FirstBootFormat
) -> None:
    plan = _plan(set(FLAVOURS[flavour]), cmdline)
    assert (plan.format, plan.detected) == (expected, True)
    common = {"cmdline.txt", "edge.toml", "edge-firstboot.sh"}
    if expected is FirstBootFormat.CLOUD_INIT:
        assert set(plan.files) == common | {"user-data", "meta-data", "network-config"}
        assert plan.files["cmdline.txt"].endswith(b" ds=nocloud;i=edge-pi-07-1\n")
    else:
        assert set(plan.files) == common | {"firstrun.sh"}


def test_seed_files_are_found_whatever_their_case() -> None:
    names = {"config.txt", "cmdline.txt", "USER-DATA", "Meta-Data"}
    assert _plan(names, TRIXIE_CMDLINE).format is FirstBootFormat.CLOUD_INIT


def test_the_user_can_override_detection() -> None:
    plan = _plan(set(FLAVOURS["trixie"]), TRIXIE_CMDLINE, FirstBootFormat.FIRSTRUN)
    assert (plan.format, plan.detected) == (FirstBootFormat.FIRSTRUN, False)
    assert b"systemd.run=/boot/firstrun.sh" in plan.files["cmdline.txt"]


def test_a_stale_custom_toml_is_removed_when_another_format_is_used() -> None:
    names = set(FLAVOURS["bookworm"]) | {"custom.toml"}
    plan = _plan(names, BOOKWORM_CMDLINE)
    assert plan.remove == ("custom.toml",)
    assert "removed custom.toml (it would apply its own settings)" in plan.notes


def test_a_wired_board_gets_no_network_config_and_no_country() -> None:
    wired = ProvisionRequest(
        hostname="h", user="u", ssh_keys=REQUEST.ssh_keys, wifi=None,
        edge_config=REQUEST.edge_config,
    )  # fmt: skip
    plan = build_plan(
        wired, names=set(FLAVOURS["trixie"]), cmdline=TRIXIE_CMDLINE.encode(), chosen=None,
        instance_id="i", source="boot",
    )  # fmt: skip
    assert "network-config" not in plan.files
    assert b"cfg80211" not in plan.files["cmdline.txt"]


@pytest.mark.parametrize(
    ("names", "cmdline", "message"),
    [
        ({"notes.txt"}, "root=/dev/sda2", "boot: not a Raspberry Pi boot partition"),
        ({"config.txt", "start4.elf"}, "", "boot: no cmdline.txt, so not a Raspberry Pi OS boot"),
        ({"cmdline.txt"}, "\n  \n", "boot: cmdline.txt: empty"),
        ({"cmdline.txt"}, "root=/dev/a\nquiet\n", "on one line, got 2 lines"),
        ({"cmdline.txt"}, "console=tty1 quiet", "cmdline.txt: no root= on the kernel"),
        ({"cmdline.txt"}, "root=/dev/a " + "x" * 1100, "over the 1024 bytes a 32-bit"),
    ],
    ids=["no-markers", "no-cmdline", "empty", "two-lines", "no-root", "too-long"],
)  # fmt: skip
def test_partitions_provisioning_cannot_handle_are_refused(
    names: set[str], cmdline: str, message: str
) -> None:
    with pytest.raises(ProvisionError) as err:
        _plan(names, cmdline)
    assert message in str(err.value)


def test_cmdline_tokens_of_earlier_provisioning_are_replaced() -> None:
    earlier = (
        "root=PARTUUID=1-02 rootwait cfg80211.ieee80211_regdom=US systemd.run=/boot/firstrun.sh"
        " systemd.run_success_action=reboot systemd.unit=kernel-command-line.target"
        " ds=nocloud;i=old\n"
    )
    plan = _plan({"cmdline.txt", "config.txt"}, earlier, FirstBootFormat.CLOUD_INIT)
    assert plan.files["cmdline.txt"] == (
        b"root=PARTUUID=1-02 rootwait cfg80211.ieee80211_regdom=GB ds=nocloud;i=edge-pi-07-1\n"
    )


def test_no_user_input_can_end_a_line_where_bookworm_cuts_firstrun_sh() -> None:
    # Bookworm's initramfs keeps only the lines before the first match of this sed address.
    request = dataclasses.replace(
        REQUEST,
        ssh_keys=(public_key("farm@firstrun.sh"),),
        wifi=WifiNetwork(ssid="rm -f firstrun.sh", country="GB", psk="ab" * 32),
    )
    plan = build_plan(
        request, names=set(FLAVOURS["bookworm"]), cmdline=BOOKWORM_CMDLINE.encode(), chosen=None,
        instance_id="i", source="boot",
    )  # fmt: skip
    lines = plan.files["firstrun.sh"].decode().splitlines()
    first_cut = next(i for i, line in enumerate(lines) if re.search(r"rm.*firstrun\.sh$", line))
    assert lines[first_cut:] == [
        "rm -f /boot/firstrun.sh",
        "sed -i 's| systemd.run.*||g' /boot/cmdline.txt",
        "exit 0",
    ]
