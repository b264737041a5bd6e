#!/bin/sh
# Linebox first boot (linebox-firstboot.service). Idempotent: every step can run again after a
# power cut in the middle; the marker is written last.
set -eu
DATA=/var/lib/linebox

# 1. grow the data partition (the last one) to the end of the card, then the ext4 on it (online).
#    The disk is whatever holds the data partition: /dev/mmcblk0 on an SD card, /dev/sda on USB
#    boot, /dev/vda under qemu (image/boot-test.sh).
PARTDEV=$(findmnt -n -o SOURCE "$DATA")
DISK=/dev/$(lsblk -n -o PKNAME "$PARTDEV" | head -n 1)
PART=$(cat "/sys/class/block/$(basename "$PARTDEV")/partition")
# The data partition is a logical one (MBR: 5-7 inside the extended 4): the extended container
# grows first, then the partition; the kernel is told the new size of the mounted partition.
if [ "$PART" -ge 5 ]; then
    echo ",+" | sfdisk --no-reread --no-tell-kernel -q -N 4 "$DISK" || true   # unchanged when grown already
fi
echo ",+" | sfdisk --no-reread --no-tell-kernel -q -N "$PART" "$DISK" || true
partx -u -n "$PART" "$DISK"
resize2fs "$PARTDEV"

# 2. the device's own TLS certificate (never shipped in the image: each card makes its own)
/opt/linebox/.venv/bin/python -m firmware.tls "$DATA/tls"
chgrp -R linebox-web "$DATA/tls" && chmod 0640 "$DATA/tls/key.pem" && chmod 0750 "$DATA/tls"   # the web reads it

# 3. done (the owner's first-boot setup then happens on the web page, with the setup code)
touch "$DATA/.firstboot-done"
sync
