#!/bin/sh
# make image: a flashable Linebox image for Raspberry Pi 4/5 (arm64) from Debian packages only.
#
# Needs (Debian host, installed by image/host-deps.sh when missing): mmdebstrap qemu-user-static binfmt-support genimage dosfstools mtools
# e2fsprogs device-tree-compiler; root; network to the Debian mirror and to PyPI (the pinned
# Python dependencies of constraints.txt, built/installed under qemu-user inside the root).
# Reproducible: SOURCE_DATE_EPOCH (default: the last commit's time) fixes file times, file system UUIDs/volume ids/hash seeds and the
# MBR id. Linebox itself is taken from the committed tree (git archive HEAD, or SRC_COMMIT): commit first.
# Output: build/image/linebox-<version>-arm64.img, packages.txt (name version arch), sbom.spdx.json,
#         rootfs.sha256 (one line per file of the root: compare two builds with `diff`).
# Packages: deb.debian.org (bookworm, -updates, -security) by default; the versions taken are in
# packages.txt. To rebuild an old release with exactly its packages, USE_SNAPSHOT=1 takes
# snapshot.debian.org at SOURCE_DATE_EPOCH instead (needs that host reachable).
# Env: OUT (build/image), MIRROR, SECURITY_MIRROR, USE_SNAPSHOT, DEB_CACHE (build/image-cache: downloaded .debs,
#      reused by the next build).
# ROOT_ONLY=1 (`make image-root`, the CI smoke test): the same root, Linebox installed the same way, but
#      without what only boots it: the packages marked "# boot" in packages.txt (kernel, Pi firmware,
#      wifi firmware; so no initramfs-tools either), the tryboot module, mkinitramfs, the boot slot,
#      root B, the data partition and genimage. Output: OUT (build/image-root)/work/rootA.ext4,
#      packages.txt, rootfs.sha256.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# The build runs a copy of the recipe (image/ and board/, next to OUT): it takes an hour or more, and
# sh reads a script as it goes, so editing image/ during a build must not change the running one.
if [ -z "${LINEBOX_RECIPE_COPY:-}" ]; then
  REPO=$(dirname "$HERE")
  COPY=${OUT:-$REPO/build/image}.recipe
  rm -rf "$COPY" && mkdir -p "$COPY" && cp -a "$HERE" "$COPY/image" && cp -a "$REPO/board" "$COPY/board"
  LINEBOX_RECIPE_COPY=$COPY LINEBOX_REPO=$REPO exec sh "$COPY/image/build.sh" "$@"
fi
REPO=$LINEBOX_REPO                   # the repository: git, build/ (HERE is the copy's image/)
BOARD=$(dirname "$HERE")/board
sh "$HERE/host-deps.sh" build        # the host's tools (apt) and qemu-aarch64 in binfmt_misc
ROOT_ONLY=${ROOT_ONLY:-0}
case "$ROOT_ONLY" in 0) OUT=${OUT:-$REPO/build/image} ;; 1) OUT=${OUT:-$REPO/build/image-root} ;;
  *) echo "ROOT_ONLY=$ROOT_ONLY: use 0 or 1" >&2; exit 2 ;; esac
DEB_CACHE=${DEB_CACHE:-$REPO/build/image-cache}
SRC_COMMIT=${SRC_COMMIT:-HEAD}        # the commit built (another one: rebuild a release, or compare two builds)
: "${SOURCE_DATE_EPOCH:=$(git -C "$REPO" log -1 --format=%ct "$SRC_COMMIT")}"
export SOURCE_DATE_EPOCH
SNAPSHOT=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%dT%H%M%SZ)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
if [ "${USE_SNAPSHOT:-0}" = 1 ]; then
  MIRROR=http://snapshot.debian.org/archive/debian/$SNAPSHOT
  SECURITY_MIRROR=http://snapshot.debian.org/archive/debian-security/$SNAPSHOT
fi
# Both mirrors and PyPI must answer (3 tries): a clear failure now, not one deep inside mmdebstrap or pip.
for url in "$MIRROR/dists/bookworm/InRelease" "$SECURITY_MIRROR/dists/bookworm-security/InRelease" https://pypi.org/simple/pip/; do
  python3 - "$url" <<'PY' || { echo "build.sh: cannot reach $url (the build needs the Debian mirror and PyPI)" >&2; exit 3; }
import sys, time, urllib.request
for attempt in range(3):
    try:
        urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="HEAD"), timeout=30).close()
        break
    except OSError as e:
        print(f"{sys.argv[1]}: {e}", file=sys.stderr)
        if attempt == 2:
            sys.exit(1)
        time.sleep(10)
PY
done
COMPONENTS="main non-free-firmware"
# PI_KERNEL: "debian" (Debian's kernel only: boots a Pi 4 and the qemu boot test, but no Pi 5 and no
# tryboot on real hardware) or "raspberrypi" (adds Raspberry Pi's kernels for the Pi 4 and 5 from
# archive.raspberrypi.com, pinned so nothing else comes from there; needs RPI_ARCHIVE_KEY, that
# archive's public key: compare its fingerprint with Raspberry Pi's published one before a release
# build). See image/README.md, "Kernels". The raspberrypi path has not run yet (that archive is not
# reachable from the machine this recipe was written on).
PI_KERNEL=${PI_KERNEL:-debian}
case "$PI_KERNEL" in debian|raspberrypi) ;; *) echo "PI_KERNEL=$PI_KERNEL: use debian or raspberrypi" >&2; exit 2 ;; esac
if [ "$PI_KERNEL" = raspberrypi ] && [ ! -s "${RPI_ARCHIVE_KEY:-}" ]; then
  echo "PI_KERNEL=raspberrypi needs RPI_ARCHIVE_KEY=<file with archive.raspberrypi.com's public key>" >&2; exit 2
fi
VERSION=$(git -C "$REPO" show "$SRC_COMMIT:setup.py" | python3 -c 'import re,sys;print(re.search(r"version=\"([^\"]+)\"", sys.stdin.read()).group(1))' 2>/dev/null || echo 0)
WORK=$OUT/work
START=$(date +%s)
# an interrupted build may have left its chroot's mounts: never rm -rf through a bind of /dev
for m in boot/firmware dev/pts dev sys proc; do umount "$WORK/rootfs/$m" 2>/dev/null || true; done
if grep -q " $WORK/" /proc/mounts; then echo "refused: something is still mounted under $WORK" >&2; exit 1; fi
rm -rf "$WORK"; mkdir -p "$WORK/rootfs" "$WORK/boot" "$WORK/selector" "$OUT" "$DEB_CACHE"
git -C "$REPO" archive --format=tar "$SRC_COMMIT" > "$WORK/linebox-src.tar"

# Update keys the image trusts (public halves only; image/release.sh says how releases are signed).
UPDATE_KEYS=${UPDATE_KEYS:-$HERE/update-keys}
mkdir -p "$WORK/update-keys"
if ls "$UPDATE_KEYS"/*.pem >/dev/null 2>&1; then
  cp "$UPDATE_KEYS"/*.pem "$WORK/update-keys/"
else
  # No release key configured: a DEVELOPMENT image trusting a key made on this machine (kept in
  # build/, never committed), so bundles for tests (image/boot-test.sh) can be signed.
  DEVKEY=${DEVKEY:-$REPO/build/dev-release-key}
  [ -f "$DEVKEY/release.key" ] || sh "$HERE/release.sh" keygen "$DEVKEY"
  cp "$DEVKEY/release.pem" "$WORK/update-keys/development.pem"
  echo "WARNING: development image: it trusts $DEVKEY/release.pem (set UPDATE_KEYS to the release keys)" >&2
fi

BOOT_ONLY='#[[:space:]]*boot$'       # packages.txt's mark of what only boots the card (see ROOT_ONLY)
PKGS=$(grep -v '^#' "$HERE/packages.txt" | { if [ "$ROOT_ONLY" = 1 ]; then grep -v "$BOOT_ONLY"; else cat; fi; } \
  | sed 's/[[:space:]]*#.*//' | tr '\n' ',' | sed 's/,$//')
# Only to build the Python extensions (DSP core, fax, gpiod, spidev, pyalsaaudio); purged afterwards.
BUILD_PKGS=gcc,libc6-dev,python3-dev,libspandsp-dev,libtiff-dev,libasound2-dev,pkg-config
BUILD_PKGS_SPACED=$(echo "$BUILD_PKGS" | tr ',' ' ')

# 1a. the Debian base (packages only; foreign arch: qemu-user through binfmt). Cached per package
#     list, mirror and day in build/image-base (a rebuild of Linebox alone then skips ~30 min of dpkg
#     under emulation); BASE_CACHE=0 always makes it anew.
#     Not keyed by SOURCE_DATE_EPOCH (every commit changes it): the Linebox stage sets every file's
#     time to it, so the base's own epoch leaves no trace in the root (see image/README.md,
#     "Reproducibility", for what it does leave). A base missing packages of packages.txt (the list
#     grew since it was cached) is topped up with apt in 1b rather than rebuilt.
#     mkinitramfs runs once, at the end of 1b: update-initramfs is diverted to `true` while
#     packages are installed (the kernel's postinst, initramfs-tools' trigger and raspi-firmware
#     would each make one, ~10 min apiece under emulation).
#     Leaner and faster (session 10): dpkg leaves out man/info pages, translations and /usr/share/doc
#     but the copyright files (rootfs/dpkg-nodoc.cfg), and unpacks under eatmydata (mmdebstrap's own
#     hook: the arm64 libeatmydata from the mirror preloaded into dpkg while the base is made, removed
#     at its end: no fsync per file unpacked); both are part of the base's key.
DPKG_OPTS=$HERE/rootfs/dpkg-nodoc.cfg
EATMYDATA_HOOK=/usr/share/mmdebstrap/hooks/eatmydata
BASE_ID=$(printf '%s\n' "$PKGS" "$BUILD_PKGS" "$MIRROR" "$SECURITY_MIRROR" "$(cat "$DPKG_OPTS")" "hook eatmydata" \
  | sha256sum | cut -c1-16)
BASE_DIR=${BASE_DIR:-$REPO/build/image-base}        # not inside DEB_CACHE: that is copied into the root
mkdir -p "$BASE_DIR"
BASE=$BASE_DIR/base-$BASE_ID-$(date -u +%Y%m%d).tar
if [ "${BASE_CACHE:-1}" = 0 ] || [ ! -s "$BASE" ]; then
  mmdebstrap --arch=arm64 --variant=minbase --format=tar --include="$PKGS,$BUILD_PKGS" \
    --aptopt='Acquire::Check-Valid-Until "false"' --aptopt='Acquire::Retries "5"' \
    --skip=download/empty --dpkgopt="$DPKG_OPTS" --hook-dir="$EATMYDATA_HOOK" \
    --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs' \
    --essential-hook='ln -sf /bin/true "$1/usr/sbin/update-initramfs"' \
    --setup-hook='mkdir -p "$1/var/cache/apt/archives/"' \
    --setup-hook='sync-in '"$DEB_CACHE"' /var/cache/apt/archives/' \
    --customize-hook='sync-out /var/cache/apt/archives '"$DEB_CACHE" \
    --customize-hook='rm -rf "$1/var/cache/apt/archives"/*.deb' \
    bookworm "$BASE.part.tar" "deb $MIRROR bookworm $COMPONENTS" "deb $MIRROR bookworm-updates $COMPONENTS" \
    "deb $SECURITY_MIRROR bookworm-security $COMPONENTS"
  mv "$BASE.part.tar" "$BASE"
fi
echo "Debian base: $(( $(date +%s) - START )) s ($BASE)"

# 1b. Linebox into it (chroot under qemu-user): the committed tree, its venv (the C extensions
#     built here, then the compilers purged), units, first boot, keys, network, read-only root.
R=$WORK/rootfs
tar -C "$R" -xf "$BASE"
cleanup() {
  for m in boot/firmware dev/pts dev sys proc; do umount "$R/$m" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM         # so the EXIT trap unmounts on Ctrl-C or kill too
mount -t proc proc "$R/proc" && mount -t sysfs sysfs "$R/sys"
mount --bind /dev "$R/dev" && mount --bind /dev/pts "$R/dev/pts"
rm -f "$R/etc/resolv.conf" && cp /etc/resolv.conf "$R/etc/resolv.conf"         # pip's network, while building
in_root() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" DEBIAN_FRONTEND=noninteractive "$@"; }
# no initramfs until everything is installed (a base cached before this rule made its own: replaced)
if [ ! -e "$R/usr/sbin/update-initramfs.distrib" ]; then
  in_root dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs
fi
ln -sf /bin/true "$R/usr/sbin/update-initramfs"
# packages of packages.txt the cached base lacks (the list grew after the base was made)
MISSING=$(for p in $(echo "$PKGS" | tr ',' ' '); do
  in_root dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"; done)
if [ -n "$MISSING" ]; then
  echo "base lacks: $MISSING (installing from the mirror)"
  in_root apt-get -q update >/dev/null
  in_root apt-get install -y -q --no-install-recommends $MISSING >/dev/null
  in_root apt-get clean
fi
mkdir -p "$R/opt/linebox" && tar -C "$R/opt/linebox" -xf "$WORK/linebox-src.tar"
in_root python3 -m venv --system-site-packages /opt/linebox/.venv
# pip trusts what the build machine trusts (a proxy's CA, say); the bundle is not left in the image
cp "${BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}" "$R/tmp/build-ca.pem"
in_root env CFLAGS="-g0" PIP_CERT=/tmp/build-ca.pem PIP_DISABLE_PIP_VERSION_CHECK=1 /opt/linebox/.venv/bin/pip install -q --no-cache-dir \
  -c /opt/linebox/constraints.txt "/opt/linebox[hw]"
rm -rf "$R/opt/linebox/build" "$R"/opt/linebox/*.egg-info
in_root /opt/linebox/.venv/bin/linebox --version
# linebox-tryboot (image/tryboot/): Debian's kernel does not pass `reboot "0 tryboot"` on to the Pi
# firmware; this module does (a reboot notifier setting the firmware's reboot flag). Built against
# the image's own kernel's headers (installed for this and purged with the compilers), stripped, put
# in updates/ and autoloaded by udev on a Pi (its of: alias); see image/README.md, "Tryboot".
TRYBOOT_PKGS=""                      # (ROOT_ONLY: no kernel, so no module to build for it)
if [ "$ROOT_ONLY" = 0 ]; then
  KVER_DEB=$(ls "$R/lib/modules" | grep -- '-arm64$' | sort -V | tail -n 1)
  in_root apt-get -q update >/dev/null
  in_root apt-get install -y -q --no-install-recommends "linux-headers-$KVER_DEB" make >/dev/null
  rm -rf "$R/tmp/tryboot" && mkdir -p "$R/tmp/tryboot" && cp "$HERE"/tryboot/linebox-tryboot.c "$HERE"/tryboot/Kbuild "$R/tmp/tryboot/"
  in_root make -s -C "/usr/src/linux-headers-$KVER_DEB" M=/tmp/tryboot modules
  in_root strip --strip-debug /tmp/tryboot/linebox-tryboot.ko
  install -D -m 0644 "$R/tmp/tryboot/linebox-tryboot.ko" "$R/lib/modules/$KVER_DEB/updates/linebox-tryboot.ko"
  in_root depmod -a "$KVER_DEB"
  in_root /sbin/modinfo -F alias "linebox-tryboot" -k "$KVER_DEB" | grep -q 'raspberrypi,bcm2835-firmware'
  TRYBOOT_PKGS="linux-headers-$KVER_DEB make"
fi
in_root apt-get purge -y -q --autoremove $BUILD_PKGS_SPACED $TRYBOOT_PKGS >/dev/null
in_root /opt/linebox/.venv/bin/python -c "import dsp_ext, firmware.update, webui.app"
if [ "$PI_KERNEL" = raspberrypi ] && [ "$ROOT_ONLY" = 0 ]; then
  cp "$RPI_ARCHIVE_KEY" "$R/usr/share/keyrings/raspberrypi-archive.asc"
  echo "deb [signed-by=/usr/share/keyrings/raspberrypi-archive.asc] http://archive.raspberrypi.com/debian bookworm main" \
    > "$R/etc/apt/sources.list.d/raspberrypi.list"
  printf 'Package: *\nPin: origin archive.raspberrypi.com\nPin-Priority: -1\n\nPackage: linux-image-rpi-v8 linux-image-rpi-2712 /^linux-image-.*-rpi-(v8|2712)$/\nPin: origin archive.raspberrypi.com\nPin-Priority: 500\n' \
    > "$R/etc/apt/preferences.d/raspberrypi-kernels-only"
  in_root apt-get -q update >/dev/null
  in_root apt-get install -y -q --no-install-recommends linux-image-rpi-v8 linux-image-rpi-2712 >/dev/null
  in_root apt-get clean
fi
cp "$HERE"/linebox-engine.service "$HERE"/linebox-web.service "$HERE"/linebox-http-redirect.service \
  "$HERE"/firstboot/linebox-firstboot.service "$HERE"/linebox-update-check.service \
  "$HERE"/linebox-update-auto.service "$HERE"/linebox-update-auto.timer "$R/etc/systemd/system/"
cp "$HERE"/linebox.sysusers "$R/usr/lib/sysusers.d/linebox.conf" && in_root systemd-sysusers
mkdir -p "$R/etc/systemd/system.conf.d" && cp "$HERE"/system.conf.d/*.conf "$R/etc/systemd/system.conf.d/"
mkdir -p "$R/etc/systemd/network" && cp "$HERE"/rootfs/wired.network "$R/etc/systemd/network/20-wired.network"
echo linebox > "$R/etc/hostname"
cp "$HERE"/rootfs/fstab "$R/etc/fstab" && mkdir -p "$R/var/lib/linebox" "$R/boot/selector" "$R/etc/linebox/update-keys"
# Read-only root: what system services keep in /var/lib. logind's linger directory exists (empty,
# as systemd wants it: no write needed); timesyncd's clock (the Pi 4 has no real-time clock: time
# must not go backwards at boot), sshd's host keys (made per device at its first start by
# ssh-host-keys.sh) and systemd-random-seed's seed live on the data partition, under system/
# (skeleton made in data.ext4 below).
mkdir -p "$R/var/lib/systemd/linger" "$R/var/lib/systemd/timesync"
in_root chown systemd-timesync:systemd-timesync /var/lib/systemd/timesync
mkdir -p "$R/etc/ssh/sshd_config.d" "$R/etc/systemd/system/ssh.service.d" "$R/etc/ssh/linebox"     # linebox: fstab's bind
cp "$HERE"/rootfs/sshd-linebox.conf "$R/etc/ssh/sshd_config.d/linebox.conf"
cp "$HERE"/rootfs/ssh-service-linebox.conf "$R/etc/systemd/system/ssh.service.d/linebox.conf"
# systemd-random-seed's seed (loaded at boot, saved at shutdown) on the data partition: a symlink to a
# file systemd-random-seed makes there itself; the drop-in orders it after that mount
rm -f "$R/var/lib/systemd/random-seed" && ln -s /var/lib/linebox/system/random-seed "$R/var/lib/systemd/random-seed"
mkdir -p "$R/etc/systemd/system/systemd-random-seed.service.d"
cp "$HERE"/rootfs/random-seed-service-linebox.conf "$R/etc/systemd/system/systemd-random-seed.service.d/linebox.conf"
ln -sf /etc/machine-id "$R/var/lib/dbus/machine-id"      # what systemd-tmpfiles would link at boot
DATA_SKEL=$WORK/data-skel
rm -rf "$DATA_SKEL" && mkdir -p "$DATA_SKEL/system/timesync" "$DATA_SKEL/system/ssh"
chown "$(in_root id -u systemd-timesync):$(in_root id -g systemd-timesync)" "$DATA_SKEL/system/timesync"
chmod 0700 "$DATA_SKEL/system/ssh"
cp "$WORK"/update-keys/*.pem "$R/etc/linebox/update-keys/"
in_root systemctl enable systemd-networkd systemd-resolved linebox-firstboot linebox-engine linebox-web \
  linebox-http-redirect linebox-update-check linebox-update-auto.timer
in_root dpkg-query -W -f='${Package} ${Version} ${Architecture}\n' | LC_ALL=C sort > "$OUT/packages.txt"
# the one initramfs (the kernel with the newest version if there are several)
rm -f "$R/usr/sbin/update-initramfs" && in_root dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs
if [ "$ROOT_ONLY" = 0 ]; then           # (ROOT_ONLY: no kernel, no initramfs)
  KVER=$(ls "$R/lib/modules" | grep -- '-arm64$' | sort -V | tail -n 1)     # Debian's (Raspberry Pi's need none)
  rm -f "$R/initrd.img.old" "$R/vmlinuz.old"
  # The initramfs is cached beside the Debian base (BASE_DIR; ~10-35 min of mkinitramfs under
  # emulation otherwise), keyed by everything it is made of: the kernel's version, the time it is
  # made at (SOURCE_DATE_EPOCH: the kernel's own timestamp, not the commit's, so the same inputs make
  # the same bytes whatever the commit), every package with its version (initramfs-tools, its hooks,
  # busybox, klibc, udev, kmod, firmware, ...) and the files not from packages that mkinitramfs or
  # its hooks read (kernel modules and depmod's tables, initramfs-tools/modprobe/udev config, fstab,
  # crypttab, raspi-firmware's defaults). A hit is copied into /boot and the post-update hooks run on
  # it as update-initramfs would (raspi-firmware's copies it into /boot/firmware): the root is the
  # same as with a fresh one. REUSE_INITRAMFS=0 always makes it anew (and caches that one).
  INITRD_EPOCH=$(stat -c %Y "$R/boot/vmlinuz-$KVER")
  INITRD_ID=$({ echo "$KVER $INITRD_EPOCH"
    in_root dpkg-query -W -f='${Package} ${Version} ${Architecture}\n' | LC_ALL=C sort
    cd "$R" && set -- && for d in "lib/modules/$KVER" etc/initramfs-tools etc/initramfs etc/modprobe.d \
      lib/modprobe.d usr/lib/modprobe.d etc/udev etc/fstab etc/crypttab etc/default/raspi-firmware \
      etc/default/raspi-firmware-custom etc/default/raspi-extra-cmdline; do [ ! -e "$d" ] || set -- "$@" "$d"; done
    find "$@" -type l -printf 'link %p %l\n' | LC_ALL=C sort
    find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
  } | sha256sum | cut -c1-16)
  INITRD_CACHE=$BASE_DIR/initrd.img-$KVER-$INITRD_ID
  T_INITRD=$(date +%s)
  rm -f "$R/boot/initrd.img-$KVER" "$R/boot/firmware/initrd.img-$KVER"
  # raspi-firmware's post-update hook refuses an unmounted /boot/firmware when it does not see a
  # chroot (it then copies the initramfs there, as on a Pi): a bind mount of itself satisfies it
  mount --bind "$R/boot/firmware" "$R/boot/firmware"
  if [ "${REUSE_INITRAMFS:-1}" != 0 ] && [ -s "$INITRD_CACHE" ]; then
    echo "initramfs for $KVER: the cached one ($INITRD_CACHE: nothing it is made of changed)"
    cp "$INITRD_CACHE" "$R/boot/initrd.img-$KVER"
    in_root run-parts --arg="$KVER" --arg="/boot/initrd.img-$KVER" /etc/initramfs/post-update.d/
  else
    echo "initramfs for $KVER: made anew (${REUSE_INITRAMFS:+REUSE_INITRAMFS=$REUSE_INITRAMFS, }cache $INITRD_CACHE)"
    in_root env SOURCE_DATE_EPOCH="$INITRD_EPOCH" update-initramfs -c -k "$KVER"
    cp "$R/boot/initrd.img-$KVER" "$INITRD_CACHE.part" && mv "$INITRD_CACHE.part" "$INITRD_CACHE"
  fi
  umount "$R/boot/firmware"
  echo "initramfs for $KVER: $(( $(date +%s) - T_INITRD )) s"
fi
cleanup
trap - EXIT
# apt's binary caches (pkgcache.bin, srcpkgcache.bin) hold the times of the package lists: two builds
# of one commit differed in 6 bytes of pkgcache.bin and nothing else (session 7); apt remakes them
rm -rf "$R/var/cache/apt/archives"/*.deb "$R/var/lib/apt/lists"/* "$R/var/log"/* "$R/var/cache/ldconfig/aux-cache" \
  "$R"/var/cache/apt/*.bin "$R"/root/.cache "$R"/tmp/* "$R"/var/tmp/*
rm -f "$R/etc/machine-id" "$R"/etc/ssh/ssh_host_*; touch "$R/etc/machine-id"
rm -f "$R/etc/resolv.conf" && ln -s ../run/systemd/resolve/stub-resolv.conf "$R/etc/resolv.conf"        # systemd-resolved's, at run time
echo "root file system: $(( $(date +%s) - START )) s"
# root A's file system image (read-only on the card) with fixed ids, hash seed and times (reproducible)
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
find "$WORK/rootfs" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$WORK/rootfs" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) > "$OUT/rootfs.sha256"
mkfs.ext4 -q -L rootA -U 4c696e65-0000-4000-8000-000000000005 -E hash_seed=4c696e65-0000-4000-8000-0000000000aa -d "$WORK/rootfs" "$WORK/rootA.ext4" 1536M
python3 "$HERE/ext4_times.py" "$WORK/rootA.ext4" "$WORK/rootfs" "$SOURCE_DATE_EPOCH"     # ctime/atime: see there
if [ "$ROOT_ONLY" = 1 ]; then
  rm -rf "$WORK/rootfs"
  echo "built $WORK/rootA.ext4 (ROOT_ONLY: no boot slot, no card image) in $(( $(date +%s) - START )) s"
  exit 0
fi

# 2. boot slot A: the Pi firmware + kernel from the Debian packages, config.txt fragments and
#    device-tree overlays of the reference boards (board/overlays), the slot's cmdline.txt
cat "$BOARD"/overlays/config-*.txt > "$WORK/config-fragments.txt"
python3 "$HERE/genimage_config.py" "$WORK" "$WORK/config-fragments.txt" "$PI_KERNEL"
cp -r "$WORK/rootfs/usr/lib/raspi-firmware/." "$WORK/boot/"
cp "$WORK/rootfs/boot/vmlinuz-$KVER" "$WORK/boot/vmlinuz"; cp "$WORK/rootfs/boot/initrd.img-$KVER" "$WORK/boot/initrd.img"
for dtb in "$WORK"/rootfs/usr/lib/linux-image-*/broadcom/bcm2711-rpi-4-b.dtb "$WORK"/rootfs/usr/lib/linux-image-*/broadcom/bcm2712-rpi-5-b.dtb; do
  if [ -e "$dtb" ]; then cp "$dtb" "$WORK/boot/"; fi
done
mkdir -p "$WORK/boot/overlays"
for dts in "$BOARD"/overlays/*.dts; do
  dtc -q -@ -I dts -O dtb -o "$WORK/boot/overlays/$(basename "$dts" -overlay.dts).dtbo" "$dts"
done
if [ "$PI_KERNEL" = raspberrypi ]; then      # the Pis' own kernels, DTBs and overlays (see 1b)
  for flavour in v8:kernel8.img 2712:kernel_2712.img; do
    KV=$(ls "$WORK/rootfs/lib/modules" | grep -- "-rpi-${flavour%%:*}\$" | sort -V | tail -n 1)
    [ -n "$KV" ] || { echo "no Raspberry Pi kernel rpi-${flavour%%:*} in the root" >&2; exit 2; }
    cp "$WORK/rootfs/boot/vmlinuz-$KV" "$WORK/boot/${flavour#*:}"
    cp "$WORK/rootfs/usr/lib/linux-image-$KV"/broadcom/bcm27*.dtb "$WORK/boot/"
    mkdir -p "$WORK/boot/overlays" && cp "$WORK/rootfs/usr/lib/linux-image-$KV"/overlays/* "$WORK/boot/overlays/"
  done
fi
cp "$WORK/config.txt" "$WORK/boot/config.txt"
cp "$WORK/cmdline-A.txt" "$WORK/boot/cmdline.txt"
cp "$WORK/autoboot.txt" "$WORK/selector/autoboot.txt"

# 3. file system images with fixed ids, hash seeds and times (reproducible; root A's: above)
find "$WORK/boot" "$WORK/selector" "$DATA_SKEL" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkfs.vfat --invariant -n SELECTOR -i 4c690001 -C "$WORK/selector.vfat" $((32 * 1024)) && mcopy -m -s -i "$WORK/selector.vfat" "$WORK/selector/"* ::
mkfs.vfat --invariant -n BOOTA -i 4c690002 -C "$WORK/bootA.vfat" $((256 * 1024)) && mcopy -m -s -i "$WORK/bootA.vfat" "$WORK/boot/"* ::
mkfs.vfat --invariant -n BOOTB -i 4c690003 -C "$WORK/bootB.vfat" $((256 * 1024))
mkfs.ext4 -q -L rootB -U 4c696e65-0000-4000-8000-000000000006 -E hash_seed=4c696e65-0000-4000-8000-0000000000bb "$WORK/rootB.ext4" 1536M
mkfs.ext4 -q -L data -U 4c696e65-0000-4000-8000-000000000007 -E hash_seed=4c696e65-0000-4000-8000-0000000000cc -d "$DATA_SKEL" "$WORK/data.ext4" 256M
python3 "$HERE/ext4_times.py" "$WORK/data.ext4" "$DATA_SKEL" "$SOURCE_DATE_EPOCH"

# 4. the card image, its package list and SBOM
genimage --config "$WORK/genimage.cfg" --inputpath "$WORK" --outputpath "$OUT" --rootpath "$WORK/rootfs" --tmppath "$WORK/genimage-tmp"
mv "$OUT/linebox.img" "$OUT/linebox-$VERSION-arm64.img"
python3 "$HERE/sbom.py" "$OUT/packages.txt" "$VERSION" > "$OUT/sbom.spdx.json"
(cd "$OUT" && sha256sum "linebox-$VERSION-arm64.img" "rootfs.sha256" > "linebox-$VERSION-arm64.img.sha256")
cp "$WORK/boot/vmlinuz" "$WORK/boot/initrd.img" "$OUT/"       # for image/boot-test.sh (qemu -kernel)
rm -rf "$WORK/rootfs" "$WORK/genimage-tmp"
echo "built $OUT/linebox-$VERSION-arm64.img in $(( $(date +%s) - START )) s"
