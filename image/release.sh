#!/bin/sh
# The release key and signed update bundles (issue 14). Run on the release machine, never on an
# appliance; the private key never enters the repository (this script refuses a path inside it).
#
#   sh image/release.sh keygen DIR            DIR/release.key (Ed25519 private, 0600) + DIR/release.pem
#   sh image/release.sh bundle KEY RELEASE    bundle of the last `make image` (slot A's boot + root
#                                             images) -> build/image/linebox-RELEASE.bundle
#
# Baking the public key in: copy DIR/release.pem to image/update-keys/<name>.pem (commit it), then
# `make image`: every *.pem there is installed as /etc/linebox/update-keys/ and trusted.
# Key rotation: release N ships both the old and the new public key (signed by the old key); from
# release N+1 on, bundles are signed with the new key; the release after that drops the old .pem.
# A device that skipped release N still trusts only the old key: keep signing with the old key
# until every device is known to run N, or publish N as the stepping stone.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
inside_repo() {
  case "$(cd "$(dirname "$1")" 2>/dev/null && pwd)/" in "$REPO"/build/*) return 1 ;; "$REPO"/*) return 0 ;; esac
  return 1
}
case "${1:-}" in
keygen)
  DIR=${2:?usage: release.sh keygen DIR}
  mkdir -p "$DIR"
  if inside_repo "$DIR/x"; then echo "refused: keep the private key outside the repository (build/ is ignored)" >&2; exit 2; fi
  if [ -e "$DIR/release.key" ]; then echo "refused: $DIR/release.key exists; never overwrite a release key" >&2; exit 2; fi
  (umask 077 && openssl genpkey -algorithm ed25519 -out "$DIR/release.key")
  openssl pkey -in "$DIR/release.key" -pubout -out "$DIR/release.pem"
  echo "private key $DIR/release.key (keep it offline), public key $DIR/release.pem"
  ;;
bundle)
  KEY=${2:?usage: release.sh bundle KEY RELEASE}
  RELEASE=${3:?usage: release.sh bundle KEY RELEASE}
  if inside_repo "$KEY"; then echo "refused: the private key is inside the repository; move it out" >&2; exit 2; fi
  WORK=${OUT:-$REPO/build/image}/work
  PY=${PYTHON:-$REPO/.venv/bin/python}
  [ -x "$PY" ] || PY=python3
  cd "$REPO" && "$PY" -m firmware.update.make_bundle --key "$KEY" --release "$RELEASE" --boards "${BOARDS:-rpi4,rpi5}" \
    "$WORK/bootA.vfat" "$WORK/rootA.ext4" -o "${OUT:-$REPO/build/image}/linebox-$RELEASE.bundle"
  ;;
*)
  sed -n '2,16p' "$0"; exit 2 ;;
esac
