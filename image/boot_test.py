"""Boot the built SD image under qemu-system-aarch64 -M virt and check it as an installer would
(image/boot-test.sh runs this; `make image-boot-test`; not part of the suite: minutes of emulation).

This script plays two parts, and only these two:
* **the Pi firmware**: it reads autoboot.txt from the image's selector partition, picks the boot
  partition ([all], or [tryboot] once after a `reboot "0 tryboot"`, which it sees in the kernel's
  "Restarting system with command '0 tryboot'" line), takes that partition's vmlinuz, initrd.img
  and cmdline.txt, and hands the kernel /chosen/bootloader/{partition,tryboot} in the device tree
  as the Pi firmware does. The console becomes ttyAMA0 (qemu's UART) and the journal is forwarded
  to it so this script can read the log.
* **the installer/owner at the box**: it reads the setup code from the console, and uses the web
  UI over HTTPS (port 443 forwarded to the host) like a browser: setup, login, upload a bundle,
  install.

Checked: first boot (data partition grown to the disk's end, TLS certificate made and the setup
page showing its fingerprint, services up, HTTPS on 443, port 80 redirecting to it, the hardware
watchdog armed by systemd and the engine's watchdog fed), a signed update uploaded on the web,
written to slot B, tried with tryboot, health-checked and committed, the next normal boot on B;
then a broken release (its web UI cannot start) tried from B, failing its health check and rolled
back by itself to B. The data partition is inspected from the host after each power-off.

Not covered (qemu has no Pi firmware): the firmware's own reading of autoboot.txt and its one-shot
tryboot flag (modelled here exactly as documented), the Pi's boot ROM/EEPROM, bcm2835-wdt (qemu's
i6300esb watchdog stands in), the Pi kernel/DTBs and the HAT drivers (the engine runs on the
simulated board here, as on a Pi without a HAT).
"""
from __future__ import annotations

import argparse
import atexit
import hashlib
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SECTOR = 512
HTTPS_PORT, HTTP_PORT, SSH_PORT = 18443, 18080, 18022
ADMIN, PASSWORD = "owner", "boot-test-pass-1"
T0 = time.monotonic()


def say(msg: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f} s] {msg}", flush=True)


STEPS: list[tuple[str, float]] = []          # (step, seconds it took), for image/README.md
_LAST = [T0]
POWER: dict[str, int] = {"power button": 0, "power cut": 0}


def step_done(name: str) -> None:
    now = time.monotonic()
    STEPS.append((name, now - _LAST[0]))
    _LAST[0] = now
    say(f"step done in {STEPS[-1][1]:.0f} s: {name}")


def write_times(work: Path) -> None:
    total = time.monotonic() - T0
    lines = [f"| {name} | {secs:.0f} s |" for name, secs in STEPS]
    (work / "times.md").write_text("| step | time |\n|---|---|\n" + "\n".join(lines)
                                   + f"\n| **whole run** | **{total:.0f} s** |\n")
    say("times:\n" + (work / "times.md").read_text()
        + f"power-offs: {POWER['power button']} by the power button, {POWER['power cut']} by cutting the power")


def run(*cmd: str, **kw) -> str:  # noqa: ANN003
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, **kw).stdout


class Disk:
    """The card image: partition offsets, FAT files through mtools, ext4 through debugfs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reload()

    def reload(self) -> None:
        """Read the partition table again (the first boot grows p4 and p7)."""
        table = json.loads(run("sfdisk", "-J", str(self.path)))["partitiontable"]
        self.parts = {int(p["node"].rsplit(str(self.path.name), 1)[-1] or 0): p for p in table["partitions"]}

    def offset(self, n: int) -> int:
        return int(self.parts[n]["start"]) * SECTOR

    def fat_read(self, n: int, name: str) -> bytes:
        return subprocess.run(["mtype", "-i", f"{self.path}@@{self.offset(n)}", f"::{name}"], check=True,
                              capture_output=True).stdout

    def fat_get(self, n: int, name: str, dest: Path) -> None:
        run("mcopy", "-o", "-n", "-i", f"{self.path}@@{self.offset(n)}", f"::{name}", str(dest))

    def partition_file(self, n: int, dest: Path) -> Path:
        p = self.parts[n]
        run("dd", f"if={self.path}", f"of={dest}", "bs=1M", f"skip={int(p['start']) * SECTOR}",
            f"count={int(p['size']) * SECTOR}", "iflag=skip_bytes,count_bytes", "conv=sparse", "status=none")
        return dest


def autoboot(disk: Disk) -> tuple[int, int]:
    sys.path.insert(0, str(REPO))
    from firmware.update.slots import parse_autoboot
    return parse_autoboot(disk.fat_read(1, "autoboot.txt").decode())


class Machine:
    def __init__(self, work: Path, disk: Disk) -> None:
        self.work, self.disk = work, disk
        atexit.register(self.pull_the_plug)      # a failed check must not leave qemu running
        self.boots = 0
        self.proc: subprocess.Popen | None = None
        self.console: Path | None = None

    def qemu_args(self, kernel: Path, initrd: Path, cmdline: str) -> list[str]:
        return ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "2048",
                "-display", "none", "-no-reboot", "-kernel", str(kernel), "-initrd", str(initrd),
                "-append", cmdline,
                "-drive", f"if=none,file={self.disk.path},format=raw,id=card,cache=unsafe",
                "-device", "virtio-blk-pci,drive=card",
                "-netdev", f"user,id=lan,hostfwd=tcp:127.0.0.1:{HTTPS_PORT}-:443,hostfwd=tcp:127.0.0.1:{HTTP_PORT}-:80"
                f",hostfwd=tcp:127.0.0.1:{SSH_PORT}-:22",
                "-device", "virtio-net-pci,netdev=lan", "-device", "i6300esb",
                "-monitor", f"unix:{self.work / 'monitor.sock'},server,nowait"]

    def power_on(self, tryboot: bool) -> tuple[int, bool]:
        """The firmware's part: choose the boot partition, load its kernel, boot it."""
        default, trying = autoboot(self.disk)
        partition = trying if tryboot else default
        self.boots += 1
        boot = self.work / f"boot{self.boots}"
        boot.mkdir(exist_ok=True)
        for name in ("vmlinuz", "initrd.img", "cmdline.txt"):
            self.disk.fat_get(partition, name, boot / name)
        cmdline = (boot / "cmdline.txt").read_text().strip()
        cmdline = re.sub(r"console=\S+", "", cmdline).replace(" quiet", "")
        cmdline = " ".join(f"{cmdline} console=ttyAMA0 systemd.journald.forward_to_console=1".split())
        base = self.qemu_args(boot / "vmlinuz", boot / "initrd.img", cmdline)
        dtb = boot / "virt.dtb"
        (self.work / "monitor.sock").unlink(missing_ok=True)
        run(*[a if a != "virt" else f"virt,dumpdtb={dtb}" for a in base])
        dts = run("dtc", "-q", "-I", "dtb", "-O", "dts", str(dtb))
        dts += f"\n/ {{ chosen {{ bootloader {{ partition = <{partition}>; tryboot = <{int(tryboot)}>; }}; }}; }};\n"
        (boot / "pi.dts").write_text(dts)
        run("dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(boot / "pi.dtb"), str(boot / "pi.dts"))
        self.console = self.work / f"console-{self.boots}.log"
        (self.work / "monitor.sock").unlink(missing_ok=True)
        say(f"power on #{self.boots}: boot partition {partition}{' (tryboot)' if tryboot else ''}: {cmdline}")
        self.proc = subprocess.Popen([*base, "-dtb", str(boot / "pi.dtb"), "-serial", f"file:{self.console}"],
                                     stdin=subprocess.DEVNULL)
        return partition, tryboot

    def pull_the_plug(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def log(self) -> str:
        return self.console.read_text(errors="replace") if self.console and self.console.exists() else ""

    def wait_log(self, pattern: str, timeout_s: float) -> re.Match:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if m := re.search(pattern, self.log()):
                return m
            if self.proc and self.proc.poll() is not None:
                raise SystemExit(f"FAIL: the machine stopped before /{pattern}/ (see {self.console})")
            time.sleep(2)
        raise SystemExit(f"FAIL: /{pattern}/ not in the console within {timeout_s:.0f} s (see {self.console})")

    def wait_stopped(self, timeout_s: float) -> str:
        """Until qemu exits (reboot or power-off with -no-reboot); returns the reboot command or ''."""
        assert self.proc is not None
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise SystemExit(f"FAIL: the machine did not stop within {timeout_s:.0f} s (see {self.console})") from None
        m = re.findall(r"reboot: Restarting system with command '([^']*)'", self.log())
        return m[-1] if m else ""

    def power_button(self, wait_s: float = 90) -> None:
        """The power button (qemu's system_powerdown); if the guest does not power off by itself in
        `wait_s` (seen in session 4: -M virt's GPIO power key did not reach logind), pull the plug:
        everything checked afterwards was synced by its writer, so a cut must not lose it."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.work / "monitor.sock"))
            s.sendall(b"system_powerdown\n")
            time.sleep(0.5)
        assert self.proc is not None
        try:
            self.proc.wait(timeout=wait_s)
            POWER["power button"] += 1
            say("ok   the power button powered the machine off (systemd-logind, a clean shutdown)")
        except subprocess.TimeoutExpired:
            POWER["power cut"] += 1
            say(f"WARN no power-off {wait_s:.0f} s after the power button: cutting the power instead")
            self.proc.kill()
            self.proc.wait(30)


class Browser:
    """HTTPS to the appliance with its certificate pinned by fingerprint (the owner compares it)."""

    def __init__(self) -> None:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx),
                                                  urllib.request.HTTPCookieProcessor(self.jar))
        self.base = f"https://127.0.0.1:{HTTPS_PORT}"

    def get(self, path: str, timeout: float = 60) -> tuple[int, str, str]:
        with self.opener.open(self.base + path, timeout=timeout) as r:
            return r.status, r.geturl(), r.read().decode()

    def post(self, path: str, fields: dict[str, str], timeout: float = 120) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(fields).encode()
        try:
            with self.opener.open(urllib.request.Request(self.base + path, data=data), timeout=timeout) as r:
                return r.status, r.geturl(), r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, path, exc.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:   # the box went down meanwhile
            return 0, path, f"no answer: {exc}"

    def upload(self, path: str, fields: dict[str, str], file_field: str, file: Path,
               timeout: float = 1800) -> tuple[int, str]:
        """multipart/form-data, streamed from the file (a root image is 1.5 GB)."""
        boundary = "linebox-boot-test-" + hashlib.sha256(str(file).encode()).hexdigest()[:16]
        head = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                       for k, v in fields.items())
        head += (f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{file.name}"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\n")
        tail = f"\r\n--{boundary}--\r\n".encode()
        size = len(head.encode()) + file.stat().st_size + len(tail)

        def body():  # noqa: ANN202 - a generator of bytes
            yield head.encode()
            with open(file, "rb") as f:
                while chunk := f.read(1024 * 1024):
                    yield chunk
            yield tail
        req = urllib.request.Request(self.base + path, data=body(), method="POST", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(size)})
        try:
            with self.opener.open(req, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def served_fingerprint(self) -> str:
        pem = ssl.get_server_certificate(("127.0.0.1", HTTPS_PORT))
        d = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest().upper()
        return ":".join(d[i:i + 2] for i in range(0, 64, 2))

    @staticmethod
    def csrf(html: str) -> str:
        m = re.search(r'name="csrf_token" value="([^"]+)"', html)
        if not m:
            raise SystemExit("FAIL: no CSRF token on the page")
        return m.group(1)

    def wait_up(self, timeout_s: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            try:
                self.get("/login", timeout=10)
                return time.monotonic() - start
            except (OSError, urllib.error.URLError, ssl.SSLError):
                time.sleep(3)
        raise SystemExit(f"FAIL: the web UI did not answer over HTTPS within {timeout_s:.0f} s")


def check(ok: bool, what: str) -> None:
    say(("ok   " if ok else "FAIL ") + what)
    if not ok:
        raise SystemExit(f"FAIL: {what}")


def data_partition_facts(disk: Disk, work: Path) -> dict:
    disk.reload()                                   # the partition as the machine left it, not as flashed
    part = disk.partition_file(7, work / "data.ext4")
    info = run("dumpe2fs", "-h", str(part), stderr=subprocess.DEVNULL)
    blocks = int(re.search(r"Block count:\s+(\d+)", info).group(1))
    bsize = int(re.search(r"Block size:\s+(\d+)", info).group(1))
    ls = run("debugfs", "-R", "ls -l /", str(part), stderr=subprocess.DEVNULL)
    state = run("debugfs", "-R", "cat /update/state.json", str(part), stderr=subprocess.DEVNULL)
    ssh_pub = run("debugfs", "-R", "cat /system/ssh/ssh_host_ed25519_key.pub", str(part), stderr=subprocess.DEVNULL)
    left = {folder: run("debugfs", "-R", f"ls {folder}", str(part), stderr=subprocess.DEVNULL)
            for folder in ("/spool", "/spool/parts", "/update")}
    seed = run("debugfs", "-R", "stat /system/random-seed", str(part), stderr=subprocess.DEVNULL)
    part.unlink()
    size = re.search(r"Size:\s+(\d+)", seed)
    return {"ssh_host_key": ssh_pub.strip(), "fs_bytes": blocks * bsize, "part_bytes": int(disk.parts[7]["size"]) * SECTOR,
            "root_listing": ls, "update_state": json.loads(state) if state.strip() else {}, "listings": left,
            "random_seed_bytes": int(size.group(1)) if size else 0}


def left_behind(listings: dict[str, str]) -> list[str]:
    """Uploads, form parts, downloads or self-test folders still on the data partition."""
    entry = re.compile(r"\d+\s+\(\d+\)\s+(.+?)(?=\s{2,}\d+\s+\(\d+\)|\s*$)", re.M)     # debugfs's `ls`
    names = {f"{folder}/{name}" for folder, text in listings.items() for name in entry.findall(text)
             if name not in (".", "..")}
    return sorted(n for n in names if n.endswith((".upload", ".part", ".bundle")) or "/selftest-" in n
                  or n.startswith("/spool/parts/"))


def broken_bundle(work: Path, key: Path, image_work: Path) -> Path:
    """A release whose web UI cannot start: the health check must fail and roll it back."""
    root = work / "broken-root.ext4"
    shutil.copyfile(image_work / "rootA.ext4", root)
    app = run("debugfs", "-R", "ls -p /opt/linebox/.venv/lib", str(root), stderr=subprocess.DEVNULL)
    py = re.findall(r"/(python3\.\d+)/", app)[0]
    target = f"/opt/linebox/.venv/lib/{py}/site-packages/webui/app.py"
    bad = work / "app.py"
    bad.write_text("raise SystemExit('boot test: this release is broken on purpose')\n")
    cmds = work / "debugfs.cmd"
    folder, name = target.rsplit("/", 1)
    cmds.write_text(f"cd {folder}\nrm {name}\nwrite {bad} {name}\n")
    run("debugfs", "-w", "-f", str(cmds), str(root))
    check(bad.read_text() in run("debugfs", "-R", f"cat {target}", str(root), stderr=subprocess.DEVNULL),
          "broken release made (its webui/app.py exits at import)")
    out = work / "broken.bundle"
    run(sys.executable, "-m", "firmware.update.make_bundle", "--key", str(key), "--release", "9999.1.1-broken",
        "--boards", "rpi4,rpi5,qemu-virt", str(image_work / "bootA.vfat"), str(root), "-o", str(out), cwd=REPO)
    root.unlink()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image-dir", type=Path, default=REPO / "build" / "image")
    ap.add_argument("--key", type=Path, default=REPO / "build" / "dev-release-key" / "release.key")
    ap.add_argument("--work", type=Path, default=REPO / "build" / "boot-test")
    ap.add_argument("--grow-to", default="8G", help="card size: the data partition grows to its end")
    ap.add_argument("--skip-rollback", action="store_true")
    a = ap.parse_args()
    images = sorted(a.image_dir.glob("linebox-*-arm64.img"))
    if not images:
        raise SystemExit(f"no image in {a.image_dir}: run `make image` first")
    shutil.rmtree(a.work, ignore_errors=True)
    a.work.mkdir(parents=True)
    card = a.work / "card.img"
    say(f"copying {images[-1].name} to {card} and growing it to {a.grow_to} (a bigger SD card)")
    run("cp", "--sparse=always", str(images[-1]), str(card))
    run("truncate", "-s", a.grow_to, str(card))
    disk = Disk(card)
    m = Machine(a.work, disk)
    web = Browser()

    # 1. first boot
    before = data_partition_facts(disk, a.work)
    m.power_on(False)
    up_s = web.wait_up(900)
    say(f"web UI answered over HTTPS {up_s:.0f} s after power-on")
    code = m.wait_log(r"enter the setup code (\S+)", 120).group(1)
    status, url, html = web.get("/setup")
    fp = web.served_fingerprint()
    check(fp in html, f"setup page shows the served certificate's fingerprint {fp[:23]}...")
    req = urllib.request.Request(f"http://127.0.0.1:{HTTP_PORT}/setup", method="GET")
    try:
        urllib.request.build_opener(NoRedirect()).open(req, timeout=30)
        redirect = ""
    except urllib.error.HTTPError as exc:
        redirect = f"{exc.code} {exc.headers.get('Location')}"
    check(redirect == "308 https://127.0.0.1/setup", f"port 80 redirects to HTTPS ({redirect})")
    status, url, html = web.post("/setup", {"csrf_token": web.csrf(html), "setup_code": code, "username": ADMIN,
                                            "password": PASSWORD, "confirm": PASSWORD})
    check(status == 200 and "/setup" not in url, f"owner's first-boot setup over HTTPS (now at {url})")
    log = m.log()
    for unit in ("linebox-firstboot.service", "linebox-engine.service", "linebox-web.service",
                 "linebox-http-redirect.service"):
        check(bool(re.search(rf"(Started|Finished) {re.escape(unit)}", log)), f"{unit} started")
    failed = re.findall(r"(Failed to start linebox[^\n]*|linebox-[\w-]+\.service: Failed with result[^\n]*)", log)
    check(not failed, f"no Linebox unit failed {failed[:2]}")
    # the read-only root's system services (their state: data partition or the image, never /var/lib writes)
    for unit in ("systemd-timesyncd.service", "systemd-logind.service"):
        check(bool(re.search(rf"Started {re.escape(unit)}", log)), f"{unit} started on the read-only root")
    # its seed on the data partition (image/rootfs/random-seed-service-linebox.conf): loaded at boot
    check(bool(re.search(r"Finished systemd-random-seed\.service", log)),
          "systemd-random-seed.service succeeded on the read-only root")
    # ssh is off until the owner adds a login key on the web (session 6): add one, then log in with it
    check(bool(re.search(r"ssh\.service[^\n]*skipped because of an unmet condition check \(ConditionFileNotEmpty", log))
          and not re.search(r"Started ssh\.service", log), "ssh off on first boot (no login key yet)")
    ssh_key = a.work / "owner_ed25519"
    ssh_key.unlink(missing_ok=True)
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "boot-test owner", "-f", str(ssh_key))
    status, url, html = web.get("/ssh-access")
    status, url, html = web.post("/ssh-access/add", {"csrf_token": web.csrf(html),
                                                     "keys": (a.work / "owner_ed25519.pub").read_text()})
    check(status == 200 and "done=added" in url, f"owner's ssh key added on the ssh access page ({url})")
    m.wait_log(r"Started ssh\.service", 180)
    who = run("ssh", "-i", str(ssh_key), "-p", str(SSH_PORT), "-o", "StrictHostKeyChecking=no",
              "-o", "UserKnownHostsFile=" + str(a.work / "known_hosts"), "-o", "BatchMode=yes",
              "-o", "ConnectTimeout=60", "root@127.0.0.1", "/opt/linebox/.venv/bin/linebox --version; findmnt -no OPTIONS /")
    check(who.startswith("linebox ") and "ro," in who, f"ssh login with that key: {' | '.join(who.split())}")
    log = m.log()
    check("Mounted var-lib-systemd-timesync.mount" in log or "var-lib-systemd-timesync.mount" in log,
          "timesyncd's clock directory bound from the data partition")
    failed = sorted(set(re.findall(r"Failed to start (\S+)", log)) | set(re.findall(r"(\S+): Failed with result", log)))
    check(not failed, f"no unit failed at all {failed[:4]}")
    check(bool(re.search(r"Using hardware watchdog|Watchdog running with a (hardware )?timeout", log)),
          "systemd armed the hardware watchdog (i6300esb standing in for bcm2835-wdt)")
    time.sleep(25)                                  # > WatchdogSec=10 twice: a stuck engine would be killed
    check("Watchdog timeout" not in m.log(), "the engine kept feeding its systemd watchdog (no timeout in 25 s)")
    m.power_button()
    m.wait_stopped(300)
    log = m.log()
    seed_failed = re.findall(r"[^\n]*(?:systemd-random-seed\.service: Failed|Failed[^\n]*/random-seed)[^\n]*", log)
    check(not seed_failed and bool(re.search(r"Stopped systemd-random-seed\.service", log)),
          f"systemd-random-seed.service saved the seed at shutdown {seed_failed[:2]}")
    after = data_partition_facts(disk, a.work)
    # systemd 252 saves as many bytes as the kernel's pool holds: 256 bits (32 bytes) since Linux 5.18
    check(after["random_seed_bytes"] >= 32,
          f"the random seed kept on the data partition (system/random-seed, {after['random_seed_bytes']} bytes)")
    check(after["fs_bytes"] > before["fs_bytes"] * 4 and after["fs_bytes"] >= after["part_bytes"] - 8 * 2 ** 20,
          f"data partition grown on first boot: {before['fs_bytes'] >> 20} MiB -> {after['fs_bytes'] >> 20} MiB "
          f"(partition {after['part_bytes'] >> 20} MiB)")
    check(" tls" in after["root_listing"] and ".firstboot-done" in after["root_listing"],
          "TLS certificate and first-boot marker on the data partition")
    check(after["ssh_host_key"].startswith("ssh-ed25519 ")
          and after["ssh_host_key"].split()[1] in (a.work / "known_hosts").read_text(),
          "this device's ssh host key on the data partition is the one ssh was served "
          f"({after['ssh_host_key'][:40]}...)")
    step_done("first boot: power on, HTTPS up, owner's setup, checks, power off")

    # 2. a signed update, uploaded on the web: slot B tried, checked, committed
    bundle = a.image_dir / "linebox-boottest.bundle"
    bundle.unlink(missing_ok=True)                  # never one of an earlier build
    env = {**os.environ, "BOARDS": "rpi4,rpi5,qemu-virt", "OUT": str(a.image_dir)}
    run("sh", str(REPO / "image" / "release.sh"), "bundle", str(a.key), "boottest", env=env)
    step_done("signed bundle made from the build (release.sh bundle)")
    m.power_on(False)
    web.wait_up(900)
    status, url, html = web.get("/login")
    status, url, html = web.post("/login", {"csrf_token": web.csrf(html), "next": "/update", "username": ADMIN,
                                            "password": PASSWORD})
    check("Running slot A" in re.sub(r"<[^>]+>", "", html), "Update page: running slot A")
    say(f"uploading {bundle.name} ({bundle.stat().st_size >> 20} MiB) on the Update page")
    status, html = web.upload("/update/upload", {"csrf_token": web.csrf(html)}, "file", bundle)
    check(status == 200, f"upload accepted (HTTP {status})")
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        html = web.get("/update")[2]
        if "written to slot B" in html or 'alert error' in html:
            break
        time.sleep(10)
    check("written to slot B" in html, "bundle verified and written to slot B: "
          + re.sub(r"<[^>]+>", "", re.search(r'id="update-staging"[^>]*>(.*?)</p>', html, re.S).group(1))[:120])
    step_done("second boot, bundle uploaded on the web, verified and written to slot B")
    status, url, html = web.post("/update/install", {"csrf_token": web.csrf(html)})
    check("restarts into the new release" in html, "Install now: restarting")
    command = m.wait_stopped(600)
    check(command == "0 tryboot", f"the engine rebooted with '{command}' (tryboot)")
    m.power_on(True)
    web.wait_up(900)
    m.wait_log(r"Finished linebox-update-check\.service|linebox-update-check\.service: (Deactivated|Failed)", 900)
    check("recording stopped" not in m.log(), "the health check's self-test logged no 'recording stopped' "
          "(its engine ran on the data partition, not in the 64 MiB /tmp)")
    m.power_button()
    m.wait_stopped(300)
    facts = data_partition_facts(disk, a.work)
    check(left_behind(facts["listings"]) == [], f"nothing left in spool/, spool/parts/ or update/ after the "
          f"upload, staging and check: {left_behind(facts['listings'])}")
    check(facts["update_state"].get("phase") == "committed", f"update state: {facts['update_state'].get('phase')} "
          f"({(facts['update_state'].get('history') or [''])[-1]})")
    check(autoboot(disk)[0] == 3, "autoboot.txt [all] now names boot partition 3 (slot B)")
    check(facts["ssh_host_key"] == after["ssh_host_key"], "the ssh host key is the same on slot B (kept on the data partition)")
    step_done("install: reboot with tryboot, slot B boots, health check commits, power off")
    part, _ = m.power_on(False)
    web.wait_up(900)
    check(part == 3 and "linebox.slot=B" in m.log() and "PARTUUID=4c696e65-06" in m.log(),
          "normal boot now starts slot B with root B")
    step_done("normal boot on slot B, HTTPS up")

    if not a.skip_rollback:
        # 3. a broken release from slot B: tried on A, its web fails the health check, rolled back to B
        broken = broken_bundle(a.work, a.key, a.image_dir / "work")
        status, url, html = web.get("/login")
        status, url, html = web.post("/login", {"csrf_token": web.csrf(html), "next": "/update",
                                                "username": ADMIN, "password": PASSWORD})
        status, html = web.upload("/update/upload", {"csrf_token": web.csrf(html)}, "file", broken)
        while time.monotonic() < deadline + 1800:
            html = web.get("/update")[2]
            if "written to slot A" in html or 'alert error' in html:
                break
            time.sleep(10)
        check("written to slot A" in html, "broken release written to slot A")
        step_done("broken release made, uploaded and written to slot A")
        web.post("/update/install", {"csrf_token": web.csrf(html)})
        check(m.wait_stopped(600) == "0 tryboot", "tryboot into slot A")
        m.power_on(True)
        command = m.wait_stopped(1200)                  # the check fails (web down) and reboots normally
        check(command in ("", "0"), f"the failed release rebooted by itself (command {command!r})")
        step_done("tryboot into the broken release, health check fails, it reboots by itself")
        part, _ = m.power_on(False)
        check(part == 3, "the firmware starts slot B again ([all] was never changed)")
        web.wait_up(900)
        m.power_button()
        m.wait_stopped(300)
        facts = data_partition_facts(disk, a.work)
        check(facts["update_state"].get("phase") == "rolled_back",
              f"update state rolled_back: {facts['update_state'].get('reason', '')[:160]}")
        step_done("the firmware starts slot B again, HTTPS up, power off, state rolled_back")
    write_times(a.work)
    say(f"PASS: image boot test done in {time.monotonic() - T0:.0f} s")
    return 0


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kw):  # noqa: ANN002, ANN003, ANN201
        return None


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))    # so atexit stops qemu on a kill too
    sys.exit(main())
