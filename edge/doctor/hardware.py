"""Hardware checks: board, GPIO chip and pins, device groups, camera, encoder, audio."""

from __future__ import annotations

from pathlib import Path

from edge.board import GENERIC, known_profiles, profile_for_model, read_model
from edge.config import Config
from edge.doctor.context import SERVICE_USER, Context
from edge.doctor.findings import Finding, Level, fail, ok, warn
from edge.gpio.spec import InputKind
from edge.gpio.wiring import check_wiring
from edge.media.spec import AudioKind, CameraKind, EncoderKind

ENCODER_NAME_SUFFIX = "codec-encode"
"""V4L2 name of the Pi's H.264 encoder ends so (`bcm2835-codec-encode`)."""
GROUP_FIX = "sudo usermod -aG {groups} {user}, then log in again"
SERVICE_GROUP_FIX = "run tools/install again: its sysusers file puts edge in the device groups"


def check_board(ctx: Context) -> Finding:
    """Which board this is, and whether the config's profile matches it."""
    model = read_model(ctx.probes.model_path)
    board = ctx.board
    if model is None:
        if board.name == GENERIC:
            return ok("board", "no device-tree model: a generic Linux host (profile generic)")
        return warn(
            "board",
            f"no device-tree model, but the config names board {board.name!r}",
            'set [board] profile = "auto" unless this really is that board',
        )
    detected = profile_for_model(model)
    if detected is None:
        if board.name != GENERIC:
            return ok("board", f"{model} (profile {board.name}, as the config says)")
        return warn(
            "board",
            f"{model}: no profile for this board, using {GENERIC} (pins are not checked)",
            f"set [board] profile to the closest of {', '.join(known_profiles())}",
        )
    if detected.name != board.name:
        return warn(
            "board",
            f"{model} is {detected.name}, but the config says {board.name}",
            'set [board] profile = "auto"',
        )
    return ok("board", f"{model} (profile {board.name}, {board.encoder} H.264 encoder)")


def check_gpio(ctx: Context) -> Finding:
    """The GPIO chip of the header exists and this user can open it."""
    config = ctx.config
    declared = _pin_devices(config) if config else 0
    label = ctx.board.gpio_chip
    if not label:
        if declared:
            return warn(
                "gpio",
                f"{declared} GPIO device(s) on the {GENERIC} board: they work only simulated",
                "run with --simulate, or set [board] profile to this board",
            )
        return ok("gpio", "no GPIO devices declared")
    chips = ctx.probes.gpio_chips(ctx.probes.dev)
    match = [c for c in chips if c.label == label]
    level = Level.FAIL if declared else Level.WARN
    if not match:
        closed = [c for c in chips if c.error]
        if closed:
            names = ", ".join(f"{c.path} ({c.error})" for c in closed)
            fix = (
                GROUP_FIX.format(groups="gpio", user=ctx.probes.user().name)
                if any(c.denied for c in closed)
                else "`gpiodetect` lists the GPIO chips the kernel has"
            )
            return Finding(check="gpio", level=level, message=f"cannot open {names}", fix=fix)
        found = ", ".join(f"{c.path.name} ({c.label})" for c in chips) or "none"
        return Finding(
            check="gpio",
            level=level,
            message=f"no GPIO chip labelled {label} in {ctx.probes.dev} (found: {found})",
            fix=f"is this a {ctx.board.description}? Check [board] profile and update the "
            "kernel (sudo apt full-upgrade)",
        )
    chip = match[0]
    if not ctx.probes.access(chip.path):
        fix = GROUP_FIX.format(groups="gpio", user=ctx.probes.user().name)
        message = f"{chip.path} ({label}) is not readable and writable by this user"
        return Finding(check="gpio", level=level, message=message, fix=fix)
    return ok("gpio", f"{chip.path} ({label}, {chip.lines} lines), {declared} device(s) declared")


def check_pins(ctx: Context) -> Finding:
    """Every declared pin exists on this board and is free (the config load refuses worse)."""
    if ctx.config is None:
        return ok("pins", "not checked: no valid config")
    issues: list[str] = []
    check_wiring(ctx.board, ctx.config.gpio, ctx.raw.get("gpio"), issues)
    if issues:
        return fail("pins", "; ".join(issues), "move the devices to pins the board has free")
    return ok("pins", f"every declared pin exists on {ctx.board.name} and is free to use")


def check_groups(ctx: Context) -> Finding:
    """The user that opens the devices is in the groups that own them."""
    if ctx.config is None:
        return ok("groups", "not checked: no valid config")
    user = ctx.device_user()
    needed = {
        group: why
        for group, why in _needed_groups(ctx.config).items()
        if ctx.probes.group_exists(group)
    }
    if user.uid == 0:
        return warn(
            "groups",
            f"there is no {SERVICE_USER!r} user for the service (root can open everything)",
            "run tools/install",
        )
    missing = sorted(g for g in needed if g not in user.groups)
    if missing:
        why = ", ".join(f"{g} ({needed[g]})" for g in missing)
        fix = (
            SERVICE_GROUP_FIX
            if user.name == SERVICE_USER
            else GROUP_FIX.format(groups=",".join(missing), user=user.name)
        )
        return fail("groups", f"user {user.name} is not in group(s) {why}", fix)
    if not needed:
        return ok("groups", f"this config needs no device groups (user {user.name})")
    return ok("groups", f"user {user.name} is in {', '.join(sorted(needed))}")


def check_camera(ctx: Context) -> Finding:
    """The configured camera can be opened."""
    camera = ctx.config.camera if ctx.config else None
    if camera is None or not camera.enabled:
        return ok("camera", "no camera configured")
    if camera.source is CameraKind.SYNTHETIC:
        return ok("camera", "synthetic test pattern: nothing to check")
    if camera.source is CameraKind.V4L2:
        path = _dev(ctx, camera.device or "/dev/video0")
        if not path.exists():
            return fail("camera", f"no {path}", "plug the USB camera in; `v4l2-ctl --list-devices`")
        if not ctx.probes.access(path):
            fix = GROUP_FIX.format(groups="video", user=ctx.probes.user().name)
            return fail("camera", f"{path} is not readable and writable by this user", fix)
        return ok("camera", f"V4L2 camera {path}")
    error = ctx.probes.import_error("picamera2")
    if error:
        return fail(
            "camera",
            f"picamera2 cannot be imported ({error})",
            "sudo apt install python3-picamera2 and make the venv with --system-site-packages "
            "(tools/install does both)",
        )
    try:
        count = ctx.probes.cameras()
    except Exception as exc:  # noqa: BLE001 - libcamera's failures are the finding
        return fail("camera", f"libcamera failed: {exc}", "`rpicam-hello --list-cameras` says more")
    index = int(camera.device or 0)
    if count <= index:
        return fail(
            "camera",
            f"libcamera sees {count} camera(s), the config uses camera {index}",
            "check the ribbon cable and its orientation, then `rpicam-hello --list-cameras`",
        )
    return ok("camera", f"libcamera sees {count} camera(s), using camera {index}")


def check_encoder(ctx: Context) -> Finding:
    """The H.264 encoder the camera will use is there."""
    camera = ctx.config.camera if ctx.config else None
    in_use = camera is not None and camera.enabled
    level = Level.FAIL if in_use else Level.WARN
    hardware = camera.encoder is EncoderKind.HARDWARE if camera and in_use else None
    if hardware is None:
        hardware = ctx.board.hardware_encoder
    if not hardware:
        if ctx.probes.libav_encoder("libx264"):
            return ok("encoder", "software H.264 encoder (libx264 through PyAV)")
        message = "PyAV has no libx264 encoder"
        fix = "reinstall PyAV from PyPI (its wheels include libx264): tools/install"
        return Finding(check="encoder", level=level, message=message, fix=fix)
    if not ctx.board.hardware_encoder:
        message = f"{ctx.board.name} has no hardware H.264 encoder"
        fix = 'set [camera] encoder = "software"'
        return Finding(check="encoder", level=level, message=message, fix=fix)
    nodes = [dev for dev, name in _v4l2_names(ctx).items() if name.endswith(ENCODER_NAME_SUFFIX)]
    if not nodes:
        message = "no hardware H.264 encoder device (bcm2835-codec-encode)"
        fix = 'load the bcm2835-codec driver (Raspberry Pi OS does) or set encoder = "software"'
        return Finding(check="encoder", level=level, message=message, fix=fix)
    if not ctx.probes.access(nodes[0]):
        fix = GROUP_FIX.format(groups="video", user=ctx.probes.user().name)
        message = f"{nodes[0]} (the H.264 encoder) is not readable and writable by this user"
        return Finding(check="encoder", level=level, message=message, fix=fix)
    return ok("encoder", f"hardware H.264 encoder {nodes[0]}")


def check_audio(ctx: Context) -> Finding:
    """The configured microphone has a capture device."""
    microphone = ctx.config.microphone if ctx.config else None
    captures = sorted((ctx.probes.dev / "snd").glob("pcmC*D*c"))
    if microphone is None or not microphone.enabled:
        return ok("audio", f"no microphone configured ({len(captures)} capture device(s) present)")
    if microphone.source is AudioKind.SYNTHETIC:
        return ok("audio", "synthetic tone: nothing to check")
    error = ctx.probes.import_error("pyaudio")
    if error:
        fix = "sudo apt install python3-pyaudio; the venv needs --system-site-packages"
        return fail("audio", f"pyaudio cannot be imported ({error})", fix)
    if not captures:
        return fail(
            "audio",
            f"no sound capture device in {ctx.probes.dev / 'snd'}",
            "plug in a USB microphone or sound card (`arecord -l` lists capture devices)",
        )
    usable = [c for c in captures if ctx.probes.access(c)]
    if not usable:
        fix = GROUP_FIX.format(groups="audio", user=ctx.probes.user().name)
        return fail("audio", f"{captures[0]} is not readable and writable by this user", fix)
    return ok("audio", f"{len(usable)} capture device(s): {', '.join(c.name for c in usable)}")


def _pin_devices(config: Config) -> int:
    """How many declared devices use GPIO pins (an ADC uses the SPI bus instead)."""
    outputs = config.gpio.outputs
    return len(outputs) + sum(1 for device in config.gpio.inputs if device.pins)


def _needed_groups(config: Config) -> dict[str, str]:
    """Device group → what in the config needs it."""
    needed = {}
    if _pin_devices(config):
        needed["gpio"] = "GPIO devices"
    if any(i.kind is InputKind.ADC for i in config.gpio.inputs):
        needed["spi"] = "the ADC"
    camera, microphone = config.camera, config.microphone
    if camera and camera.enabled and camera.source is not CameraKind.SYNTHETIC:
        needed["video"] = "the camera"
    if microphone and microphone.enabled and microphone.source is AudioKind.PYAUDIO:
        needed["audio"] = "the microphone"
    return needed


def _v4l2_names(ctx: Context) -> dict[Path, str]:
    """/dev/videoN → the driver's name for it."""
    names = {}
    for entry in sorted(ctx.probes.sys_video.glob("video*")):
        try:
            names[ctx.probes.dev / entry.name] = (entry / "name").read_text().strip()
        except OSError:
            continue
    return names


def _dev(ctx: Context, device: str) -> Path:
    """A /dev path from the config, relocated under the probed /dev directory."""
    path = Path(device)
    return ctx.probes.dev / path.relative_to("/dev") if path.is_relative_to("/dev") else path
