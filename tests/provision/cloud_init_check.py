"""cloud-init's own code, run on a seed taken out of an image: schema, NoCloud read, netplan.

cloud-init is a Debian package for the system interpreter, not something pip installs, so
its code runs in a subprocess of the interpreter its `cloud-init` script names.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.provision.images import tool

CLOUD_INIT = shutil.which("cloud-init")
NETPLAN = tool("netplan")

needs_cloud_init = pytest.mark.usefixtures("cloud_init")
"""cloud-init's schema checker (the `cloud_init` fixture: skipped or, in CI, failed without it)."""

# Reads the seed directory the way DataSourceNoCloud does (pathprefix2dict + _merge_new_seed),
# the kernel command line the way it parses ds=nocloud;i=..., strips the top-level `network`
# key as cloud-init's Init does, parses it to a NetworkState and renders it with the netplan
# renderer cloud-init uses on Raspberry Pi OS. Prints what it read as JSON.
_READER = r"""
import json, sys
from cloudinit import util
from cloudinit.net import netplan, network_state
from cloudinit.sources import DataSourceNoCloud as nocloud
from cloudinit.stages import Init

seed, cmdline, target = sys.argv[1:4]
fill = {}
selected = nocloud.load_cmdline_data(fill, cmdline)
seeded = util.pathprefix2dict(
    seed, required=["user-data", "meta-data"], optional=["network-config"]
)
data = nocloud._merge_new_seed({"meta-data": {}}, seeded)
out = {
    "cmdline_selects_nocloud": selected,
    "cmdline": fill,
    "meta_data": data["meta-data"],
    "user_data": util.load_yaml(data["user-data"]),
    "network": None,
}
if data.get("network-config"):
    config = Init._remove_top_level_network_key(None, data["network-config"])
    state = network_state.parse_net_config_data(config)
    renderer = netplan.Renderer(
        {"netplan_path": "etc/netplan/50-cloud-init.yaml", "postcmds": False}
    )
    renderer.render_network_state(state, target=target)
    out["network"] = config
print(json.dumps(out))
"""


def cloud_init_python() -> str:
    """The interpreter cloud-init runs with (its script's shebang)."""
    assert CLOUD_INIT is not None
    first = Path(CLOUD_INIT).read_text().splitlines()[0]
    return first.removeprefix("#!").split()[0]


def schema_check(user_data: Path) -> subprocess.CompletedProcess[str]:
    """`cloud-init schema --config-file`: cloud-init's own validation of a cloud-config."""
    assert CLOUD_INIT is not None
    return subprocess.run(
        [CLOUD_INIT, "schema", "--config-file", str(user_data)],
        capture_output=True,
        text=True,
        check=False,
    )


def read_seed(seed: Path, cmdline: str, render_root: Path) -> dict[str, Any]:
    """What cloud-init's NoCloud datasource reads from `seed`; renders netplan under root."""
    done = subprocess.run(
        [cloud_init_python(), "-c", _READER, str(seed), cmdline, str(render_root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def netplan_generate(root: Path) -> subprocess.CompletedProcess[str]:
    """`netplan generate --root-dir`: netplan's strict parse of what cloud-init rendered."""
    assert NETPLAN is not None
    (root / "etc/netplan/50-cloud-init.yaml").chmod(0o600)
    return subprocess.run(
        [NETPLAN, "generate", "--root-dir", str(root)], capture_output=True, text=True, check=False
    )
