"""The web UI's HTTPS certificate (made on the appliance's first boot by `firmware.tls` into
DATA/tls): its fingerprint for the setup page, and the uvicorn TLS options."""
from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

TLS_FOLDER = "tls"
CERT, KEY = "cert.pem", "key.pem"        # as firmware.tls writes them (the web reads, never makes them)


def fingerprint(cert_pem: Path) -> str:
    """SHA-256 of the certificate (DER), as browsers show it: "AB:CD:..."."""
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(Path(cert_pem).read_text("ascii"))).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def certificate_fingerprint(data_dir: Path | str) -> str | None:
    """The SHA-256 fingerprint of DATA/tls/cert.pem, or None when the web has no certificate."""
    cert = Path(data_dir) / TLS_FOLDER / CERT
    try:
        return fingerprint(cert)
    except (OSError, ValueError):
        return None


def tls_options(tls_dir: Path | str | None) -> dict:
    """uvicorn options to serve HTTPS with the certificate in `tls_dir` ({} for plain HTTP)."""
    if tls_dir is None:
        return {}
    cert, key = Path(tls_dir) / CERT, Path(tls_dir) / KEY
    if not (cert.is_file() and key.is_file()):
        raise FileNotFoundError(f"no TLS certificate in {tls_dir} (cert.pem and key.pem); the first boot makes "
                                f"them: python -m firmware.tls {tls_dir}")
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
