#!/usr/bin/env bash
# The two commands of the README, on a bare Debian (bookworm or later) with nothing but this
# source tree: bash and apt are enough. This script installs make (with apt, through sudo when
# not root) and hands over to the Makefile, which installs everything else.
#
#   ./linebox.sh run [PORT=8080] [DATA=data]   install what Linebox needs, then run it
#   ./linebox.sh test [PYTEST_ARGS='tests/web -x'] [JOBS=n]  install what the tests need, then run the
#                                              suite on JOBS pytest-xdist workers (default: one per core)
#   ./linebox.sh bench | lint                  the benchmarks / ruff
set -euo pipefail
cd "$(dirname "$0")"

usage() {
    echo "usage: ./linebox.sh run [PORT=8080] [DATA=data] | test [PYTEST_ARGS=...] [JOBS=n] | bench | lint" >&2
    exit 2
}
[ $# -ge 1 ] || usage
target=$1; shift
case "$target" in run|test|bench|lint) ;; *) usage ;; esac
for arg in "$@"; do
    case "$arg" in PORT=*|DATA=*|PYTEST_ARGS=*|JOBS=*) ;; *) echo "unknown setting: $arg" >&2; usage ;; esac
done

if ! command -v make >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "make is missing and so is sudo: run this as root once" >&2; exit 1; }
        sudo=sudo
    fi
    echo "installing make (apt) ..."
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make >/dev/null
fi
exec make "$target" "$@"
