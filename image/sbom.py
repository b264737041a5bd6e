"""packages.txt ("name version arch" per line, from dpkg-query in the image) -> SPDX 2.3 JSON.

    python image/sbom.py build/image/packages.txt VERSION > sbom.spdx.json

Deterministic: sorted packages, `created` from SOURCE_DATE_EPOCH, namespace from the content hash.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path


def sbom(lines: list[str], version: str, epoch: int) -> dict:
    pkgs = sorted({tuple(ln.split()[:3]) for ln in lines if len(ln.split()) >= 3})
    digest = hashlib.sha256("\n".join(" ".join(p) for p in pkgs).encode()).hexdigest()[:16]
    packages = [{
        "SPDXID": "SPDXRef-Package-" + re.sub(r"[^A-Za-z0-9.-]", "-", f"{name}-{ver}-{arch}"),
        "name": name, "versionInfo": ver, "supplier": "Organization: Debian",
        "downloadLocation": "NOASSERTION", "filesAnalyzed": False,
        "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                          "referenceLocator": f"pkg:deb/debian/{name}@{ver}?arch={arch}"}],
    } for name, ver, arch in pkgs]
    return {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"linebox-image-{version}",
        "documentNamespace": f"https://linebox.invalid/spdx/image-{version}-{digest}",
        "creationInfo": {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)),
                         "creators": ["Tool: linebox image/sbom.py"]},
        "packages": packages,
    }


if __name__ == "__main__":
    lines = Path(sys.argv[1]).read_text().splitlines()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    print(json.dumps(sbom(lines, sys.argv[2], epoch), indent=1, sort_keys=True))
