#!/bin/sh
# sshd's host keys for this device (ssh.service runs this before sshd; the image ships none, so
# no two cards share a key). On the data partition, so they survive updates of the read-only root.
# Idempotent: a key already there is kept; a half-written one (power cut) is made again.
set -eu
DIR=${SSH_KEY_DIR:-/var/lib/linebox/system/ssh}
mkdir -p "$DIR/authorized_keys"
chmod 0700 "$DIR"
for type in ed25519 ecdsa; do
    key=$DIR/ssh_host_${type}_key
    # whole: the private key reads and gives the public key next to it
    pub=$(ssh-keygen -y -f "$key" 2>/dev/null | cut -d' ' -f1-2 || true)
    if [ -z "$pub" ] || [ ! -s "$key.pub" ] || [ "$pub" != "$(cut -d' ' -f1-2 "$key.pub")" ]; then
        rm -f "$key" "$key.pub" "$key.tmp" "$key.tmp.pub"
        ssh-keygen -q -t "$type" -N "" -C "linebox-$(cat /etc/hostname 2>/dev/null || echo host)" -f "$key.tmp"
        sync "$key.tmp" "$key.tmp.pub"
        mv "$key.tmp.pub" "$key.pub" && mv "$key.tmp" "$key"
        sync "$DIR"
    fi
done
