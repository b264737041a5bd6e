"""Compare two builds' rootfs.sha256 (image/build.sh writes one line per file of the root) and say
what differs, grouped so each group can be explained (image/README.md, "Reproducibility").

    python3 image/compare_builds.py BUILD_A/rootfs.sha256 BUILD_B/rootfs.sha256 [--changed-src FILE]

--changed-src: the Linebox source files that differ between the two builds' commits (one path a
line, e.g. `git diff --name-only A B`); their copies and compiled forms are expected to differ.
"""
from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path


def load(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        out[name.removeprefix("./")] = digest
    return out


GROUPS = [
    ("linebox source (committed tree)", re.compile(r"^opt/linebox/(?!\.venv/)")),
    ("linebox installed in the venv", re.compile(r"^opt/linebox/\.venv/lib/python3\.\d+/site-packages/"
                                                  r"(firmware|webui|drivers|dsp_ext|board|linebox)")),
    ("python bytecode elsewhere (.pyc)", re.compile(r"\.pyc$")),
    ("the venv's own files", re.compile(r"^opt/linebox/\.venv/")),
    ("dpkg and apt state", re.compile(r"^var/lib/(dpkg|apt)/|^var/cache/(apt|debconf)/|^var/lib/ucf/")),
    ("boot files (kernel, initramfs)", re.compile(r"^boot/")),
    ("etc", re.compile(r"^etc/")),
    ("other", re.compile(r"")),
]


def compare(a: dict[str, str], b: dict[str, str], changed_src: set[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for name in sorted(set(a) | set(b)):
        if a.get(name) == b.get(name):
            continue
        state = "only in A" if name not in b else "only in B" if name not in a else "differs"
        rel = name.removeprefix("opt/linebox/")
        if name.startswith("opt/linebox/") and rel in changed_src:
            groups["linebox source changed between the commits"].append(f"{state}: {name}")
            continue
        for label, rx in GROUPS:
            if rx.search(name):
                groups[label].append(f"{state}: {name}")
                break
    return groups


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--changed-src", type=Path)
    ap.add_argument("--show", type=int, default=12, help="names shown per group")
    args = ap.parse_args()
    changed = set(args.changed_src.read_text().split()) if args.changed_src else set()
    a, b = load(args.a), load(args.b)
    groups = compare(a, b, changed)
    print(f"A: {len(a)} files, B: {len(b)} files, {sum(map(len, groups.values()))} differ")
    for label, names in groups.items():
        print(f"\n## {label}: {len(names)}")
        for n in names[: args.show]:
            print("   " + n)


if __name__ == "__main__":
    main()
