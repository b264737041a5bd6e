"""The appliance's own TLS certificate, made on its first boot (issue 14).

`ensure_certificate(folder)` creates `key.pem` (P-256, mode 0600) and a self-signed `cert.pem`
(10 years, CN "linebox", subjectAltName for linebox.local and the usual local names) with the
`openssl` command, unless they exist; it returns the certificate's SHA-256 fingerprint, which the
setup page shows so the owner can compare it with what the browser reports. Written to temp names,
fsynced and renamed (a power cut leaves a whole pair or none). Never shipped in the image: every
card makes its own.

    python -m firmware.tls /var/lib/linebox/tls     # prints the fingerprint
"""
from __future__ import annotations

import hashlib
import os
import ssl
import subprocess
import tempfile
from pathlib import Path

from ..atomic import fsync_dir

KEY, CERT = "key.pem", "cert.pem"
DAYS = 3650


def fingerprint(cert_pem: Path) -> str:
    """SHA-256 of the certificate (DER), as browsers show it: "AB:CD:..."."""
    der = ssl.PEM_cert_to_DER_cert(Path(cert_pem).read_text("ascii"))
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def ensure_certificate(folder: Path, hostname: str = "linebox") -> str:
    folder = Path(folder)
    key, cert = folder / KEY, folder / CERT
    if key.is_file() and cert.is_file():
        return fingerprint(cert)
    folder.mkdir(mode=0o750, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".new-") as tmp:
        tkey, tcert = Path(tmp) / KEY, Path(tmp) / CERT
        san = f"DNS:{hostname},DNS:{hostname}.local,DNS:localhost,IP:127.0.0.1"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", str(DAYS), "-subj", f"/CN={hostname}", "-addext", f"subjectAltName={san}",
                        "-keyout", str(tkey), "-out", str(tcert)], check=True, capture_output=True, timeout=60)
        os.chmod(tkey, 0o600)
        os.chmod(tcert, 0o644)
        for p in (tkey, tcert):
            with open(p, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tkey, key)               # the key first: a cert without its key is never left
        os.replace(tcert, cert)
    fsync_dir(folder)
    return fingerprint(cert)
