"""Where this Linebox's update machinery is: the A/B boot environment (only when it runs from the
Linebox SD image on a Pi: the firmware's boot-partition property exists), the trusted keys and the
board name the image build wrote."""
from __future__ import annotations

from pathlib import Path

from .slots import BootEnvironment

BOOTLOADER_DT = Path("/proc/device-tree/chosen/bootloader/partition")
BOARD_FILE = Path("/etc/linebox/board")            # "rpi4" / "rpi5", written by the image build
KEYS_DIR = Path("/etc/linebox/update-keys")


def boot_environment() -> BootEnvironment | None:
    return BootEnvironment.appliance() if BOOTLOADER_DT.exists() else None


def board() -> str:
    return BOARD_FILE.read_text().strip() if BOARD_FILE.exists() else "unknown"


def keys_dir() -> Path:
    return KEYS_DIR
