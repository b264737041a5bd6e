"""python -m firmware.tls FOLDER: create the certificate if missing, print its fingerprint."""
import sys
from pathlib import Path

from . import ensure_certificate

print(ensure_certificate(Path(sys.argv[1] if len(sys.argv) > 1 else "/var/lib/linebox/tls")))
