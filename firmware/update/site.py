"""Where this Linebox's update machinery is: the A/B boot environment (only when it runs from the
Linebox SD image on a Pi: the firmware's boot-partition property exists), the trusted keys and the
board name the image build wrote."""
from __future__ import annotations

from pathlib import Path

from .slots import BootEnvironment

BOOTLOADER_DT = Path("/proc/device-tree/chosen/bootloader/partition")
BOARD_FILE = Path("/etc/linebox/board")            # an override ("rpi4" / "rpi5"); normally detected
MODEL_DT = Path("/proc/device-tree/model")         # "Raspberry Pi 5 Model B Rev 1.0\0"
KEYS_DIR = Path("/etc/linebox/update-keys")
UPDATE_CA = Path("/etc/linebox/update-ca.pem")     # an installer's own update server's CA (optional)


def boot_environment() -> BootEnvironment | None:
    return BootEnvironment.appliance() if BOOTLOADER_DT.exists() else None


def board_of_model(model: str) -> str:
    if model == "linux,dummy-virt":                # qemu-system-aarch64 -M virt (image/boot-test.sh): only
        return "qemu-virt"                          # test bundles list this board, releases do not
    for n in ("5", "4"):
        if model.startswith(f"Raspberry Pi {n} ") or model.startswith(f"Raspberry Pi Compute Module {n}"):
            return f"rpi{n}"
    return "unknown"


def board() -> str:
    """The board name bundles list ("rpi4" / "rpi5"): one image serves both, so it is detected."""
    if BOARD_FILE.exists():
        return BOARD_FILE.read_text().strip()
    try:
        return board_of_model(MODEL_DT.read_bytes().rstrip(b"\0").decode("ascii", "replace"))
    except OSError:
        return "unknown"


def keys_dir() -> Path:
    return KEYS_DIR


def update_cafile() -> Path | None:
    """The CA that vouches for the update server: /etc/linebox/update-ca.pem when the installer put
    one in the image (a private update server), else None (the system's CAs, ca-certificates)."""
    return UPDATE_CA if UPDATE_CA.is_file() else None
