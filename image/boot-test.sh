#!/bin/sh
# make image-boot-test: boot the built image (build/image, `make image` first) under
# qemu-system-aarch64 -M virt and check first boot, HTTPS, the watchdog, a signed A/B update and a
# rollback (image/boot_test.py says what is simulated and what is not). Needs (installed by host-deps.sh) qemu-system-arm,
# mtools, e2fsprogs (debugfs), device-tree-compiler, fdisk (sfdisk). Not part of `make test`.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
sh "$HERE/host-deps.sh" boot         # qemu-system-aarch64 and the tools to read the card (apt)
PY=${PYTHON:-$REPO/.venv/bin/python}
[ -x "$PY" ] || PY=python3
cd "$REPO" && exec "$PY" "$HERE/boot_test.py" "$@"
