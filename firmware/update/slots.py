"""A/B slots on the Raspberry Pi with the firmware's tryboot (Pi 4 and 5).

SD card layout (image/layout.json): p1 `selector` (FAT, holds autoboot.txt), p2/p3 boot A/B (FAT),
p5/p6 root A/B (ext4, mounted read-only), p7 data (ext4, /var/lib/linebox). Each boot slot's
cmdline.txt names its own root (`root=PARTUUID=...-05` or `-06`).

autoboot.txt says which boot partition the firmware starts:

    [all]
    tryboot_a_b=1
    boot_partition=2
    [tryboot]
    boot_partition=3

`reboot "0 tryboot"` makes the firmware use the [tryboot] section once; any later reset (a crash,
the hardware watchdog, a power cut) starts [all] again: the old slot. The running system reads
which partition it came from and whether it was a tryboot from the device tree
(/proc/device-tree/chosen/bootloader/partition and .../tryboot, 32-bit big-endian).
Committing rewrites autoboot.txt (atomic replace on the FAT selector) so [all] names the new slot.
"""
from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write


@dataclass(frozen=True)
class SlotLayout:
    boot: dict[str, int] = field(default_factory=lambda: {"A": 2, "B": 3})
    root: dict[str, int] = field(default_factory=lambda: {"A": 5, "B": 6})

    def slot_of_boot(self, partition: int) -> str | None:
        return next((s for s, p in self.boot.items() if p == partition), None)

    def other(self, slot: str) -> str:
        return "B" if slot == "A" else "A"


class TrybootUnavailable(RuntimeError):
    """The running kernel cannot ask the firmware for a one-time boot of the other slot: an install
    would restart into the running slot, and its boot-time check would find the update never tried."""


TRYBOOT_MODULE = "linebox_tryboot"          # image/tryboot/linebox-tryboot.c, as /sys/module names it


def kernel_tryboot_unavailable(board: str, sys_module: Path = Path("/sys/module"),
                               kernel_release: str | None = None) -> str | None:
    """None when `reboot "0 tryboot"` reaches this board's firmware, else why not (for the owner).

    * qemu-virt (image/boot-test.sh): the boot test plays the firmware and reads the kernel's
      restart command from the console, so any kernel will do.
    * rpi4/rpi5: Raspberry Pi's kernels (release `...+rpt-rpi-v8`, `...-rpi-2712`) set the firmware's
      reboot flag in their own firmware driver; Debian's kernel does not, and needs the image's
      linebox-tryboot module, which loads only where the firmware answered for its reboot flags."""
    if board == "qemu-virt":
        return None
    if board not in ("rpi4", "rpi5"):
        return f"this board ({board}) is not a Raspberry Pi 4 or 5 with tryboot"
    release = kernel_release if kernel_release is not None else os.uname().release
    if re.search(r"(^|[-+])rpi(-|$)|\+rpt", release) or (sys_module / TRYBOOT_MODULE).is_dir():
        return None
    return (f"the running kernel ({release}) cannot ask the Raspberry Pi firmware for a one-time boot "
            f"of the new slot (Debian's kernel without the linebox-tryboot module loaded)")


@dataclass(frozen=True)
class BootInfo:
    partition: int
    tryboot: bool


def autoboot_text(default_boot: int, try_boot: int) -> str:
    return f"[all]\ntryboot_a_b=1\nboot_partition={default_boot}\n[tryboot]\nboot_partition={try_boot}\n"


def parse_autoboot(text: str) -> tuple[int, int]:
    """(default boot partition, tryboot boot partition) from autoboot.txt."""
    section, default, trying = "all", None, None
    for line in text.splitlines():
        line = line.strip()
        if m := re.fullmatch(r"\[(\w+)\]", line):
            section = m.group(1)
        elif m := re.fullmatch(r"boot_partition=(\d+)", line):
            if section == "all":
                default = int(m.group(1))
            elif section == "tryboot":
                trying = int(m.group(1))
    if default is None or trying is None:
        raise ValueError("autoboot.txt does not name both boot partitions")
    return default, trying


ROOT_ARG_RE = re.compile(r"root=PARTUUID=([0-9a-f]{8})-(\d{2})")
SLOT_ARG_RE = re.compile(r"linebox\.slot=[AB]")


def cmdline_for_slot(cmdline: str, slot: str, layout: SlotLayout) -> str:
    """A boot slot's cmdline.txt pointed at `slot`'s own root (a bundle carries one boot image for
    both slots; written to B, its cmdline must name root B)."""
    if not ROOT_ARG_RE.search(cmdline) or not SLOT_ARG_RE.search(cmdline):
        raise ValueError("cmdline.txt has no root=PARTUUID=...-NN and linebox.slot=: not a Linebox boot image")
    cmdline = ROOT_ARG_RE.sub(lambda m: f"root=PARTUUID={m.group(1)}-{layout.root[slot]:02d}", cmdline)
    return SLOT_ARG_RE.sub(f"linebox.slot={slot}", cmdline)


def fat_cmdline_rewrite(device: Path, slot: str, layout: SlotLayout) -> None:
    """Rewrite cmdline.txt inside the FAT file system on `device` (mtools: no mount needed)."""
    image = f"{device}"
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}           # a partition has no disk geometry to check
    old = subprocess.run(["mtype", "-i", image, "::cmdline.txt"], capture_output=True, text=True, check=True,
                         timeout=60, env=env).stdout
    new = cmdline_for_slot(old, slot, layout)
    with tempfile.TemporaryDirectory(prefix="linebox-cmdline-") as tmp:
        path = Path(tmp) / "cmdline.txt"
        path.write_text(new)
        subprocess.run(["mcopy", "-o", "-i", image, str(path), "::cmdline.txt"], capture_output=True, check=True,
                       timeout=60, env=env)
    with open(device, "rb+") as f:
        os.fsync(f.fileno())


def disk_partition(disk: str, number: int) -> Path:
    """/dev/mmcblk0 + 5 -> /dev/mmcblk0p5; /dev/vda + 5 -> /dev/vda5 (kernel naming)."""
    return Path(f"{disk}p{number}" if disk[-1].isdigit() else f"{disk}{number}")


def disk_of_root() -> str:
    """The disk the running root lives on (/dev/mmcblk0 on an SD card, /dev/sda on USB boot,
    /dev/vda under qemu), from the root file system's device number."""
    st = os.stat("/")
    part = Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}").resolve()
    return f"/dev/{part.parent.name}"


class BootEnvironment:
    """Where the slots and the boot selector are. On the appliance: /dev/mmcblk0pN,
    /boot/selector/autoboot.txt, /proc/device-tree/chosen/bootloader; in tests, a folder."""

    def __init__(self, autoboot: Path, device_of: Callable[[int], Path], bootloader_dir: Path,
                 reboot: Callable[[bool], None], layout: SlotLayout | None = None,
                 selector_writable: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
                 point_boot_at_root: Callable[[Path, str, SlotLayout], None] | None = fat_cmdline_rewrite,
                 tryboot_unavailable: Callable[[str], str | None] = kernel_tryboot_unavailable) -> None:
        self.autoboot = Path(autoboot)
        self.device_of = device_of
        self.bootloader_dir = Path(bootloader_dir)
        self.reboot = reboot                       # reboot(tryboot: bool)
        self.layout = layout or SlotLayout()
        self.selector_writable = selector_writable or contextlib.nullcontext
        self.point_boot_at_root = point_boot_at_root
        self.tryboot_unavailable = tryboot_unavailable      # (board) -> None, or why tryboot cannot work

    @classmethod
    def appliance(cls) -> BootEnvironment:
        import subprocess

        def reboot(tryboot: bool) -> None:
            subprocess.run(["systemctl", "reboot", "0 tryboot"] if tryboot else ["systemctl", "reboot"], check=True)

        @contextlib.contextmanager
        def selector_writable() -> Iterator[None]:
            """The selector FAT is mounted read-only; writable only while autoboot.txt is replaced."""
            subprocess.run(["mount", "-o", "remount,rw", "/boot/selector"], check=True, capture_output=True)
            try:
                yield
            finally:
                subprocess.run(["mount", "-o", "remount,ro", "/boot/selector"], check=True, capture_output=True)
        disk = disk_of_root()
        return cls(Path("/boot/selector/autoboot.txt"), lambda n: disk_partition(disk, n),
                   Path("/proc/device-tree/chosen/bootloader"), reboot, selector_writable=selector_writable)

    def booted(self) -> BootInfo:
        def u32(name: str) -> int:
            raw = (self.bootloader_dir / name).read_bytes()
            return int.from_bytes(raw[:4], "big") if len(raw) >= 4 else 0
        return BootInfo(u32("partition"), bool(u32("tryboot")))

    def active_slot(self) -> str:
        slot = self.layout.slot_of_boot(self.booted().partition)
        if slot is None:
            raise RuntimeError("the board did not start from a Linebox boot slot")
        return slot

    def inactive_slot(self) -> str:
        return self.layout.other(self.active_slot())

    def targets(self, slot: str) -> dict[str, Path]:
        return {"boot": self.device_of(self.layout.boot[slot]), "root": self.device_of(self.layout.root[slot])}

    def default_slot(self) -> str | None:
        default, _ = parse_autoboot(self.autoboot.read_text())
        return self.layout.slot_of_boot(default)

    def arm_tryboot(self, slot: str) -> None:
        """Point [tryboot] at `slot` and keep [all] on the running slot."""
        running = self.active_slot()
        with self.selector_writable():
            atomic_write(self.autoboot, autoboot_text(self.layout.boot[running], self.layout.boot[slot]).encode())

    def commit(self, slot: str) -> None:
        """Make `slot` the one the firmware starts from now on."""
        other = self.layout.other(slot)
        with self.selector_writable():
            atomic_write(self.autoboot, autoboot_text(self.layout.boot[slot], self.layout.boot[other]).encode())
