"""CI smoke test of the built root file system (issue 14): the arm64 root that `make image` made
(build/image/work/rootA.ext4, kept next to the card image) is loop-mounted **read-only**, as on the
appliance, and run under qemu-user (binfmt_misc): `linebox --version` names the image's version and
the health check's self-test call (201 -> 202 on the built-in simulated board, a 1 kHz tone measured
at the far phone, simulated time) passes with the arm64 build of the DSP core, numpy and Python.

Skipped unless such a root exists (the build takes over an hour under emulation: it is not part of
the suite's time) and the test runs as root with qemu-aarch64 registered (image/host-deps.sh build).
LINEBOX_IMAGE_DIR points at another build's output folder."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGE_DIR = Path(os.environ.get("LINEBOX_IMAGE_DIR", REPO / "build" / "image"))
ROOT_FS = IMAGE_DIR / "work" / "rootA.ext4"
BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")

pytestmark = [
    pytest.mark.skipif(not ROOT_FS.is_file(), reason=f"no built root ({ROOT_FS}): run `make image` first"),
    pytest.mark.skipif(os.geteuid() != 0, reason="loop-mounting the root needs root"),
    pytest.mark.skipif(not BINFMT.is_file() or not BINFMT.read_text().startswith("enabled"),
                       reason="qemu-aarch64 is not registered with binfmt_misc (image/host-deps.sh build)"),
]


@pytest.fixture(scope="module")
def arm64_root(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("arm64-root")
    mounted: list[Path] = []

    def mount(*args: str, at: Path) -> None:
        subprocess.run(["mount", *args, str(at)], check=True, capture_output=True)
        mounted.append(at)

    try:
        mount("-o", "ro,loop", str(ROOT_FS), at=root)
        mount("-t", "proc", "proc", at=root / "proc")
        mount("--bind", "/dev", at=root / "dev")
        mount("-t", "tmpfs", "tmpfs", at=root / "tmp")        # the appliance's /tmp is a tmpfs too
        mount("-t", "tmpfs", "tmpfs", at=root / "run")
        yield root
    finally:
        for m in reversed(mounted):
            subprocess.run(["umount", str(m)], check=False, capture_output=True)


def in_root(root: Path, *cmd: str, timeout: float = 900) -> str:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
    out = subprocess.run(["chroot", str(root), *cmd], env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{cmd} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def test_the_root_is_arm64_and_read_only(arm64_root: Path) -> None:
    assert in_root(arm64_root, "uname", "-m").strip() == "aarch64"          # emulated: qemu-user
    assert subprocess.run(["touch", str(arm64_root / "opt" / "x")], capture_output=True).returncode != 0


def test_linebox_version_is_the_images(arm64_root: Path) -> None:
    images = sorted(IMAGE_DIR.glob("linebox-*-arm64.img"))
    assert images, f"no card image next to {ROOT_FS}"
    version = re.fullmatch(r"linebox-(.+)-arm64\.img", images[-1].name).group(1)
    out = in_root(arm64_root, "/opt/linebox/.venv/bin/linebox", "--version")
    assert out.strip() == f"linebox {version}"


def test_self_test_call_on_the_simulated_board(arm64_root: Path) -> None:
    out = in_root(arm64_root, "/opt/linebox/.venv/bin/python", "-c",
                  "import platform, dsp_ext\n"
                  "from firmware.update.selftest import simulated_call_selftest\n"
                  "ok, why = simulated_call_selftest()\n"
                  "print(platform.machine(), dsp_ext.__file__)\n"
                  "print(ok, why)\n")
    machine_line, result = out.strip().splitlines()[-2:]
    assert machine_line.startswith("aarch64 /opt/linebox/.venv/")
    assert result.startswith("True call placed and answered; 1000 Hz tone heard"), out
