"""Update bundles: what they hold, how they are checked, how they are written to a slot.

A bundle is an uncompressed POSIX tar:

    bundle.json       {"format": "linebox-update", "version": 1, "release": "2026.12.1",
                       "boards": ["rpi4", "rpi5"], "data_schema": 1,
                       "images": {"boot": {"file": "boot.vfat", "size": N, "sha256": "..."},
                                  "root": {"file": "root.ext4", "size": N, "sha256": "..."}}}
    bundle.json.sig   the Ed25519 signature (64 raw bytes) of bundle.json's exact bytes
    boot.vfat         the boot slot's file system image
    root.ext4         the root slot's file system image (read-only root)

Checked before a byte goes to the inactive slot: the signature (one of the trusted public keys
shipped in the running root, /etc/linebox/update-keys/*.pem), the board, that every image is
present and whole (its member lies inside the file: a truncated download is refused here). The
SHA-256 of each image is checked while it is written; a mismatch wipes the slot's first MiB so
it can never boot, and the running slot is never touched.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from . import signature

FORMAT = "linebox-update"
VERSION = 1
MANIFEST = "bundle.json"
SIGNATURE = "bundle.json.sig"
IMAGES = ("boot", "root")
MAX_MANIFEST = 64 * 1024
CHUNK = 1024 * 1024
RELEASE_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+~-]{0,39}")
FILE_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,40}")


class BundleRefused(ValueError):
    """The bundle was refused; the message says why. The running slot was not touched."""


@dataclass(frozen=True)
class ImageRef:
    name: str          # "boot" | "root"
    file: str
    size: int
    sha256: str
    offset: int        # where its bytes start in the bundle


@dataclass(frozen=True)
class VerifiedBundle:
    path: Path
    release: str
    boards: tuple[str, ...]
    data_schema: int
    images: dict[str, ImageRef]
    key: str           # the file name of the key that signed it


def _refuse(why: str) -> BundleRefused:
    return BundleRefused(f"The update was refused: {why}. The running system was not changed.")


def _read_member(tf: tarfile.TarFile, name: str, limit: int) -> bytes:
    m = tf.next()
    if m is None or m.name != name or not m.isreg() or m.size > limit:
        raise _refuse(f"it does not have {name} where a Linebox update bundle has it (not a Linebox update?)")
    f = tf.extractfile(m)
    assert f is not None
    data = f.read(limit + 1)
    if len(data) != m.size:
        raise _refuse(f"its {name} is truncated")
    return data


def _parse_manifest(raw: bytes) -> dict:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _refuse("its manifest is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _refuse("its manifest is not a Linebox update manifest")
    if doc.get("version") != VERSION:
        raise _refuse(f"it is bundle format {doc.get('version')!r}; this Linebox reads format {VERSION}")
    release, boards, images = doc.get("release"), doc.get("boards"), doc.get("images")
    if not isinstance(release, str) or not RELEASE_RE.fullmatch(release):
        raise _refuse("its release name is missing or malformed")
    if not isinstance(boards, list) or not boards or not all(isinstance(b, str) for b in boards):
        raise _refuse("it does not say which boards it is for")
    if not isinstance(doc.get("data_schema"), int):
        raise _refuse("it does not say which data schema it expects")
    if not isinstance(images, dict) or sorted(images) != sorted(IMAGES):
        raise _refuse(f"it must carry exactly the images {', '.join(IMAGES)}")
    for name, ref in images.items():
        if not (isinstance(ref, dict) and isinstance(ref.get("file"), str) and FILE_RE.fullmatch(ref["file"])
                and isinstance(ref.get("size"), int) and ref["size"] > 0
                and isinstance(ref.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}", ref["sha256"])):
            raise _refuse(f"its {name} image entry is malformed")
    return doc


def trusted_keys(keys_dir: Path) -> list[Path]:
    return sorted(p for p in Path(keys_dir).glob("*.pem") if p.is_file())


def verify_bundle(path: Path, keys_dir: Path, board: str) -> VerifiedBundle:
    """Check signature, board and completeness of bundle `path` (see the module doc)."""
    path = Path(path)
    keys = trusted_keys(keys_dir)
    if not keys:
        raise _refuse(f"this appliance has no trusted update key in {keys_dir}")
    try:
        size = path.stat().st_size
        tf = tarfile.open(path, mode="r:")
    except (OSError, tarfile.TarError):
        raise _refuse("it is not a Linebox update bundle (not a tar file)") from None
    with tf:
        try:
            raw = _read_member(tf, MANIFEST, MAX_MANIFEST)
            sig = _read_member(tf, SIGNATURE, 1024)
            signer = next((k for k in keys if signature.verify(raw, sig, k)), None)
            if signer is None:
                raise _refuse("its signature does not match any trusted Linebox update key "
                              "(damaged, or not made by the Linebox release process)")
            doc = _parse_manifest(raw)                 # parsed only once the signature holds
            if board not in doc["boards"]:
                raise _refuse(f"it is for {', '.join(doc['boards'])}, not for this board ({board})")
            found: dict[str, ImageRef] = {}
            by_file = {ref["file"]: name for name, ref in doc["images"].items()}
            while (m := tf.next()) is not None:
                name = by_file.get(m.name)
                if name is None or not m.isreg() or name in found:
                    raise _refuse(f"it holds an unexpected member {m.name[:60]!r}")
                ref = doc["images"][name]
                if m.size != ref["size"] or m.offset_data + m.size > size:
                    raise _refuse(f"its {name} image is truncated ({m.size} bytes present, "
                                  f"{ref['size']} signed); download it again")
                found[name] = ImageRef(name, m.name, ref["size"], ref["sha256"], m.offset_data)
        except tarfile.TarError:
            raise _refuse("it is truncated or damaged; download it again") from None
    missing = [n for n in IMAGES if n not in found]
    if missing:
        raise _refuse(f"its {missing[0]} image is missing (truncated download?)")
    return VerifiedBundle(path, doc["release"], tuple(doc["boards"]), doc["data_schema"], found, signer.name)


def install_to_slot(bundle: VerifiedBundle, targets: dict[str, Path]) -> None:
    """Write each image to its target (the inactive slot's boot and root partitions), checking
    its SHA-256 as it goes; on a mismatch the target's start is wiped and BundleRefused raised."""
    for name in IMAGES:
        ref, dest = bundle.images[name], Path(targets[name])
        h = hashlib.sha256()
        with open(bundle.path, "rb") as src, open(dest, "r+b" if dest.exists() else "wb") as out:
            src.seek(ref.offset)
            left = ref.size
            while left > 0:
                chunk = src.read(min(CHUNK, left))
                if not chunk:
                    break
                h.update(chunk)
                out.write(chunk)
                left -= len(chunk)
            out.flush()
            os.fsync(out.fileno())
            if left or h.hexdigest() != ref.sha256:
                out.seek(0)
                out.write(b"\0" * min(CHUNK, ref.size))
                out.flush()
                os.fsync(out.fileno())
                raise _refuse(f"its {name} image does not match its signed checksum (damaged download); "
                              "the inactive slot was wiped")
