"""The image recipe, checked cheaply in the suite (the full build is `make image`): the card layout
agrees with the slots the updater switches between, the generated boot files point each slot at its
own read-only root, file system images built the recipe's way are byte-for-byte reproducible, the
SBOM is deterministic, the build script parses, and the first-boot TLS certificate is made once."""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware.tls import ensure_certificate, fingerprint
from firmware.update.slots import SlotLayout, parse_autoboot

IMAGE = Path(__file__).resolve().parents[2] / "image"
sys.path.insert(0, str(IMAGE))
import compare_builds  # noqa: E402
import ext4_times  # noqa: E402
import genimage_config  # noqa: E402
import sbom  # noqa: E402


def test_layout_matches_the_update_slots(tmp_path: Path) -> None:
    layout = genimage_config.load_layout()
    numbers = [p["number"] for p in layout["partitions"]]
    assert numbers == [1, 2, 3, 5, 6, 7]                       # MBR: 4 is the extended container
    slots = SlotLayout()
    assert {s: layout["slots"][s]["boot"] for s in "AB"} == slots.boot
    assert {s: layout["slots"][s]["root"] for s in "AB"} == slots.root
    by_number = {p["number"]: p for p in layout["partitions"]}
    for s in "AB":
        assert by_number[slots.boot[s]]["fs"] == "vfat" and by_number[slots.root[s]]["fs"] == "ext4"
        assert by_number[slots.root[s]]["mib"] == by_number[slots.root["A"]]["mib"]    # A and B alike
    assert by_number[7]["name"] == "data" and layout["mounts"]["/"] == "ro"

    genimage_config.main(tmp_path)
    assert parse_autoboot((tmp_path / "autoboot.txt").read_text()) == (slots.boot["A"], slots.boot["B"])
    for s in "AB":
        line = (tmp_path / f"cmdline-{s}.txt").read_text()
        assert f"root=PARTUUID={genimage_config.partuuid(slots.root[s])}" in line
        assert " ro " in line and f"linebox.slot={s}" in line
    cfg = (tmp_path / "genimage.cfg").read_text()
    for p in layout["partitions"]:
        assert re.search(rf"partition {p['name']} {{[^}}]*size = {p['mib']}M", cfg), p["name"]
    fstab = (IMAGE / "rootfs" / "fstab").read_text()
    assert re.search(r"LABEL=data\s+/var/lib/linebox\s+ext4", fstab)


@pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="e2fsprogs is not installed")
def test_root_filesystem_images_are_reproducible(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "opt" / "linebox").mkdir(parents=True)
    (tree / "opt" / "linebox" / "README").write_text("linebox\n")
    (tree / "etc").mkdir()
    (tree / "etc" / "fstab").write_text((IMAGE / "rootfs" / "fstab").read_text())
    epoch = "1764720000"
    env = {**os.environ, "E2FSPROGS_FAKE_TIME": epoch, "SOURCE_DATE_EPOCH": epoch}
    digests = []
    for n in range(2):
        if n:
            time.sleep(1.1)         # the second "build" a second later: ctimes/atimes would differ
        subprocess.run(["touch", "-h", "-d", f"@{epoch}", *map(str, tree.rglob("*")), str(tree)], check=True)
        out = tmp_path / f"root{n}.ext4"
        subprocess.run(["mkfs.ext4", "-q", "-L", "rootA", "-U", "4c696e65-0000-4000-8000-000000000005",
                        "-E", "hash_seed=4c696e65-0000-4000-8000-0000000000aa", "-d", str(tree), str(out), "8M"],
                       check=True, env=env, capture_output=True)
        ext4_times.fix_times(out, tree, int(epoch))      # as image/build.sh does after mkfs.ext4 -d
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_sbom_is_deterministic_spdx() -> None:
    lines = ["systemd 252.30-1~deb12u2 arm64", "python3 3.11.2-1+b1 arm64", "openssl 3.0.15-1~deb12u1 arm64",
             "python3 3.11.2-1+b1 arm64"]
    a = sbom.sbom(lines, "1.0", 1764720000)
    b = sbom.sbom(list(reversed(lines)), "1.0", 1764720000)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert a["spdxVersion"] == "SPDX-2.3" and a["creationInfo"]["created"] == "2025-12-03T00:00:00Z"
    assert [p["name"] for p in a["packages"]] == ["openssl", "python3", "systemd"]
    assert a["packages"][1]["externalRefs"][0]["referenceLocator"] == "pkg:deb/debian/python3@3.11.2-1+b1?arch=arm64"
    wanted = {ln.strip() for ln in (IMAGE / "packages.txt").read_text().splitlines() if ln and not ln.startswith("#")}
    assert {"openssl", "libspandsp2", "espeak-ng", "python3", "cloud-guest-utils"} <= wanted


def test_build_scripts_parse() -> None:
    for script in ("build.sh", "firstboot/firstboot.sh", "release.sh", "boot-test.sh"):
        subprocess.run(["sh", "-n", str(IMAGE / script)], check=True)


def test_first_boot_certificate_made_once_with_its_fingerprint(tmp_path: Path) -> None:
    fp = ensure_certificate(tmp_path / "tls")
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", fp)
    assert (tmp_path / "tls" / "key.pem").stat().st_mode & 0o777 == 0o600
    out = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "tls" / "cert.pem"), "-noout", "-fingerprint",
                          "-sha256", "-ext", "subjectAltName"], capture_output=True, text=True, check=True).stdout
    assert fp in out and "linebox.local" in out
    cert_before = (tmp_path / "tls" / "cert.pem").read_bytes()
    assert ensure_certificate(tmp_path / "tls") == fp                      # second boot: kept, not remade
    assert (tmp_path / "tls" / "cert.pem").read_bytes() == cert_before
    assert fingerprint(tmp_path / "tls" / "cert.pem") == fp


def test_release_key_stays_out_of_the_repository_and_signs_bundles(tmp_path: Path) -> None:
    from firmware.update.bundle import verify_bundle
    from firmware.update.make_bundle import make_bundle
    script = str(IMAGE / "release.sh")
    refused = subprocess.run(["sh", script, "keygen", str(IMAGE / "keys-here")], capture_output=True, text=True)
    assert refused.returncode == 2 and "outside the repository" in refused.stderr
    assert not (IMAGE / "keys-here" / "release.key").exists()
    (IMAGE / "keys-here").rmdir()
    subprocess.run(["sh", script, "keygen", str(tmp_path / "k")], check=True, capture_output=True)
    assert (tmp_path / "k" / "release.key").stat().st_mode & 0o077 == 0          # private: owner only
    again = subprocess.run(["sh", script, "keygen", str(tmp_path / "k")], capture_output=True, text=True)
    assert again.returncode == 2 and "never overwrite" in again.stderr
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    shutil.copy(tmp_path / "k" / "release.pem", trusted / "release.pem")
    (tmp_path / "boot.vfat").write_bytes(b"BOOT" * 1000)
    (tmp_path / "root.ext4").write_bytes(b"ROOT" * 1000)
    bundle = make_bundle(tmp_path / "r.bundle", tmp_path / "k" / "release.key", "2026.12.3", ["rpi4", "rpi5"],
                         tmp_path / "boot.vfat", tmp_path / "root.ext4")
    assert verify_bundle(bundle, trusted, "rpi5").release == "2026.12.3"


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="openssh-client is not installed")
def test_ssh_host_keys_are_made_once_per_device_and_remade_when_damaged(tmp_path: Path) -> None:
    """The image ships no host key (read-only root): ssh.service makes this device's own on the
    data partition before sshd starts, keeps them across restarts, remakes a half-written one."""
    script = IMAGE / "firstboot" / "ssh-host-keys.sh"
    env = {**os.environ, "SSH_KEY_DIR": str(tmp_path / "ssh")}
    subprocess.run(["sh", str(script)], check=True, env=env, capture_output=True)
    keys = {t: tmp_path / "ssh" / f"ssh_host_{t}_key" for t in ("ed25519", "ecdsa")}
    first = {t: k.read_bytes() for t, k in keys.items()}
    assert all(k.stat().st_mode & 0o077 == 0 and k.with_suffix(".pub").exists() for k in keys.values())
    subprocess.run(["sh", str(script)], check=True, env=env, capture_output=True)
    assert {t: k.read_bytes() for t, k in keys.items()} == first                 # kept
    keys["ecdsa"].write_bytes(first["ecdsa"][:40])                             # a cut mid-write
    subprocess.run(["sh", str(script)], check=True, env=env, capture_output=True)
    assert keys["ecdsa"].read_bytes() != first["ecdsa"][:40] and keys["ed25519"].read_bytes() == first["ed25519"]
    other = tmp_path / "other"
    subprocess.run(["sh", str(script)], check=True, env={**env, "SSH_KEY_DIR": str(other)}, capture_output=True)
    assert (other / "ssh_host_ed25519_key").read_bytes() != first["ed25519"]       # per device
    conf = (IMAGE / "rootfs" / "sshd-linebox.conf").read_text()
    assert all(f"HostKey /var/lib/linebox/system/ssh/ssh_host_{t}_key" in conf for t in keys)
    unit = (IMAGE / "rootfs" / "ssh-service-linebox.conf").read_text()
    assert unit.index("ssh-host-keys.sh") < unit.index("sshd -t")          # keys before sshd's own check


def test_system_state_of_the_read_only_root_is_on_the_data_partition() -> None:
    fstab = (IMAGE / "rootfs" / "fstab").read_text()
    assert re.search(r"^/var/lib/linebox/system/timesync\s+/var/lib/systemd/timesync\s+none\s+bind,nofail",
                     fstab, re.M)
    build = (IMAGE / "build.sh").read_text()
    for needed in ('mkdir -p "$R/var/lib/systemd/linger"', '"$DATA_SKEL/system/timesync"',
                   '-d "$DATA_SKEL" "$WORK/data.ext4"', "sshd_config.d/linebox.conf", "ssh.service.d/linebox.conf"):
        assert needed in build, needed
    # mkinitramfs once: diverted while packages install, run once by name at the end
    assert build.count("update-initramfs -c -k") == 1 and "--rename --remove /usr/sbin/update-initramfs" in build


def test_random_seed_is_kept_on_the_data_partition() -> None:
    """systemd-random-seed.service saves the seed at every shutdown and loads it at boot: on the
    read-only root its save failed at every shutdown (session 8's boot tests). The root's seed path is
    a symlink into the data partition's system/ folder, and a drop-in orders the unit after that
    partition's mount (so the save at shutdown comes before the unmount) and makes the folder."""
    build = (IMAGE / "build.sh").read_text()
    link = re.search(r'ln -s (\S+) "\$R/var/lib/systemd/random-seed"', build)
    assert link, "the root's /var/lib/systemd/random-seed is not linked anywhere"
    target = Path(link.group(1))
    layout = genimage_config.load_layout()
    data_mount = next(m for m, opts in layout["mounts"].items() if opts.startswith("rw"))
    assert data_mount == "/var/lib/linebox" and target.is_relative_to(data_mount) and target.parent != Path(data_mount)
    assert f'"$DATA_SKEL/{target.parent.relative_to(data_mount)}' in build       # the folder made with data.ext4
    drop_in = IMAGE / "rootfs" / "random-seed-service-linebox.conf"
    assert (f'cp "$HERE"/rootfs/{drop_in.name} '
            '"$R/etc/systemd/system/systemd-random-seed.service.d/linebox.conf"') in build
    text = drop_in.read_text()
    unit = text[text.index("[Unit]"):text.index("[Service]")]
    service = text[text.index("[Service]"):]
    mounts = re.search(r"^RequiresMountsFor=(.+)$", unit, re.M)
    assert mounts and data_mount in mounts.group(1).split()
    assert re.search(rf"^ExecStartPre=-?/bin/mkdir -p {re.escape(str(target.parent))}$", service, re.M)
    assert not re.search(r"^Condition", text, re.M)        # the seed is kept, not the unit skipped



@pytest.mark.skipif(shutil.which("systemd-analyze") is None or not Path("/lib/systemd/system/systemd-random-seed.service").exists(),
                    reason="no systemd-analyze or systemd-random-seed.service on this host")
def test_random_seed_drop_in_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """The drop-in loads cleanly in systemd's own parser on Debian's unit (a misspelt key is only a
    warning there, and the unit would silently run without the ordering)."""
    shutil.copy("/lib/systemd/system/systemd-random-seed.service", tmp_path)
    (tmp_path / "systemd-random-seed.service.d").mkdir()
    shutil.copy(IMAGE / "rootfs" / "random-seed-service-linebox.conf", tmp_path / "systemd-random-seed.service.d" / "linebox.conf")
    out = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / "systemd-random-seed.service")],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"})
    assert out.returncode == 0 and "linebox.conf" not in out.stderr, out.stderr


def _dpkg_skips(rules: list[tuple[str, str]], path: str, is_dir_or_link: bool = False) -> bool:
    """dpkg's --path-exclude/--path-include (src/main/filters.c, as mmdebstrap's mmtarfilter copies it):
    the last matching rule wins (fnmatch without FNM_PATHNAME: `*` crosses `/`); an excluded folder
    or symlink is kept when an include pattern's literal start is a prefix of it."""
    skip = False
    for kind, pattern in rules:
        if fnmatch.fnmatchcase(path, pattern):
            skip = kind == "exclude"
    if skip and is_dir_or_link:
        prefixes = [re.match(r"[^*?[\\]*", pat).group(0).rstrip("/") for kind, pat in rules if kind == "include"]
        skip = not any(path.startswith(prefix) for prefix in prefixes)
    return skip


def test_base_leaves_out_documentation_but_keeps_licences_and_is_keyed_by_it() -> None:
    """The Debian base is made without man/info pages, translations and /usr/share/doc, but every
    package's copyright file ships; dpkg unpacks it under eatmydata. A base cached without these
    options is not reused (they are part of its key)."""
    cfg = IMAGE / "rootfs" / "dpkg-nodoc.cfg"
    rules = [tuple(line.split("=", 1)) for line in cfg.read_text().splitlines() if line.startswith("path-")]
    rules = [(kind.removeprefix("path-"), pattern) for kind, pattern in rules]
    assert rules and all(kind in ("exclude", "include") for kind, _ in rules)
    for gone in ("/usr/share/man/man1/ls.1.gz", "/usr/share/man/de/man1/ls.1.gz", "/usr/share/info/coreutils.info.gz",
                 "/usr/share/locale/de/LC_MESSAGES/coreutils.mo", "/usr/share/doc/python3/changelog.Debian.gz",
                 "/usr/share/doc/systemd/README.Debian", "/usr/share/doc/sox/examples/x.sh"):
        assert _dpkg_skips(rules, gone), gone
    for kept in ("/usr/share/doc/python3/copyright", "/usr/share/doc/libspandsp2/copyright",
                 "/usr/lib/locale/C.utf8/LC_CTYPE", "/usr/share/locale/locale.alias",
                 "/usr/lib/aarch64-linux-gnu/espeak-ng-data/en_dict", "/usr/share/ca-certificates/mozilla/x.crt",
                 "/usr/share/zoneinfo/UTC", "/usr/share/i18n/charmaps/UTF-8.gz"):
        assert not _dpkg_skips(rules, kept), kept
    # a package's doc folder that is a symlink to its source's (policy 12.5) stays: its copyright is there
    assert not _dpkg_skips(rules, "/usr/share/doc/libgcc-s1", is_dir_or_link=True)
    build = (IMAGE / "build.sh").read_text()
    assert "DPKG_OPTS=$HERE/rootfs/dpkg-nodoc.cfg" in build and '--dpkgopt="$DPKG_OPTS"' in build
    assert "EATMYDATA_HOOK=/usr/share/mmdebstrap/hooks/eatmydata" in build and '--hook-dir="$EATMYDATA_HOOK"' in build
    base_id = re.search(r"^BASE_ID=\$\(printf (.*?)\| sha256sum", build, re.M | re.S).group(1)
    assert '"$(cat "$DPKG_OPTS")"' in base_id and "eatmydata" in base_id
    assert "dpkg-architecture:dpkg-dev" in (IMAGE / "host-deps.sh").read_text()      # the hook's one host need


def test_initramfs_is_cached_beside_the_base_keyed_by_its_inputs(tmp_path: Path) -> None:
    """The full build makes the initramfs (10-35 min under emulation) only when something it is made of
    changed: build.sh's key, run here on a stand-in root, follows the kernel's modules, the
    initramfs-tools/udev/modprobe config, fstab and every package's version, not the rest of the root;
    mkinitramfs runs at the kernel's own timestamp (reproducible whatever the commit)."""
    build = (IMAGE / "build.sh").read_text()
    assert build.count("update-initramfs -c -k") == 1
    assert 'in_root env SOURCE_DATE_EPOCH="$INITRD_EPOCH" update-initramfs -c -k "$KVER"' in build
    assert 'INITRD_EPOCH=$(stat -c %Y "$R/boot/vmlinuz-$KVER")' in build
    assert "INITRD_CACHE=$BASE_DIR/initrd.img-$KVER-$INITRD_ID" in build
    # a hit runs the post-update hooks as update-initramfs does (raspi-firmware copies it to /boot/firmware)
    assert 'run-parts --arg="$KVER" --arg="/boot/initrd.img-$KVER" /etc/initramfs/post-update.d/' in build
    key_code = re.search(r"^  (INITRD_EPOCH=.*?\| sha256sum \| cut -c1-16\))$", build, re.M | re.S).group(1)
    root = tmp_path / "root"
    for name, text in {"lib/modules/6.1.0-57-arm64/kernel/drivers/spi/spi-bcm2835.ko": "ko",
                       "lib/modules/6.1.0-57-arm64/modules.dep": "dep", "etc/initramfs-tools/modules": "",
                       "etc/fstab": "LABEL=data /var/lib/linebox ext4 rw 0 2\n", "etc/udev/rules.d/x.rules": "",
                       "etc/hostname": "linebox\n", "opt/linebox/README": "linebox\n", "boot/vmlinuz-6.1.0-57-arm64": "k"}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    os.utime(root / "boot/vmlinuz-6.1.0-57-arm64", (1764000000, 1764000000))
    packages = tmp_path / "packages"
    packages.write_text("initramfs-tools 0.142+deb12u3 all\nlinux-image-6.1.0-57-arm64 6.1.158-1 arm64\n")

    def key() -> str:
        script = (f'set -eu; R={root}; KVER=6.1.0-57-arm64; in_root() {{ cat {packages}; }}\n{key_code}\n'
                  'echo "$INITRD_EPOCH $INITRD_ID"')
        return subprocess.run(["sh", "-c", script], check=True, capture_output=True, text=True).stdout.strip()

    first = key()
    assert re.fullmatch(r"1764000000 [0-9a-f]{16}", first) and key() == first
    (root / "etc/hostname").write_text("other\n")                    # not an input: same key
    (root / "opt/linebox/README").write_text("a new commit\n")
    assert key() == first
    changes = [lambda: (root / "lib/modules/6.1.0-57-arm64/kernel/drivers/spi/spi-bcm2835.ko").write_text("ko2"),
               lambda: (root / "etc/initramfs-tools/modules").write_text("spi-bcm2835\n"),
               lambda: (root / "etc/fstab").write_text("LABEL=data /var/lib/linebox ext4 ro 0 2\n"),
               lambda: (root / "etc/udev/rules.d/y.rules").write_text(""),
               lambda: packages.write_text("initramfs-tools 0.142+deb12u4 all\n"),
               lambda: os.utime(root / "boot/vmlinuz-6.1.0-57-arm64", (1765000000, 1765000000))]
    seen = {first}
    for change in changes:
        change()
        seen.add(key())
    assert len(seen) == len(changes) + 1                          # every input changed the key


def test_config_txt_gives_each_pi_its_kernel_and_every_board_the_hat_fragments(tmp_path: Path) -> None:
    fragments = "".join(p.read_text() for p in sorted((IMAGE.parent / "board" / "overlays").glob("config-*.txt")))
    genimage_config.main(tmp_path, fragments, "debian")
    debian = (tmp_path / "config.txt").read_text()
    sections = re.split(r"^\[(\w+)\]$", debian, flags=re.M)
    by = dict(zip(sections[1::2], sections[2::2], strict=True))
    assert by["pi4"].split() == ["kernel=vmlinuz", "initramfs", "initrd.img", "followkernel"]
    assert "pi5" not in by                      # Debian's bookworm kernel cannot boot a Pi 5 (no BCM2712)
    assert list(by)[-1] == "all"                # the shared part last: no board filter left open
    assert "arm_64bit=1" in by["all"] and "dtoverlay=linebox-4fxs" in by["all"] and "dtparam=spi=on" in by["all"]

    rpi = genimage_config.config_txt(fragments, "raspberrypi")
    sections = re.split(r"^\[(\w+)\]$", rpi, flags=re.M)
    by = dict(zip(sections[1::2], sections[2::2], strict=True))
    assert by["pi4"].split() == ["kernel=kernel8.img"] and by["pi5"].split() == ["kernel=kernel_2712.img"]
    assert "dtoverlay=linebox-2fxs2fxo" in by["all"]
    with pytest.raises(ValueError, match="PI_KERNEL"):
        genimage_config.config_txt(fragments, "ubuntu")
    build = (IMAGE / "build.sh").read_text()
    assert '"$WORK/config-fragments.txt" "$PI_KERNEL"' in build and 'cp "$WORK/config.txt" "$WORK/boot/config.txt"' in build


def test_compare_builds_groups_what_differs(tmp_path: Path) -> None:
    a = {"opt/linebox/firmware/records.py": "1", "usr/bin/true": "2", "var/lib/dpkg/status": "3",
         "usr/lib/python3/dist-packages/x.pyc": "4", "etc/shadow": "5"}
    b = {**a, "opt/linebox/firmware/records.py": "9", "var/lib/dpkg/status": "8", "etc/shadow": "7",
         "usr/lib/python3/dist-packages/x.pyc": "6", "usr/bin/new": "1"}
    groups = compare_builds.compare(a, b, {"firmware/records.py"})
    assert groups["linebox source changed between the commits"] == ["differs: opt/linebox/firmware/records.py"]
    assert groups["dpkg and apt state"] == ["differs: var/lib/dpkg/status"]
    assert groups["python bytecode elsewhere (.pyc)"] == ["differs: usr/lib/python3/dist-packages/x.pyc"]
    assert groups["etc"] == ["differs: etc/shadow"] and groups["other"] == ["only in B: usr/bin/new"]
    assert "usr/bin/true" not in str(groups)


def test_no_unit_chowns_the_data_partition_at_start() -> None:
    """StateDirectory= on the engine made systemd chown /var/lib/linebox back to root:root, recursively,
    at every start (the engine gives the folder to group linebox-web): the web's TLS key became
    unreadable and the web failed on every boot after the first (session 7's boot test). The data
    partition is a mount the engine waits for; the engine sets the folder's mode and group itself."""
    for unit in [*IMAGE.glob("*.service"), *IMAGE.glob("firstboot/*.service")]:
        text = unit.read_text()
        assert not re.search(r"^(StateDirectory|StateDirectoryMode)=", text, re.M), unit.name
    engine = (IMAGE / "linebox-engine.service").read_text()
    assert re.search(r"^RequiresMountsFor=/var/lib/linebox$", engine, re.M)
