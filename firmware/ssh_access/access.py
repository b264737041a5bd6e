"""Where the owner's ssh login keys live and whether sshd runs (issue 14).

The keys live on the data partition (`DATA/system/ssh/`), so they survive updates of the read-only
root; the image's sshd reads them as `AuthorizedKeysFile /etc/ssh/linebox/authorized_keys/%u`
(image/rootfs/sshd-linebox.conf), a bind of that folder (image/rootfs/fstab): sshd's StrictModes
refuses keys below a group-writable folder, which the data folder is (for the web UI's group).
Every folder from `system/ssh` down is kept 0700. The one login is root (the image has no other shell account; `PermitRootLogin
prohibit-password`, `PasswordAuthentication no`), so the keys file is
`DATA/system/ssh/authorized_keys/root`, written whole and atomically (temp file, fsync, rename,
fsync of the folder; mode 0600) from keys rebuilt by `keys.parse_keys`, or removed when the last
key goes.

ssh is off unless a key exists: the image's ssh.service only starts with a non-empty keys file
(`ConditionFileNotEmpty`, image/rootfs/ssh-service-linebox.conf), and after every change the engine
starts or stops it (`systemctl --no-block`), on the image only: elsewhere (a development machine,
the simulator) the file is kept the same way and nothing else is touched.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
from pathlib import Path

from ..atomic import atomic_write, fsync_dir
from .keys import AuthorizedKey, SshKeyError, parse_keys

log = logging.getLogger("linebox.ssh")
LOGIN_USER = "root"
KEYS_FOLDER = Path("system") / "ssh" / "authorized_keys"
IMAGE_SSHD_CONFIG = Path("/etc/ssh/sshd_config.d/linebox.conf")      # installed by image/build.sh
SSH_UNIT = "ssh.service"


def keys_file(data_dir: Path | str) -> Path:
    return Path(data_dir) / KEYS_FOLDER / LOGIN_USER


def read_keys(data_dir: Path | str) -> list[AuthorizedKey]:
    """The keys that may log in now (an unreadable file is reported, never half-used)."""
    path = keys_file(data_dir)
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise SshKeyError(f"The stored ssh keys file {path} cannot be read ({exc}); save the keys again.") from None
    return parse_keys(text)


def save_keys(data_dir: Path | str, keys: list[AuthorizedKey]) -> None:
    """Replace the keys file with `keys` (atomically), or remove it when there are none."""
    path = keys_file(data_dir)
    ssh_dir = path.parent.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(ssh_dir, 0o700)                 # as the image makes it: host keys live here too
    os.chmod(path.parent, 0o700)             # sshd's StrictModes: no group-writable folder (engine umask)
    if keys:
        atomic_write(path, "".join(k.line() + "\n" for k in keys).encode("ascii"), mode=0o600)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fsync_dir(path.parent)


class SshService:
    """Starts or stops the image's sshd after a change of keys (nothing to do off the image)."""

    def __init__(self, sshd_config: Path = IMAGE_SSHD_CONFIG, systemctl: str | None = None) -> None:
        self.sshd_config = sshd_config
        self.systemctl = systemctl if systemctl is not None else shutil.which("systemctl")

    def on_image(self) -> bool:
        return self.sshd_config.is_file() and bool(self.systemctl)

    def apply(self, on: bool) -> str:
        """What happened, for the owner: started / stopped / not on the image / why not."""
        if not self.on_image():
            return "not on the Linebox image: no ssh server is managed here"
        verb = "start" if on else "stop"
        try:
            done = subprocess.run([str(self.systemctl), "--no-block", verb, SSH_UNIT], capture_output=True,
                                  timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.error("ssh: systemctl %s %s failed: %s", verb, SSH_UNIT, exc)
            return f"the ssh server could not be {verb}ed ({exc}); restart the Linebox"
        if done.returncode != 0:
            why = done.stderr.decode(errors="replace").strip()[:200]
            log.error("ssh: systemctl %s %s: %s", verb, SSH_UNIT, why)
            return f"the ssh server could not be {verb}ed ({why}); restart the Linebox"
        return "ssh server on" if on else "ssh server off"
