"""A bundle carries one boot image for both slots: written to slot B, its cmdline.txt is pointed at
root B inside the real FAT file system (mtools, as on the appliance), and a boot image that is not a
Linebox one is refused."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.update.slots import SlotLayout, cmdline_for_slot, disk_partition, fat_cmdline_rewrite

IMAGE = Path(__file__).resolve().parents[2] / "image"
sys.path.insert(0, str(IMAGE))
import genimage_config  # noqa: E402


def test_cmdline_points_each_slot_at_its_own_root() -> None:
    layout = genimage_config.load_layout()
    a = genimage_config.cmdline(layout, "A")
    b = cmdline_for_slot(a, "B", SlotLayout())
    assert b == genimage_config.cmdline(layout, "B")
    assert cmdline_for_slot(b, "A", SlotLayout()) == a
    with pytest.raises(ValueError, match="not a Linebox boot image"):
        cmdline_for_slot("console=tty1 root=/dev/sda2", "B", SlotLayout())
    assert disk_partition("/dev/mmcblk0", 5) == Path("/dev/mmcblk0p5")
    assert disk_partition("/dev/vda", 6) == Path("/dev/vda6")


@pytest.mark.skipif(not (shutil.which("mkfs.vfat") and shutil.which("mcopy")), reason="dosfstools/mtools missing")
def test_fat_boot_image_rewritten_in_place(tmp_path: Path) -> None:
    layout = genimage_config.load_layout()
    boot = tmp_path / "bootB.vfat"
    subprocess.run(["mkfs.vfat", "-C", str(boot), "8192"], check=True, capture_output=True)
    (tmp_path / "cmdline.txt").write_text(genimage_config.cmdline(layout, "A"))
    (tmp_path / "config.txt").write_text("arm_64bit=1\n")
    subprocess.run(["mcopy", "-i", str(boot), str(tmp_path / "cmdline.txt"), str(tmp_path / "config.txt"), "::"],
                   check=True)
    fat_cmdline_rewrite(boot, "B", SlotLayout())
    read = subprocess.run(["mtype", "-i", str(boot), "::cmdline.txt"], capture_output=True, text=True, check=True).stdout
    assert read == genimage_config.cmdline(layout, "B")
    assert "root=PARTUUID=4c696e65-06" in read and "linebox.slot=B" in read
    assert subprocess.run(["mtype", "-i", str(boot), "::config.txt"], capture_output=True, text=True,
                          check=True).stdout == "arm_64bit=1\n"
