"""CI smoke test of the arm64 root file system (issue 14): the suite **builds** a root with the image
recipe itself (`image/build.sh` with ROOT_ONLY=1, what `make image-root` runs: the same Debian base,
Linebox's venv and C extensions compiled under qemu-user, units, system users and read-only-root
layout as `make image`, without the kernel, the Pi and wifi firmware, the tryboot module, the
initramfs and the card; see image/README.md, "CI smoke build"), loop-mounts its root A file system
**read-only**, as on the appliance, and runs inside it under qemu-user (binfmt_misc):
`linebox --version` names the version of the commit built, and the health check's self-test call
(201 -> 202 on the built-in simulated board, a 1 kHz tone measured at the far phone, simulated time)
passes with the arm64 build of the DSP core, numpy and Python.

The same checks run on the root of a full `make image` (build/image, or LINEBOX_IMAGE_DIR) when one
is there; that case is skipped otherwise.

Needs root (the build chroots and the test loop-mounts); skipped only when not root. The build needs
the Debian mirror and PyPI: when they cannot be reached, or the build fails in any other way, the
test **fails** with the build's last lines (CI must not go green without the root). Downloaded .debs
and the Debian base live in a folder under build/ for this run only and are removed afterwards."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FULL_IMAGE_DIR = Path(os.environ.get("LINEBOX_IMAGE_DIR", REPO / "build" / "image"))
BUILD_LIMIT_S = 1800        # the build alone; ~10 min on an idle 2-core machine (image/README.md)

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="building and loop-mounting a root needs root (CI runs as root)")


def _version_at_head() -> str:
    setup = subprocess.run(["git", "-C", str(REPO), "show", "HEAD:setup.py"], check=True,
                           capture_output=True, text=True).stdout
    return re.search(r'version="([^"]+)"', setup).group(1)


def build_root_only(work: Path) -> Path:
    """`ROOT_ONLY=1 sh image/build.sh` into `work` (a fresh .deb cache and base: as in CI); its root A."""
    out = work / "image-root"
    (work / "tmp").mkdir()          # mmdebstrap's chroot for the base: here too, not in /tmp
    (work / "tmp").chmod(0o1777)    # as /tmp (and `work` 0755): apt's _apt user downloads into it
    env = {**os.environ, "ROOT_ONLY": "1", "OUT": str(out), "DEB_CACHE": str(work / "debs"),
           "BASE_DIR": str(work / "base"), "BASE_CACHE": "0", "DEVKEY": str(work / "dev-release-key"),
           "TMPDIR": str(work / "tmp")}
    log = work / "build.log"
    with log.open("wb") as f:
        proc = subprocess.Popen(["sh", str(REPO / "image" / "build.sh")], env=env, stdout=f,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(BUILD_LIMIT_S)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            if proc.poll() is None:         # past the limit, or the test interrupted: stop it all
                os.killpg(proc.pid, signal.SIGTERM)          # build.sh's trap unmounts its chroot
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    if rc != 0:
        kept = shutil.copy(log, REPO / "build" / "root-build-failed.log")     # the folder goes
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        why = f"did not finish within {BUILD_LIMIT_S} s" if rc is None else f"failed (exit {rc})"
        pytest.fail(f"the CI root build (ROOT_ONLY=1 sh image/build.sh) {why}; whole log: {kept}; "
                    f"its last lines:\n{tail}", pytrace=False)
    return out / "work" / "rootA.ext4"


def remove_build_folder(work: Path) -> None:
    """Remove the build's folder, never through a mount left in it (a build killed inside its chroot
    leaves the host's /dev bound there: rmtree would delete the host's device nodes)."""
    def mounts_in_it() -> list[str]:
        points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        return sorted((p for p in points if p.startswith(f"{work}/")), reverse=True)

    for point in mounts_in_it():
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    left = mounts_in_it()
    if left:
        pytest.fail(f"{work} kept: still mounted in it: {left}", pytrace=False)
    shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def mounted_read_only(root_fs: Path, at: Path) -> Iterator[Path]:
    """root_fs loop-mounted read-only at `at`, with /proc, /dev and tmpfs /tmp and /run, as it runs."""
    mounted: list[Path] = []

    def mount(*args: str, on: Path) -> None:
        subprocess.run(["mount", *args, str(on)], check=True, capture_output=True)
        mounted.append(on)

    at.mkdir(exist_ok=True)
    try:
        mount("-o", "ro,loop", str(root_fs), on=at)
        mount("-t", "proc", "proc", on=at / "proc")
        mount("--bind", "/dev", on=at / "dev")
        mount("-t", "tmpfs", "tmpfs", on=at / "tmp")        # the appliance's /tmp is a tmpfs too
        mount("-t", "tmpfs", "tmpfs", on=at / "run")
        yield at
    finally:
        for m in reversed(mounted):
            subprocess.run(["umount", str(m)], check=False, capture_output=True)


def in_root(root: Path, *cmd: str, timeout: float = 900) -> str:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
    out = subprocess.run(["chroot", str(root), *cmd], env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{cmd} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def files_under(folder: Path) -> list[Path]:
    """Regular files below `folder` (symlinks not followed: update-alternatives' links are not files)."""
    return [Path(d) / n for d, _, names in os.walk(folder) for n in names
            if not (Path(d) / n).is_symlink() and (Path(d) / n).is_file()]


def check_root_runs_linebox(root_fs: Path, version: str, mount_at: Path) -> None:
    """The checks, on a root built either way: arm64 and read-only, laid out as the appliance,
    `linebox --version`, and the self-test call on the simulated board."""
    with mounted_read_only(root_fs, mount_at) as root:
        assert in_root(root, "uname", "-m").strip() == "aarch64"            # emulated: qemu-user
        assert subprocess.run(["touch", str(root / "opt" / "x")], capture_output=True).returncode != 0
        assert in_root(root, "getent", "passwd", "linebox-web").startswith("linebox-web:")   # sysusers
        for unit in ("linebox-engine.service", "linebox-web.service", "linebox-firstboot.service",
                     "linebox-update-check.service", "linebox-update-auto.timer"):
            assert in_root(root, "systemctl", "is-enabled", unit).strip() == "enabled", unit
        assert not (root / "usr" / "bin" / "gcc").exists()            # compilers purged after the venv
        assert list((root / "etc" / "linebox" / "update-keys").glob("*.pem"))
        seed = root / "var" / "lib" / "systemd" / "random-seed"       # kept on the data partition
        assert seed.is_symlink() and os.readlink(seed) == "/var/lib/linebox/system/random-seed"
        assert (root / "etc" / "systemd" / "system" / "systemd-random-seed.service.d" / "linebox.conf").is_file()
        # no documentation but every package's licence (image/rootfs/dpkg-nodoc.cfg)
        no_licence = in_root(root, "sh", "-c", 'for p in $(dpkg-query -W -f "\\${Package}\\n"); do '
                             '[ -s "/usr/share/doc/$p/copyright" ] || echo "$p"; done').split()
        assert not no_licence, f"packages without /usr/share/doc/<package>/copyright: {no_licence}"
        docs = [f for top in ("usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/doc")
                for f in files_under(root / top)
                if f.name != "copyright" and f not in (root / "usr/share/locale/locale.alias",
                                                       root / "usr/share/info/dir")]   # install-info's (empty) index
        assert not docs, f"{len(docs)} documentation files in the root, e.g. {docs[:3]}"

        assert in_root(root, "/opt/linebox/.venv/bin/linebox", "--version").strip() == f"linebox {version}"

        out = in_root(root, "/opt/linebox/.venv/bin/python", "-c",
                      "import platform, dsp_ext\n"
                      "from firmware.update.selftest import simulated_call_selftest\n"
                      "ok, why = simulated_call_selftest()\n"
                      "print(platform.machine(), dsp_ext.__file__)\n"
                      "print(ok, why)\n")
        machine_line, result = out.strip().splitlines()[-2:]
        assert machine_line.startswith("aarch64 /opt/linebox/.venv/")
        assert result.startswith("True call placed and answered; 1000 Hz tone heard"), out


@pytest.mark.slow           # handed out first (tests/conftest.py: IMAGE_ROOT_BUILD)
@pytest.mark.timeout(BUILD_LIMIT_S + 600)
def test_root_built_in_ci_runs_linebox(tmp_path: Path) -> None:
    (REPO / "build").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="test-root-", dir=REPO / "build"))    # on disk: /tmp may be small
    work.chmod(0o755)
    try:
        root_fs = build_root_only(work)
        shutil.rmtree(work / "base")            # the base tarball (~1 GB) is not needed any more
        check_root_runs_linebox(root_fs, _version_at_head(), tmp_path / "root")
    finally:
        remove_build_folder(work)


def test_root_of_make_image_runs_linebox(tmp_path: Path) -> None:
    root_fs = FULL_IMAGE_DIR / "work" / "rootA.ext4"
    images = sorted(FULL_IMAGE_DIR.glob("linebox-*-arm64.img"))
    if not root_fs.is_file() or not images:
        pytest.skip(f"no `make image` build in {FULL_IMAGE_DIR}")
    version = re.fullmatch(r"linebox-(.+)-arm64\.img", images[-1].name).group(1)
    check_root_runs_linebox(root_fs, version, tmp_path / "root")
