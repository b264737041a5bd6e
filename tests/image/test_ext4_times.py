"""image/ext4_times.py on a real ext4 image made the recipe's way (mke2fs -d of a tree): every inode's
ctime and atime become SOURCE_DATE_EPOCH, whatever the file names hold. The times are read back
through inode numbers (debugfs `ls -p` and `stat <N>`), so the check does not share the quoting it
tests. systemd's root holds names such as `system-systemd\\x2dcryptsetup.slice`: the build stopped
there in session 6."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

IMAGE = Path(__file__).resolve().parents[2] / "image"
sys.path.insert(0, str(IMAGE))
import ext4_times  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("mke2fs") is None or shutil.which("debugfs") is None,
                                reason="e2fsprogs is not installed")

EPOCH = 1764720000
NAMES = [
    "system-systemd\\x2dcryptsetup.slice",      # a backslash (systemd's escaping of '-')
    "back\\\\slash\\",                           # two backslashes, one at the end
    "with space", " leading", "trailing ",
    'dq"uote', 'two""quotes', '"', "s'quote",
    "tab\there", "#hash", "<12>", "ünïcode", "semi;colon",
]


def _debugfs(image: Path, *commands: str) -> str:
    script = image.with_suffix(".cmds")
    script.write_text("".join(c + "\n" for c in commands))
    return subprocess.run(["debugfs", "-f", str(script), str(image)], capture_output=True,
                          check=True).stdout.decode("utf-8", "surrogateescape")


def _all_inodes(image: Path) -> dict[int, str]:
    """Every inode reachable from the root, by inode number only (no path quoting involved)."""
    found, todo = {2: "/"}, [2]
    while todo:
        ino = todo.pop()
        for line in _debugfs(image, f"ls -p <{ino}>").splitlines():
            m = re.match(r"/(\d+)/(\d+)/\d+/\d+/(.*)/\d*/$", line)
            if not m or m.group(3) in (".", "..") or m.group(1) == "0":
                continue
            child, mode = int(m.group(1)), int(m.group(2), 8)
            found[child] = m.group(3)
            if mode & 0o170000 == 0o040000:
                todo.append(child)
    return found


def _times(image: Path, inodes: list[int]) -> dict[int, tuple[int, int]]:
    out = _debugfs(image, *(f"stat <{i}>" for i in inodes))
    ctimes = [int(h, 16) for h in re.findall(r"^ ctime: 0x([0-9a-f]+)", out, re.M)]
    atimes = [int(h, 16) for h in re.findall(r"^ atime: 0x([0-9a-f]+)", out, re.M)]
    assert len(ctimes) == len(atimes) == len(inodes)
    return dict(zip(inodes, zip(ctimes, atimes, strict=True), strict=True))


def _tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    sub = tree / "etc" / 'dir "with\\ odd" name'
    sub.mkdir(parents=True)
    for name in NAMES:
        (tree / name).write_text(name)
        (sub / name).write_text(name)
    (tree / os.fsdecode(b"latin1-\xe9")).write_text("not UTF-8")           # a name that is not UTF-8
    os.symlink("with space", tree / "link to space")
    return tree


def _mkfs(tree: Path, image: Path) -> None:
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", str(tree), str(image), "8M"], check=True,
                   capture_output=True, env={**os.environ, "E2FSPROGS_FAKE_TIME": str(EPOCH)})


def test_every_inode_gets_the_epoch_whatever_its_name(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    image = tmp_path / "root.ext4"
    _mkfs(tree, image)
    inodes = _all_inodes(image)
    names = set(inodes.values())
    assert set(NAMES) <= names and 'dir "with\\ odd" name' in names and "link to space" in names
    before = _times(image, sorted(inodes))
    assert any(t != (EPOCH, EPOCH) for t in before.values())     # mke2fs -d copied the tree's times

    n = ext4_times.fix_times(image, tree, EPOCH)

    assert n == 2 * (len(inodes) - 1)       # ctime and atime of every inode but lost+found (made by mke2fs)
    after = _times(image, sorted(inodes))
    assert {i: t for i, t in after.items() if t != (EPOCH, EPOCH)} == {}
    subprocess.run(["e2fsck", "-fn", str(image)], check=True, capture_output=True)


def test_a_name_with_a_line_break_stops_with_its_name_and_the_image_is_untouched(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "fine").write_text("x")
    (tree / "bad\nname").write_text("x")
    image = tmp_path / "root.ext4"
    _mkfs(tree, image)
    before = image.read_bytes()
    with pytest.raises(SystemExit, match=r"line break.*bad\\nname"):
        ext4_times.fix_times(image, tree, EPOCH)
    assert image.read_bytes() == before


def test_a_path_missing_from_the_image_is_an_error_not_silence(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    image = tmp_path / "root.ext4"
    _mkfs(tree, image)
    (tree / "added after mkfs").write_text("x")
    with pytest.raises(SystemExit, match="added after mkfs"):
        ext4_times.fix_times(image, tree, EPOCH)
