#!/bin/sh
# make image: a flashable Linebox image for Raspberry Pi 4/5 (arm64) from Debian packages only.
#
# Needs (Debian host): mmdebstrap qemu-user-static binfmt-support genimage dosfstools mtools
# e2fsprogs device-tree-compiler; root (or unshare mode), network to the Debian mirror.
# Reproducible: SOURCE_DATE_EPOCH (default: the last commit's time) fixes package selection
# (snapshot.debian.org at that time), file times, file system UUIDs/volume ids and the MBR id.
# Output: build/image/linebox-<version>-arm64.img(.xz), packages.txt (name version), sbom.spdx.json
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
OUT=${OUT:-$REPO/build/image}
: "${SOURCE_DATE_EPOCH:=$(git -C "$REPO" log -1 --format=%ct)}"
export SOURCE_DATE_EPOCH
SNAPSHOT=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%dT%H%M%SZ)
MIRROR=${MIRROR:-http://snapshot.debian.org/archive/debian/$SNAPSHOT}
VERSION=$(cd "$REPO" && python3 -c 'import re;print(re.search(r"version=\"([^\"]+)\"", open("setup.py").read()).group(1))' 2>/dev/null || echo 0)
WORK=$OUT/work
rm -rf "$WORK"; mkdir -p "$WORK/rootfs" "$WORK/boot" "$WORK/selector" "$OUT"

PKGS=$(grep -v '^#' "$HERE/packages.txt" | tr '\n' ',' | sed 's/,$//')

# 1. root file system (foreign arch: qemu-user through binfmt), Linebox + units + overlays
mmdebstrap --arch=arm64 --variant=minbase --include="$PKGS" \
  --components="main,non-free-firmware" \
  --customize-hook='mkdir -p "$1/opt/linebox" && tar -C '"$REPO"' --exclude=.venv --exclude=.git --exclude=build -cf - . | tar -C "$1/opt/linebox" -xf -' \
  --customize-hook='chroot "$1" python3 -m venv --system-site-packages /opt/linebox/.venv' \
  --customize-hook='chroot "$1" /opt/linebox/.venv/bin/pip install --no-cache-dir -c /opt/linebox/constraints.txt "/opt/linebox[hw]"' \
  --customize-hook='cp '"$HERE"'/linebox-engine.service '"$HERE"'/linebox-web.service '"$HERE"'/firstboot/linebox-firstboot.service '"$HERE"'/linebox-update-check.service "$1/etc/systemd/system/"' \
  --customize-hook='cp '"$HERE"'/linebox.sysusers "$1/usr/lib/sysusers.d/linebox.conf"' \
  --customize-hook='mkdir -p "$1/etc/systemd/system.conf.d" && cp '"$HERE"'/system.conf.d/*.conf "$1/etc/systemd/system.conf.d/"' \
  --customize-hook='cp '"$HERE"'/rootfs/fstab "$1/etc/fstab" && mkdir -p "$1/var/lib/linebox" "$1/boot/selector" "$1/etc/linebox/update-keys"' \
  --customize-hook='cp '"$REPO"'/image/update-keys/*.pem "$1/etc/linebox/update-keys/" 2>/dev/null || true' \
  --customize-hook='chroot "$1" systemctl enable linebox-firstboot linebox-engine linebox-web linebox-update-check' \
  --customize-hook='chroot "$1" dpkg-query -W -f="\${Package} \${Version} \${Architecture}\n" > '"$OUT"'/packages.txt' \
  --customize-hook='rm -f "$1/etc/machine-id" "$1/var/lib/dbus/machine-id" "$1"/etc/ssh/ssh_host_*; touch "$1/etc/machine-id"' \
  bookworm "$WORK/rootfs.tar" "$MIRROR"
tar -C "$WORK/rootfs" -xf "$WORK/rootfs.tar"

# 2. boot slot A: the Pi firmware + kernel from the Debian packages, config.txt fragments and
#    device-tree overlays of the reference boards (board/overlays), the slot's cmdline.txt
python3 "$HERE/genimage_config.py" "$WORK"
cp -r "$WORK/rootfs/usr/lib/raspi-firmware/." "$WORK/boot/"
cp "$WORK"/rootfs/boot/vmlinuz-* "$WORK/boot/vmlinuz"; cp "$WORK"/rootfs/boot/initrd.img-* "$WORK/boot/initrd.img"
cp "$WORK"/rootfs/usr/lib/linux-image-*/broadcom/bcm2711-rpi-4-b.dtb "$WORK"/rootfs/usr/lib/linux-image-*/broadcom/bcm2712-rpi-5-b.dtb "$WORK/boot/" 2>/dev/null || true
mkdir -p "$WORK/boot/overlays"
for dts in "$REPO"/board/overlays/*.dts; do
  dtc -@ -I dts -O dtb -o "$WORK/boot/overlays/$(basename "$dts" -overlay.dts).dtbo" "$dts"
done
{ printf 'arm_64bit=1\nkernel=vmlinuz\ninitramfs initrd.img followkernel\nenable_uart=1\n'; cat "$REPO"/board/overlays/config-*.txt; } > "$WORK/boot/config.txt"
cp "$WORK/cmdline-A.txt" "$WORK/boot/cmdline.txt"
cp "$WORK/autoboot.txt" "$WORK/selector/autoboot.txt"

# 3. file system images with fixed ids and times (reproducible)
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
find "$WORK/rootfs" "$WORK/boot" "$WORK/selector" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkfs.vfat -n SELECTOR -i 4c690001 -C "$WORK/selector.vfat" $((32 * 1024)) && mcopy -s -i "$WORK/selector.vfat" "$WORK/selector/"* ::
mkfs.vfat -n BOOTA -i 4c690002 -C "$WORK/bootA.vfat" $((256 * 1024)) && mcopy -s -i "$WORK/bootA.vfat" "$WORK/boot/"* ::
mkfs.vfat -n BOOTB -i 4c690003 -C "$WORK/bootB.vfat" $((256 * 1024))
mkfs.ext4 -q -L rootA -U 4c696e65-0000-4000-8000-000000000005 -E hash_seed=4c696e65-0000-4000-8000-0000000000aa -d "$WORK/rootfs" "$WORK/rootA.ext4" 1536M
mkfs.ext4 -q -L rootB -U 4c696e65-0000-4000-8000-000000000006 "$WORK/rootB.ext4" 1536M
mkfs.ext4 -q -L data -U 4c696e65-0000-4000-8000-000000000007 "$WORK/data.ext4" 256M

# 4. the card image, its package list and SBOM
genimage --config "$WORK/genimage.cfg" --inputpath "$WORK" --outputpath "$OUT" --rootpath "$WORK/rootfs" --tmppath "$WORK/genimage-tmp"
mv "$OUT/linebox.img" "$OUT/linebox-$VERSION-arm64.img"
python3 "$HERE/sbom.py" "$OUT/packages.txt" "$VERSION" > "$OUT/sbom.spdx.json"
sha256sum "$OUT/linebox-$VERSION-arm64.img" > "$OUT/linebox-$VERSION-arm64.img.sha256"
echo "built $OUT/linebox-$VERSION-arm64.img"
