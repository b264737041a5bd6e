"""A real OpenSSH server logs in with the keys the engine wrote (issue 14): the image's own sshd
configuration (image/rootfs/sshd-linebox.conf, its /var/lib/linebox paths pointed at this test's
data folder) and host keys made by the image's own script; a key added through the engine API
logs in as root, a password never does, and the key removed no longer logs in.

Needs /usr/sbin/sshd (Debian's openssh-server) and root (the keys are root's); skipped without
them. sshd keeps its StrictModes, as on the image: the data folder here lies under /tmp, which
anyone may write to, as the image's lies under /var/lib/linebox, which the web UI's group may
write to; sshd reads the keys, as on the image, through a bind of `system/ssh` onto a folder only
root may write (/etc/ssh/linebox there, a fresh folder under /run here). Reading them below the
data folder was refused on the image (session 7's boot test)."""
from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.api import EngineApi, LocalClient
from firmware.config import Config
from firmware.control import EngineControl

IMAGE = Path(__file__).resolve().parents[2] / "image"
SSHD = Path("/usr/sbin/sshd")
pytestmark = pytest.mark.skipif(not SSHD.is_file() or os.geteuid() != 0,
                                reason="needs Debian's openssh-server (/usr/sbin/sshd) and root")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[tuple[LocalClient, int]]:
    data = tmp_path / "data"
    subprocess.run(["sh", str(IMAGE / "firstboot" / "ssh-host-keys.sh")], check=True, capture_output=True,
                   env={**os.environ, "SSH_KEY_DIR": str(data / "system" / "ssh")})
    port = free_port()
    bound = Path(tempfile.mkdtemp(dir="/run", prefix="linebox-sshd-test-")) / "linebox"   # /etc/ssh/linebox
    bound.mkdir()
    subprocess.run(["mount", "--bind", str(data / "system" / "ssh"), str(bound)], check=True)
    conf = (IMAGE / "rootfs" / "sshd-linebox.conf").read_text()
    conf = conf.replace("/etc/ssh/linebox", str(bound)).replace("/var/lib/linebox", str(data))
    (tmp_path / "sshd_config").write_text(conf + f"\nPort {port}\nListenAddress 127.0.0.1\nPidFile none\n"
                                          "UsePAM no\nStrictModes yes\n")
    Path("/run/sshd").mkdir(exist_ok=True)                 # sshd's privilege separation folder
    subprocess.run([str(SSHD), "-t", "-f", str(tmp_path / "sshd_config")], check=True, capture_output=True)
    log = open(tmp_path / "sshd.log", "wb")                # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(tmp_path / "sshd_config")], stderr=log)
    engine_api = EngineApi(config=Config(tmp_path / "config.json"), records=None, data_dir=data,
                           control=EngineControl())
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "sshd.log").read_text()
            time.sleep(0.05)
        yield LocalClient(engine_api, timeout=30), port
    finally:
        engine_api.close()
        proc.terminate()
        proc.wait(10)
        log.close()
        subprocess.run(["umount", str(bound)], check=True)
        bound.rmdir()
        bound.parent.rmdir()


def ssh(port: int, key: Path | None, *options: str) -> subprocess.CompletedProcess:
    args = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=10", "-p", str(port), *options]
    if key is not None:
        args += ["-o", "IdentitiesOnly=yes", "-i", str(key)]
    return subprocess.run([*args, "root@127.0.0.1", "echo logged-in"], capture_output=True, text=True, timeout=30)


def test_a_key_added_on_the_engine_logs_in_and_a_removed_one_does_not(sshd, tmp_path: Path) -> None:
    api, port = sshd
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "owner@laptop", "-f", str(tmp_path / "k")],
                   check=True, capture_output=True)
    assert "Permission denied" in ssh(port, tmp_path / "k").stderr                 # no key yet
    added = api.call_sync("ssh.keys.add", text=(tmp_path / "k.pub").read_text())
    done = ssh(port, tmp_path / "k")
    assert done.returncode == 0 and done.stdout.strip() == "logged-in", done.stderr
    refused = ssh(port, None, "-o", "PreferredAuthentications=password,keyboard-interactive")
    assert refused.returncode != 0 and "Permission denied (publickey)" in refused.stderr   # keys only
    api.call_sync("ssh.keys.remove", fingerprint=added["keys"][0]["fingerprint"])
    assert "Permission denied" in ssh(port, tmp_path / "k").stderr
