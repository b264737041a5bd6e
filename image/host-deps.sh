#!/bin/sh
# What the host needs for `make image` (build) or `make image-boot-test` (boot): installs the missing
# Debian packages with apt (a second run costs nothing) and, for the build, registers qemu-aarch64
# with binfmt_misc so the arm64 root's programs run under emulation. Usage: host-deps.sh build|boot
set -eu
case "${1:-}" in
  build) CMDS="mmdebstrap:mmdebstrap qemu-aarch64-static:qemu-user-static update-binfmts:binfmt-support
               genimage:genimage mkfs.vfat:dosfstools mcopy:mtools mkfs.ext4:e2fsprogs debugfs:e2fsprogs
               dtc:device-tree-compiler git:git python3:python3 openssl:openssl
               dpkg-architecture:dpkg-dev arch-test:arch-test" ;;
  boot) CMDS="qemu-system-aarch64:qemu-system-arm mcopy:mtools debugfs:e2fsprogs dtc:device-tree-compiler
              sfdisk:fdisk cpio:cpio openssl:openssl" ;;
  *) echo "usage: $0 build|boot" >&2; exit 2 ;;
esac
MISSING=""
for c in $CMDS; do
  command -v "${c%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${c%%:*}" ] || MISSING="$MISSING ${c#*:}"
done
if [ -n "$MISSING" ]; then
  MISSING=$(echo $MISSING | tr ' ' '\n' | sort -u | tr '\n' ' ')
  echo "host: installing$MISSING" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $MISSING >/dev/null
fi
if [ "$1" = build ]; then
  # mmdebstrap's eatmydata hook (build.sh: the base unpacked without fsyncs; it fetches the root's own
  # arm64 eatmydata from the mirror, so the host needs none, only dpkg-architecture): mmdebstrap >= 1.0
  if [ ! -x /usr/share/mmdebstrap/hooks/eatmydata/extract.sh ]; then
    echo "host: mmdebstrap has no eatmydata hook (/usr/share/mmdebstrap/hooks/eatmydata): needs mmdebstrap 1.0 or later" >&2
    exit 1
  fi
  # binfmt_misc: mounted (a container may not have it) and qemu-aarch64 registered and enabled
  [ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --import qemu-aarch64 2>/dev/null || true
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  if ! grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null; then
    echo "host: qemu-aarch64 is not registered with binfmt_misc (update-binfmts --enable qemu-aarch64)" >&2
    exit 1
  fi
fi
