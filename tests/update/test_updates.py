"""Signed A/B updates against a simulated Raspberry Pi boot: slot partitions are files, the
firmware's tryboot rules (one-shot [tryboot], any reset returns to [all]) are modelled by
`SimulatedPi`, the bundles are signed with real Ed25519 keys (openssl). Good update -> tried ->
health-checked (the real self-test call on the simulated board) -> committed; unhealthy -> rolled
back by itself; a release that does not even start -> the firmware falls back and the check says
so; bad bundles (wrong signature, truncated, another board, tampered image, not a bundle) refused
with the reason, the running slot untouched."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from firmware.update import BootEnvironment, BundleRefused, HealthReport, may_install_now
from firmware.update.decision import in_window
from firmware.update.selftest import simulated_call_selftest
from firmware.update.signature import generate_key, sign
from firmware.update.slots import (
    TrybootUnavailable,
    autoboot_text,
    kernel_tryboot_unavailable,
    parse_autoboot,
)
from firmware.update.updater import Updater

SLOT_BYTES = 256 * 1024


class SimulatedPi:
    """The SD card's partitions as files and the Pi firmware's choice of boot partition."""

    def __init__(self, root: Path, kernel_release: str = "6.6.51+rpt-rpi-2712") -> None:
        self.root = root
        self.kernel_release = kernel_release     # Raspberry Pi's kernel by default: it passes tryboot on
        (root / "selector").mkdir(parents=True)
        (root / "dev").mkdir()
        (root / "dt").mkdir()
        (root / "selector" / "autoboot.txt").write_text(autoboot_text(2, 3))
        for n, content in ((2, b"BOOT old"), (3, b""), (5, b"ROOT old"), (6, b"")):
            self.dev(n).write_bytes(content.ljust(SLOT_BYTES, b"\0") if content else b"\0" * SLOT_BYTES)
        self.boots: list[tuple[int, bool]] = []
        self.root_of_boot = {2: "A"}             # whose root each boot partition's cmdline.txt names
        self.env = BootEnvironment(root / "selector" / "autoboot.txt", self.dev, root / "dt", self.reboot,
                                   point_boot_at_root=self.point_boot_at_root,
                                   tryboot_unavailable=lambda board: kernel_tryboot_unavailable(
                                       board, root / "sys" / "module", self.kernel_release))
        self.power_on(2, False)

    def dev(self, n: int) -> Path:
        return self.root / "dev" / f"p{n}"

    def power_on(self, partition: int, tryboot: bool) -> None:
        (self.root / "dt" / "partition").write_bytes(partition.to_bytes(4, "big"))
        (self.root / "dt" / "tryboot").write_bytes(int(tryboot).to_bytes(4, "big"))
        self.boots.append((partition, tryboot))

    def point_boot_at_root(self, device: Path, slot: str, layout) -> None:  # noqa: ANN001
        self.root_of_boot[next(n for n in (2, 3) if self.dev(n) == device)] = slot

    def starts(self, partition: int) -> bool:
        """Boots only from a written boot partition whose cmdline names its own slot's root."""
        own = self.env.layout.slot_of_boot(partition)
        return self.dev(partition).read_bytes().startswith(b"BOOT") and self.root_of_boot.get(partition) == own

    def reboot(self, tryboot: bool) -> None:
        # the firmware sees the tryboot flag only if the kernel sets it (Debian's kernel alone does not)
        tryboot = tryboot and kernel_tryboot_unavailable("rpi5", self.root / "sys" / "module", self.kernel_release) is None
        default, trying = parse_autoboot(self.env.autoboot.read_text())
        chosen = trying if tryboot else default
        if not self.starts(chosen):              # hangs or panics: the hardware watchdog resets the board,
            self.power_on(chosen, tryboot)       # and the firmware starts [all] (tryboot is one-shot)
            chosen, tryboot = default, False
        self.power_on(chosen, tryboot)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("keys")
    (d / "trusted").mkdir()
    generate_key(d / "release.key", d / "trusted" / "release.pem")
    generate_key(d / "other.key", d / "other.pem")
    return {"release": d / "release.key", "other": d / "other.key", "trusted": d / "trusted"}


def make_bundle(path: Path, key: Path, *, release: str = "2026.12.1", boards: tuple[str, ...] = ("rpi4", "rpi5"),
                boot: bytes | None = None, root: bytes | None = None, sign_images: dict[str, bytes] | None = None) -> Path:
    boot = boot if boot is not None else f"BOOT {release}".encode().ljust(SLOT_BYTES // 2, b"b")
    root = root if root is not None else f"ROOT {release}".encode().ljust(SLOT_BYTES // 2, b"r")
    signed = sign_images or {"boot.vfat": boot, "root.ext4": root}
    manifest = json.dumps({"format": "linebox-update", "version": 1, "release": release, "boards": list(boards),
                           "data_schema": 1,
                           "images": {n: {"file": f, "size": len(signed[f]), "sha256": hashlib.sha256(signed[f]).hexdigest()}
                                      for n, f in (("boot", "boot.vfat"), ("root", "root.ext4"))}}).encode()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in (("bundle.json", manifest), ("bundle.json.sig", sign(manifest, key)),
                           ("boot.vfat", boot), ("root.ext4", root)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def updater(pi: SimulatedPi, keys: dict[str, Path], tmp_path: Path, backups: list[str] | None = None) -> Updater:
    return Updater(pi.env, tmp_path / "data" / "update" / "state.json", keys["trusted"], "rpi5",
                   backup=(lambda: backups.append("backup")) if backups is not None else None)


def healthy() -> HealthReport:
    ok, detail = simulated_call_selftest()            # the real self-test call on the simulated board
    return HealthReport({"engine": (True, "answered api.ping"), "web": (True, "HTTPS 200"), "selftest": (ok, detail)})


def test_good_update_is_tried_checked_and_committed(keys: dict[str, Path], tmp_path: Path) -> None:
    pi = SimulatedPi(tmp_path / "pi")
    backups: list[str] = []
    up = updater(pi, keys, tmp_path, backups)
    running_boot, running_root = pi.dev(2).read_bytes(), pi.dev(5).read_bytes()
    bundle = up.stage(make_bundle(tmp_path / "u.bundle", keys["release"]))
    assert bundle.release == "2026.12.1" and up.state.phase == "staged" and up.state.target == "B"
    assert pi.dev(3).read_bytes().startswith(b"BOOT 2026.12.1") and pi.dev(6).read_bytes().startswith(b"ROOT 2026")
    assert (pi.dev(2).read_bytes(), pi.dev(5).read_bytes()) == (running_boot, running_root)

    up.install()
    assert backups == ["backup"]                            # data backed up before the new release runs
    assert pi.boots[-1] == (3, True)                        # tried once with tryboot
    assert pi.env.default_slot() == "A"                     # not committed yet: any reset goes back
    assert up.check_after_boot(healthy) == "commit"
    assert pi.env.default_slot() == "B" and up.state.phase == "committed"
    pi.reboot(False)
    assert pi.boots[-1] == (3, False)                       # B from now on
    assert up.check_after_boot(healthy) == "nothing"


def test_unhealthy_release_rolls_back_by_itself(keys: dict[str, Path], tmp_path: Path) -> None:
    pi = SimulatedPi(tmp_path / "pi")
    up = updater(pi, keys, tmp_path)
    up.stage(make_bundle(tmp_path / "u.bundle", keys["release"]))
    up.install()

    def sick() -> HealthReport:
        return HealthReport({"engine": (True, "ok"), "web": (False, "no answer on https://localhost/ in 60 s"),
                             "selftest": (True, "ok")})
    assert up.check_after_boot(sick) == "rollback"
    assert pi.boots[-1] == (2, False)                       # back on A
    assert pi.env.default_slot() == "A"
    state = up.state
    assert state.phase == "rolled_back" and "web: no answer" in state.reason
    assert up.check_after_boot(healthy) == "nothing"        # the old slot runs on, nothing more to do


def test_release_that_does_not_start_falls_back(keys: dict[str, Path], tmp_path: Path) -> None:
    pi = SimulatedPi(tmp_path / "pi")
    up = updater(pi, keys, tmp_path)
    # signed and intact, but its boot slot does not start (a kernel that panics)
    up.stage(make_bundle(tmp_path / "u.bundle", keys["release"], boot=b"PANIC".ljust(1000, b"x")))
    up.install()
    assert pi.boots[-2:] == [(3, True), (2, False)]         # tried, reset by the watchdog, back on A
    assert up.check_after_boot(healthy) == "fell_back"
    assert up.state.phase == "rolled_back" and "did not start" in up.state.reason
    assert pi.env.default_slot() == "A"


def test_install_refused_where_the_kernel_cannot_ask_for_tryboot(keys: dict[str, Path], tmp_path: Path) -> None:
    """Debian's kernel alone: `reboot "0 tryboot"` would restart the old slot (the firmware never sees
    the flag). The install is refused with the reason before anything changes; with the
    linebox-tryboot module loaded the same staged release is tried and committed."""
    pi = SimulatedPi(tmp_path / "pi", kernel_release="6.1.0-57-arm64")
    backups: list[str] = []
    up = updater(pi, keys, tmp_path, backups)
    up.stage(make_bundle(tmp_path / "u.bundle", keys["release"]))
    autoboot_before, boots_before = pi.env.autoboot.read_text(), list(pi.boots)
    with pytest.raises(TrybootUnavailable) as err:
        up.install()
    assert "cannot ask the Raspberry Pi firmware for a one-time boot" in str(err.value)
    assert "6.1.0-57-arm64" in str(err.value) and "linebox-tryboot module" in str(err.value)
    assert "were not changed" in str(err.value)
    assert pi.env.autoboot.read_text() == autoboot_before and pi.boots == boots_before
    assert backups == [] and up.state.phase == "staged" and up.state.target == "B"

    (pi.root / "sys" / "module" / "linebox_tryboot").mkdir(parents=True)     # the module loaded at boot
    up.install()
    assert backups == ["backup"] and pi.boots[-1] == (3, True)
    assert up.check_after_boot(healthy) == "commit" and pi.env.default_slot() == "B"


@pytest.mark.parametrize("board, release, module, ok", [
    ("rpi4", "6.1.0-57-arm64", False, False),          # Debian's kernel alone
    ("rpi4", "6.1.0-57-arm64", True, True),            # with linebox-tryboot loaded
    ("rpi5", "6.6.51+rpt-rpi-2712", False, True),      # Raspberry Pi's kernels set the flag themselves
    ("rpi4", "6.6.51+rpt-rpi-v8", False, True),
    ("rpi4", "6.1.0-57-rpiish-arm64", False, False),
    ("qemu-virt", "6.1.0-57-arm64", False, True),      # the boot test plays the firmware from the console
    ("unknown", "6.6.51+rpt-rpi-v8", True, False),
])
def test_which_kernels_can_ask_for_tryboot(board: str, release: str, module: bool, ok: bool, tmp_path: Path) -> None:
    if module:
        (tmp_path / "linebox_tryboot").mkdir()
    assert (kernel_tryboot_unavailable(board, tmp_path, release) is None) is ok


@pytest.mark.parametrize("case, reason", [
    ("wrong key", "signature does not match any trusted"),
    ("truncated", "truncated"),
    ("other board", "not for this board (rpi5)"),
    ("tampered image", "does not match its signed checksum"),
    ("not a bundle", "not a Linebox update bundle"),
    ("edited manifest", "signature does not match"),
])
def test_bad_bundles_are_refused_and_the_running_slot_is_untouched(case: str, reason: str, keys: dict[str, Path],
                                                                    tmp_path: Path) -> None:
    pi = SimulatedPi(tmp_path / "pi")
    up = updater(pi, keys, tmp_path)
    before = {n: pi.dev(n).read_bytes() for n in (2, 5)}
    path = tmp_path / "bad.bundle"
    if case == "wrong key":
        make_bundle(path, keys["other"])
    elif case == "truncated":
        full = make_bundle(tmp_path / "full.bundle", keys["release"]).read_bytes()
        path.write_bytes(full[: len(full) - 40000])   # into the root image
    elif case == "other board":
        make_bundle(path, keys["release"], boards=("rpi3",))
    elif case == "tampered image":
        good = b"BOOT 2026.12.1".ljust(SLOT_BYTES // 2, b"b")
        make_bundle(path, keys["release"], boot=good[:-1] + b"X",
                    sign_images={"boot.vfat": good, "root.ext4": b"ROOT".ljust(SLOT_BYTES // 2, b"r")},
                    root=b"ROOT".ljust(SLOT_BYTES // 2, b"r"))
    elif case == "not a bundle":
        path.write_bytes(b"\x89PNG not an update at all" * 100)
    elif case == "edited manifest":
        raw = make_bundle(tmp_path / "full.bundle", keys["release"]).read_bytes()
        path.write_bytes(raw.replace(b'"rpi4", "rpi5"', b'"rpi5", "rpi4"', 1))
    with pytest.raises(BundleRefused) as err:
        up.stage(path)
    assert reason in str(err.value)
    assert "running system was not changed" in str(err.value)
    assert {n: pi.dev(n).read_bytes() for n in (2, 5)} == before
    assert up.state.phase == "idle"
    assert not pi.starts(3)                                  # nothing bootable left in the inactive slot
    with pytest.raises(RuntimeError):
        up.install()


def test_release_tool_bundle_is_accepted(keys: dict[str, Path], tmp_path: Path) -> None:
    """firmware.update.make_bundle (the release side) makes what the appliance accepts."""
    import subprocess
    import sys
    boot, root = tmp_path / "boot.vfat", tmp_path / "root.ext4"
    boot.write_bytes(b"BOOT 2027.1".ljust(SLOT_BYTES // 2, b"b"))
    root.write_bytes(b"ROOT 2027.1".ljust(SLOT_BYTES // 2, b"r"))
    out = tmp_path / "rel.bundle"
    subprocess.run([sys.executable, "-m", "firmware.update.make_bundle", "--key", str(keys["release"]),
                    "--release", "2027.1", str(boot), str(root), "-o", str(out)], check=True, capture_output=True)
    pi = SimulatedPi(tmp_path / "pi")
    assert updater(pi, keys, tmp_path).stage(out).release == "2027.1"
    assert pi.dev(3).read_bytes().startswith(b"BOOT 2027.1") and pi.dev(6).read_bytes().startswith(b"ROOT 2027.1")


def test_board_detected_from_the_device_tree_model() -> None:
    from firmware.update.site import board_of_model
    assert board_of_model("Raspberry Pi 5 Model B Rev 1.0") == "rpi5"
    assert board_of_model("Raspberry Pi 4 Model B Rev 1.5") == "rpi4"
    assert board_of_model("Raspberry Pi Compute Module 4 Rev 1.1") == "rpi4"
    assert board_of_model("Raspberry Pi 3 Model B Plus Rev 1.3") == "unknown"
    assert board_of_model("linux,dummy-virt") == "qemu-virt"


def test_installs_only_without_calls_and_in_the_owner_window() -> None:
    night = dt.datetime(2026, 12, 3, 2, 30)
    day = dt.datetime(2026, 12, 3, 14, 0)
    assert may_install_now(1, night, "02:00-04:00", owner_now=True)[0] is False     # never cuts a call
    assert "1 call(s) or phone(s) in use" in may_install_now(1, night, "02:00-04:00", owner_now=True)[1]
    assert may_install_now(0, night, "02:00-04:00", owner_now=False) == (True, "")
    assert may_install_now(0, day, "02:00-04:00", owner_now=False)[0] is False
    assert may_install_now(0, day, None, owner_now=True) == (True, "")
    assert in_window(dt.time(23, 30), "23:00-01:00") and in_window(dt.time(0, 30), "23:00-01:00")
    assert not in_window(dt.time(1, 0), "23:00-01:00")
    with pytest.raises(ValueError):
        in_window(dt.time(1, 0), "25:00-01:00")
