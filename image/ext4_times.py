"""Set every inode's ctime and atime in an ext4 image made by `mkfs.ext4 -d TREE` to one epoch.

    python3 image/ext4_times.py IMAGE TREE EPOCH

Why: mkfs.ext4 -d (e2fsprogs 1.47.0, Debian bookworm) copies each source file's ctime and atime into
the image. `touch -d @SOURCE_DATE_EPOCH` sets mtime and atime, but the kernel sets ctime to the
moment of the touch, and reading the tree (mkfs itself, under relatime) moves atimes to "now": two
builds of the same commit then differ in every inode. (e2fsprogs 1.47.1 clamps times to
SOURCE_DATE_EPOCH itself.) mtime and crtime are already right (touch, E2FSPROGS_FAKE_TIME).
One debugfs run, two set_inode_field commands per path; E2FSPROGS_FAKE_TIME keeps the superblock's
write time fixed too.

Quoting: debugfs parses its command lines with libss, where a double-quoted word may hold anything
but a newline, a backslash is an ordinary character and `""` inside the quotes is one `"`. So every
path is written as "path" with its quotes doubled (systemd's `system-systemd\\x2dcryptsetup.slice`,
spaces, tabs, quotes, non-UTF-8 bytes all go through); a name with a newline or carriage return cannot
be one script line and stops the build with its name.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def quote(path: bytes) -> bytes:
    """One path as a debugfs (libss) word: in double quotes, each `"` doubled."""
    if b"\n" in path or b"\r" in path:
        raise SystemExit(f"ext4_times: a file name with a line break cannot be given to debugfs: {path!r}")
    return b'"' + path.replace(b'"', b'""') + b'"'


def commands(tree: Path, epoch: int) -> bytes:
    lines = []
    paths = [b"/"] + sorted(b"/" + os.fsencode(p.relative_to(tree).as_posix()) for p in tree.rglob("*"))
    for path in paths:
        for field in (b"ctime", b"atime"):
            lines.append(b"sif " + quote(path) + b" " + field + b" @%d" % epoch)
    return b"\n".join(lines) + b"\n"


def fix_times(image: Path, tree: Path, epoch: int) -> int:
    with tempfile.NamedTemporaryFile("wb", suffix=".debugfs", delete=False) as f:
        f.write(commands(tree, epoch))
        script = f.name
    try:
        env = {**os.environ, "E2FSPROGS_FAKE_TIME": str(epoch)}
        out = subprocess.run(["debugfs", "-w", "-f", script, str(image)], env=env, check=True,
                             capture_output=True)
    finally:
        os.unlink(script)
    # debugfs echoes each command; anything else it says is an error for one path
    said = [ln.decode("utf-8", "backslashreplace") for ln in out.stdout.splitlines() + out.stderr.splitlines()]
    errors = [ln for ln in said if ln.strip() and not ln.startswith("debugfs")]
    if errors:
        raise SystemExit("ext4_times: debugfs said:\n" + "\n".join(errors[:20]))
    return sum(1 for ln in out.stdout.splitlines() if ln.startswith(b"debugfs: sif"))


if __name__ == "__main__":
    n = fix_times(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
    print(f"ext4_times: {n // 2} inodes set to {sys.argv[3]}")
