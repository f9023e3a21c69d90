"""`edge check`: a doctor that says in plain words what stands between this board and the room.

Each check gives one finding (ok, warn or FAIL with how to fix it):

    config   the file loads          secrets  nobody but the service can read the secret
    board    which board, profile     gpio     the header's GPIO chip opens
    pins     declared pins exist, free groups   the service user is in the device groups
    camera   the camera opens        encoder  the H.264 encoder is there
    audio    a capture device        clock    set and synchronised
    disk     room for the spool      server   the LiveKit server answers
    token    valid, for how long, accepted by the server
    mqtt     the broker answers (if configured)
    libs     the library versions found; any outside the tested ranges

Every look at the system goes through `Probes`, so tests run each failure on a simulated board.
"""

from __future__ import annotations

from pathlib import Path

from edge.board import detect_board
from edge.doctor.context import Context
from edge.doctor.findings import Finding, Level, failed, render
from edge.doctor.hardware import (
    check_audio,
    check_board,
    check_camera,
    check_encoder,
    check_gpio,
    check_groups,
    check_pins,
)
from edge.doctor.network import check_mqtt, check_server, check_token
from edge.doctor.probes import Probes
from edge.doctor.system import check_clock, check_disk, check_secrets, read_config
from edge.doctor.versions import check_libraries

__all__ = ["Finding", "Level", "Probes", "diagnose", "failed", "render"]


def diagnose(config_path: Path, probes: Probes | None = None) -> list[Finding]:
    """Run every check against `config_path` and the system `probes` sees, in report order."""
    probes = probes or Probes()
    config, raw, loaded = read_config(config_path, probes)
    board = config.board if config else detect_board(probes.model_path)
    ctx = Context(config_path=config_path, config=config, raw=raw, board=board, probes=probes)
    findings = [loaded, check_secrets(ctx), check_board(ctx), check_gpio(ctx), check_pins(ctx)]
    findings += [check_groups(ctx), check_camera(ctx), check_encoder(ctx), check_audio(ctx)]
    findings += [check_clock(ctx), check_disk(ctx)]
    server = check_server(ctx)
    reachable = server.level is not Level.FAIL and config is not None  # WARN: some URL is
    findings += [server, check_token(ctx, server_reachable=reachable), check_mqtt(ctx)]
    findings.append(check_libraries())
    return findings
