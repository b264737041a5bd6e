"""image/layout.json -> the genimage configuration and the boot files that depend on the layout.

    python image/genimage_config.py OUT_DIR [FRAGMENTS PI_KERNEL]
        # writes OUT_DIR/genimage.cfg, autoboot.txt, cmdline-A.txt, cmdline-B.txt and, given the
        # HATs' config.txt fragments and the kernel choice (PI_KERNELS), config.txt

Kept apart from build.sh so the CI can check the layout cheaply (tests/image/test_image_recipe.py):
the slots here are the slots firmware/update/slots.py switches between.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DISK_ID = "0x4c696e65"          # fixed MBR disk id ("Line"): PARTUUIDs are <id>-<nn>, reproducible


def load_layout(path: Path = HERE / "layout.json") -> dict:
    return json.loads(Path(path).read_text())


def partuuid(number: int) -> str:
    return f"{DISK_ID[2:]}-{number:02d}"


def cmdline(layout: dict, slot: str) -> str:
    root = layout["slots"][slot]["root"]
    return (f"console=serial0,115200 console=tty1 root=PARTUUID={partuuid(root)} rootfstype=ext4 ro "
            f"rootwait fsck.repair=yes linebox.slot={slot} quiet\n")


def autoboot(layout: dict) -> str:
    a, b = layout["slots"]["A"]["boot"], layout["slots"]["B"]["boot"]
    return f"[all]\ntryboot_a_b=1\nboot_partition={a}\n[tryboot]\nboot_partition={b}\n"


# Which kernel each Pi boots (config.txt conditional sections; the Pi 4/5 firmware reads [pi4]/[pi5]).
#   "debian":       Debian's linux-image-arm64 (6.1 in bookworm) for every board. It boots a Pi 4, and
#                   the qemu boot test, but it has no BCM2712/RP1 support (no Pi 5) and no driver for the
#                   firmware's one-shot reboot flag: `reboot "0 tryboot"` never reaches the Pi firmware,
#                   so an update is never tried on real hardware (image/README.md, "Kernels").
#   "raspberrypi":  Raspberry Pi's kernels (linux-image-rpi-v8 for the Pi 4, linux-image-rpi-2712 for
#                   the Pi 5, from archive.raspberrypi.com): RP1 (Ethernet, the 40-pin header's GPIO and
#                   SPI on the Pi 5) and the tryboot reboot flag. Debian's kernel stays in the image for
#                   the qemu boot test (`vmlinuz`), the Pis never load it.
PI_KERNELS: dict[str, dict[str, tuple[str, str | None]]] = {
    "debian": {"pi4": ("vmlinuz", "initrd.img")},
    # Raspberry Pi's kernels have the SD card, ext4 and the root's PARTUUID lookup built in: no initramfs
    "raspberrypi": {"pi4": ("kernel8.img", None), "pi5": ("kernel_2712.img", None)},
}


def config_txt(fragments: str, pi_kernel: str = "debian") -> str:
    """/boot/firmware/config.txt of a slot: each board's kernel and initramfs, then what every board
    shares ([all]: 64-bit, the UART console, the reference HATs' fragments from board/overlays)."""
    if pi_kernel not in PI_KERNELS:
        raise ValueError(f"PI_KERNEL={pi_kernel!r}: use one of {sorted(PI_KERNELS)}")
    out = ["# Linebox: written by image/genimage_config.py (the same file in both slots)"]
    for board, (kernel, initramfs) in PI_KERNELS[pi_kernel].items():
        out += [f"[{board}]", f"kernel={kernel}"] + ([f"initramfs {initramfs} followkernel"] if initramfs else [])
    out += ["[all]", "arm_64bit=1", "enable_uart=1", fragments.strip(), ""]
    return "\n".join(out)


def genimage_cfg(layout: dict, images: dict[str, str]) -> str:
    """`images`: partition name -> image file (selector.vfat, bootA.vfat, rootA.ext4, ...)."""
    parts = []
    # genimage numbers MBR partitions in order; with extended-partition = 4 the fourth listed and
    # later ones become logical partitions 5, 6, 7 inside the extended container 4.
    for p in layout["partitions"]:
        ptype = "0x0c" if p["fs"] == "vfat" else "0x83"
        image = f'        image = "{images[p["name"]]}"\n' if p["name"] in images else ""
        parts.append(f'    partition {p["name"]} {{\n        partition-type = {ptype}\n{image}'
                     f'        size = {p["mib"]}M\n    }}\n')
    return ('image linebox.img {\n    hdimage {\n        partition-table-type = "mbr"\n        align = 4M\n'
            f'        disk-signature = {DISK_ID}\n        extended-partition = 4\n    }}\n' + "".join(parts) + "}\n")


def main(out: Path, fragments: str | None = None, pi_kernel: str = "debian") -> None:
    layout = load_layout()
    out.mkdir(parents=True, exist_ok=True)
    images = {"selector": "selector.vfat", "bootA": "bootA.vfat", "bootB": "bootB.vfat", "rootA": "rootA.ext4",
              "rootB": "rootB.ext4", "data": "data.ext4"}
    (out / "genimage.cfg").write_text(genimage_cfg(layout, images))
    (out / "autoboot.txt").write_text(autoboot(layout))
    for slot in ("A", "B"):
        (out / f"cmdline-{slot}.txt").write_text(cmdline(layout, slot))
    if fragments is not None:
        (out / "config.txt").write_text(config_txt(fragments, pi_kernel))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]).read_text() if len(sys.argv) > 2 else None,
         sys.argv[3] if len(sys.argv) > 3 else "debian")
