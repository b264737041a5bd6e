"""image/layout.json -> the genimage configuration and the boot files that depend on the layout.

    python image/genimage_config.py OUT_DIR      # writes OUT_DIR/genimage.cfg, autoboot.txt,
                                                  # cmdline-A.txt, cmdline-B.txt

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


def main(out: Path) -> None:
    layout = load_layout()
    out.mkdir(parents=True, exist_ok=True)
    images = {"selector": "selector.vfat", "bootA": "bootA.vfat", "bootB": "bootB.vfat", "rootA": "rootA.ext4",
              "rootB": "rootB.ext4", "data": "data.ext4"}
    (out / "genimage.cfg").write_text(genimage_cfg(layout, images))
    (out / "autoboot.txt").write_text(autoboot(layout))
    for slot in ("A", "B"):
        (out / f"cmdline-{slot}.txt").write_text(cmdline(layout, slot))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
