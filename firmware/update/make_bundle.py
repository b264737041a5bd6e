"""The release side: build and sign an update bundle from a boot and a root image.

    python -m firmware.update.make_bundle --key release.key --release 2026.12.1 \\
        --boards rpi4,rpi5 build/image/work/bootA.vfat build/image/work/rootA.ext4 -o linebox-2026.12.1.bundle

The private key never goes on an appliance; its public half goes into the image
(image/update-keys/*.pem -> /etc/linebox/update-keys/).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import tarfile
from pathlib import Path

from .bundle import FORMAT, MANIFEST, SIGNATURE, VERSION
from .signature import sign

FILES = {"boot": "boot.vfat", "root": "root.ext4"}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def manifest_bytes(release: str, boards: list[str], images: dict[str, Path], data_schema: int = 1) -> bytes:
    return json.dumps({"format": FORMAT, "version": VERSION, "release": release, "boards": boards,
                       "data_schema": data_schema,
                       "images": {name: {"file": FILES[name], "size": Path(p).stat().st_size, "sha256": _sha256(Path(p))}
                                  for name, p in images.items()}}, sort_keys=True).encode()


def make_bundle(out: Path, key: Path, release: str, boards: list[str], boot: Path, root: Path) -> Path:
    images = {"boot": Path(boot), "root": Path(root)}
    manifest = manifest_bytes(release, boards, images)
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in ((MANIFEST, manifest), (SIGNATURE, sign(manifest, key))):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tf.addfile(info, io.BytesIO(data))
        for name, path in images.items():
            info = tarfile.TarInfo(FILES[name])
            info.size, info.mode = path.stat().st_size, 0o644
            with open(path, "rb") as f:
                tf.addfile(info, f)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="build and sign a Linebox update bundle")
    ap.add_argument("--key", required=True, type=Path, help="the release's Ed25519 private key (PEM)")
    ap.add_argument("--release", required=True)
    ap.add_argument("--boards", default="rpi4,rpi5")
    ap.add_argument("boot", type=Path)
    ap.add_argument("root", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True)
    a = ap.parse_args()
    print(make_bundle(a.out, a.key, a.release, a.boards.split(","), a.boot, a.root))


if __name__ == "__main__":
    main()
