#!/usr/bin/env bash
# Check the README's two commands on a fresh Debian: debootstrap a minimal root, copy this source
# tree in (tracked and untracked-but-not-ignored files), then inside it run `./linebox.sh run`
# until the web UI answers, `linebox --version`, and `./linebox.sh test` on a few test files.
# Needs root and debootstrap (apt-get install debootstrap). Prints the measured times.
#
#   sudo tools/fresh-debian-check.sh bookworm /var/tmp/lb-bookworm [TEST FILES ...]
set -euo pipefail
suite=${1:?usage: fresh-debian-check.sh SUITE ROOT [TEST FILES...]}
root=${2:?usage: fresh-debian-check.sh SUITE ROOT [TEST FILES...]}
shift 2
tests=${*:-tests/setup_tools tests/web/test_browser.py tests/dsp/test_sanitizers.py tests/apps/test_voicemail_mail.py}
src=$(cd "$(dirname "$0")/.." && pwd)
[ ! -e "$root" ] || { echo "$root exists: give a new folder" >&2; exit 2; }

cleanup() { for m in dev sys proc; do umount -R "$root/$m" 2>/dev/null || true; done; }
trap cleanup EXIT
t0=$(date +%s)
debootstrap --variant=minbase "$suite" "$root" http://deb.debian.org/debian >"$root.debootstrap.log" 2>&1
echo "debootstrap $suite: $(( $(date +%s) - t0 )) s"
mkdir -p "$root/src"
(cd "$src" && git ls-files -co --exclude-standard | grep -v '^data/' | tar -c -T -) | tar -x -C "$root/src"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# A machine that reaches PyPI through a TLS proxy trusts its CA in the host bundle: pass it on.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/host-ca.crt"
printf '[global]\ncert = /etc/host-ca.crt\n' >"$root/etc/pip.conf"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev"
cat >"$root/check.sh" <<'INSIDE'
set -u
cd /src
t0=$(date +%s)
( ./linebox.sh run PORT=8099 DATA=/tmp/lbdata >/tmp/run.log 2>&1 ) &
runpid=$!
for _ in $(seq 1 1800); do
  if [ -x .venv/bin/python ] && .venv/bin/python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8099/login', timeout=2)" 2>/dev/null; then
    echo "./linebox.sh run: web UI answered $(( $(date +%s) - t0 )) s after the start (installs included)"; break
  fi
  kill -0 $runpid 2>/dev/null || { echo "./linebox.sh run stopped early:"; tail -30 /tmp/run.log; exit 1; }
  sleep 1
done
.venv/bin/linebox --version
kill -INT "$(cat /tmp/lbdata/linebox.pid)"; wait $runpid
echo "first-start log lines about prompts: $(grep -c prompt /tmp/run.log)"
t1=$(date +%s)
./linebox.sh test PYTEST_ARGS="$TESTS" >/tmp/test.log 2>&1; rc=$?
echo "./linebox.sh test: exit $rc after $(( $(date +%s) - t1 )) s (test packages included)"
tail -3 /tmp/test.log
exit $rc
INSIDE
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin TESTS="$tests" bash /check.sh
