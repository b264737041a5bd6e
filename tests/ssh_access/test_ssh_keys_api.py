"""ssh login keys through the engine API (issue 14): real keys made by ssh-keygen are accepted and
written where the image's sshd reads them, in a file OpenSSH itself parses back to the same
fingerprints; every kind of bad paste (options such as command=, a short RSA key, cut or altered
base64, a private key, two keys on a line, a repeated key, too many keys) is refused with the reason
and the stored file stays byte for byte as it was; the last key removed turns ssh off."""
from __future__ import annotations

import base64
import hashlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.api import ApiError, EngineApi, LocalClient
from firmware.config import Config
from firmware.control import EngineControl
from firmware.ssh_access import keys_file
from firmware.ssh_access.access import KEYS_FOLDER

IMAGE = Path(__file__).resolve().parents[2] / "image"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Public key lines made by ssh-keygen, by name."""
    folder = tmp_path_factory.mktemp("keys")
    out = {}
    for name, args in {"ed25519": ["-t", "ed25519"], "ecdsa256": ["-t", "ecdsa", "-b", "256"],
                       "ecdsa384": ["-t", "ecdsa", "-b", "384"], "other": ["-t", "ed25519"]}.items():
        subprocess.run(["ssh-keygen", "-q", *args, "-N", "", "-C", f"{name}@laptop", "-f", str(folder / name)],
                       check=True, capture_output=True)
        out[name] = (folder / f"{name}.pub").read_text().strip()
    out["private"] = (folder / "ed25519").read_text()
    # RSA public keys are only (e, n): made here rather than by ssh-keygen, whose prime search takes
    # seconds on a loaded machine; ssh-keygen -l still reads them back below
    out["rsa3072"], out["rsa2048"] = rsa_key_line(3072, "rsa3072@laptop"), rsa_key_line(2048, "rsa2048@laptop")
    return out


def rsa_key_line(bits: int, comment: str) -> str:
    n = int.from_bytes(hashlib.shake_256(str(bits).encode()).digest(bits // 8), "big") | (1 << (bits - 1)) | 1

    def mpint(v: int) -> bytes:
        raw = v.to_bytes(v.bit_length() // 8 + 1, "big")          # a leading zero byte when the top bit is set
        return len(raw).to_bytes(4, "big") + raw
    blob = b"\x00\x00\x00\x07ssh-rsa" + mpint(65537) + mpint(n)
    return f"ssh-rsa {base64.b64encode(blob).decode()} {comment}"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[LocalClient, Path]]:
    engine_api = EngineApi(config=Config(tmp_path / "config.json"), records=None, data_dir=tmp_path,
                           control=EngineControl())
    yield LocalClient(engine_api, timeout=30), tmp_path
    engine_api.close()


def openssh_fingerprints(path: Path) -> list[str]:
    """What OpenSSH makes of the written file (ssh-keygen -l reads every line as sshd would)."""
    done = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)], check=True, capture_output=True,
                          text=True)
    return [line.split()[1] for line in done.stdout.splitlines()]


def test_good_keys_are_written_where_sshd_reads_them(api, made) -> None:
    client, data = api
    assert client.call_sync("ssh.keys")["ssh_on"] is False
    pasted = (f"\r\n{made['ed25519']}\r\n\r\n{made['ecdsa256']}\n"
              f"{made['ecdsa384'].rsplit(' ', 1)[0]} Jo's <script>alert(1)</script>\x1b[31m laptop\n"
              f"   {made['rsa3072']}   \n")
    answer = client.call_sync("ssh.keys.add", text=pasted)
    path = keys_file(data)
    assert path == data / "system" / "ssh" / "authorized_keys" / "root"
    assert answer["ssh_on"] is True and [k["type"] for k in answer["keys"]] == \
        ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ssh-rsa"]
    assert [k["bits"] for k in answer["keys"]] == [256, 256, 384, 3072]
    assert openssh_fingerprints(path) == [k["fingerprint"] for k in answer["keys"]]
    comment = answer["keys"][2]["comment"]
    assert comment == "Jo's <script>alert(1)</script>_[31m laptop"           # control bytes gone (HTML: escaped)
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.parent.stat().st_mode & 0o777 == 0o700
    lines = path.read_text().splitlines()
    assert lines[0] == made["ed25519"] and lines[3] == made["rsa3072"]       # rebuilt, same key and comment
    again = client.call_sync("ssh.keys.add", text=made["ed25519"] + "\n" + made["other"])
    assert len(again["keys"]) == 5                                             # a key already there is kept once


BAD = {
    "options": (lambda m: 'command="/bin/sh -i" ' + m["ed25519"], "starts with options"),
    "from option": (lambda m: 'from="*" ' + m["ed25519"], "without command=, from= or other options"),
    "no-pty": (lambda m: "no-pty,restrict " + m["ed25519"], "starts with options"),
    "short rsa": (lambda m: m["rsa2048"], "RSA key of 2048 bits; Linebox accepts RSA keys of at least 3072 bits"),
    "cut base64": (lambda m: m["ed25519"].split()[0] + " " + m["ed25519"].split()[1][:-8],
                   "paste the whole line of the .pub file again"),
    "not base64": (lambda m: "ssh-ed25519 AAAA!!!!", "is not valid base64"),
    "type lies": (lambda m: "ssh-rsa " + m["ed25519"].split()[1], "its inside says it is not a ssh-rsa key"),
    "private key": (lambda m: m["private"], "looks like a private key"),
    "dsa": (lambda m: "ssh-dss AAAAB3NzaC1kc3M=", "'ssh-dss', which is not a key type Linebox accepts"),
    "two on a line": (lambda m: m["ed25519"] + " " + m["other"], "holds more than one key"),
    "repeated": (lambda m: m["other"] + "\n\n" + m["other"], "Line 3 is the same key as line 1"),
    "nul": (lambda m: m["other"] + "\x00", "control characters"),
    "huge line": (lambda m: "ssh-ed25519 " + "A" * 9000, "longer than any public key"),
    "too many": (lambda m: "\n".join(ed25519_key_line(i) for i in range(21)), "At most 20 keys"),
    "nothing": (lambda m: " \n\n", "Paste at least one public key"),
}


def ed25519_key_line(i: int) -> str:
    """A well-formed ed25519 public key line (32 distinct bytes: any 32 bytes are a valid encoding)."""
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + hashlib.sha256(str(i).encode()).digest()
    return "ssh-ed25519 " + base64.b64encode(blob).decode() + f" key{i}"


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_paste_is_refused_with_the_reason_and_nothing_changes(api, made, case: str) -> None:
    client, data = api
    client.call_sync("ssh.keys.add", text=made["ed25519"])
    before = keys_file(data).read_bytes()
    make, reason = BAD[case]
    with pytest.raises(ApiError) as refused:
        client.call_sync("ssh.keys.add", text=make(made) if case == "nothing" else make(made) + "\n" + made["other"])
    assert refused.value.code == "bad_request"
    assert reason in refused.value.message
    assert "PRIVATE" not in refused.value.message and "BEGIN" not in refused.value.message.split("(")[0][-20:]
    assert keys_file(data).read_bytes() == before                                    # nothing saved
    assert len(client.call_sync("ssh.keys")["keys"]) == 1


def test_wrong_types_and_unknown_fingerprint(api, made) -> None:
    client, data = api
    with pytest.raises(ApiError) as refused:
        client.call_sync("ssh.keys.add", text=5)
    assert refused.value.code == "bad_request"
    with pytest.raises(ApiError) as refused:
        client.call_sync("ssh.keys.remove", fingerprint="SHA256:nothing")
    assert refused.value.code == "not_found" and not keys_file(data).exists()


def test_the_last_key_removed_turns_ssh_off(api, made) -> None:
    client, data = api
    keys = client.call_sync("ssh.keys.add", text=made["ed25519"] + "\n" + made["ecdsa256"])["keys"]
    left = client.call_sync("ssh.keys.remove", fingerprint=keys[0]["fingerprint"])
    assert [k["type"] for k in left["keys"]] == ["ecdsa-sha2-nistp256"] and left["ssh_on"]
    assert openssh_fingerprints(keys_file(data)) == [keys[1]["fingerprint"]]
    off = client.call_sync("ssh.keys.remove", fingerprint=keys[1]["fingerprint"])
    assert off["ssh_on"] is False and off["keys"] == [] and not keys_file(data).exists()
    assert off["on_image"] is False and off["service"].startswith("not on the Linebox image")


def test_the_image_sshd_reads_this_file_and_runs_only_with_a_key() -> None:
    """The image's sshd configuration and the engine agree on where keys are, and ssh.service
    starts only with a non-empty keys file; passwords never log in."""
    sshd = (IMAGE / "rootfs" / "sshd-linebox.conf").read_text()
    # the keys folder's parent (DATA/system/ssh) bound on /etc/ssh/linebox, where sshd reads it
    assert re.search(rf"^AuthorizedKeysFile /etc/ssh/linebox/{KEYS_FOLDER.name}/%u$", sshd, re.M)
    fstab = (IMAGE / "rootfs" / "fstab").read_text()
    assert re.search(rf"^/var/lib/linebox/{KEYS_FOLDER.parent}\s+/etc/ssh/linebox\s+none\s+bind,", fstab, re.M)
    assert re.search(r"^PasswordAuthentication no$", sshd, re.M)
    assert re.search(r"^KbdInteractiveAuthentication no$", sshd, re.M)
    unit = (IMAGE / "rootfs" / "ssh-service-linebox.conf").read_text()
    assert re.search(rf"^ConditionFileNotEmpty=/var/lib/linebox/{KEYS_FOLDER}/root$", unit, re.M)
