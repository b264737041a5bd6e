"""Ed25519 signatures through the `openssl` command (in the image's package list): no Python
crypto dependency on the appliance. Strict argument lists, no shell."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

OPENSSL = "openssl"


def verify(message: bytes, signature: bytes, public_key_pem: Path) -> bool:
    """True if `signature` (64 raw bytes) is `public_key_pem`'s Ed25519 signature of `message`."""
    if len(signature) != 64:
        return False
    with tempfile.TemporaryDirectory(prefix="linebox-verify-") as tmp:
        msg, sig = Path(tmp) / "msg", Path(tmp) / "sig"
        msg.write_bytes(message)
        sig.write_bytes(signature)
        out = subprocess.run([OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey", str(public_key_pem), "-rawin",
                              "-in", str(msg), "-sigfile", str(sig)], capture_output=True, timeout=30)
    return out.returncode == 0


def sign(message: bytes, private_key_pem: Path) -> bytes:
    """The Ed25519 signature of `message` (the release machine's side: tools and tests)."""
    with tempfile.TemporaryDirectory(prefix="linebox-sign-") as tmp:
        msg = Path(tmp) / "msg"
        msg.write_bytes(message)
        out = subprocess.run([OPENSSL, "pkeyutl", "-sign", "-inkey", str(private_key_pem), "-rawin", "-in", str(msg)],
                             capture_output=True, timeout=30, check=True)
    return out.stdout


def generate_key(private_key_pem: Path, public_key_pem: Path) -> None:
    subprocess.run([OPENSSL, "genpkey", "-algorithm", "ed25519", "-out", str(private_key_pem)],
                   capture_output=True, timeout=30, check=True)
    subprocess.run([OPENSSL, "pkey", "-in", str(private_key_pem), "-pubout", "-out", str(public_key_pem)],
                   capture_output=True, timeout=30, check=True)
