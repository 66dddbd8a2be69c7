#!/usr/bin/env bash
# Install the bookworm packages the MicroPython builds need, only those missing.
# apt-get update runs only when something has to be installed.
set -euo pipefail

PKGS=(
    build-essential cmake pkg-config python3 # unix port, mpy-cross, pioasm, makemanifest
    gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib # rp2 image
    dpkg-dev debian-archive-keyring ca-certificates # sources.sh: trixie via a private apt config
)

missing=()
for p in "${PKGS[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}" >&2
[ "$(id -u)" = 0 ] || {
    echo "deps.sh: error: need root to install: ${missing[*]}" >&2
    exit 1
}
export DEBIAN_FRONTEND=noninteractive
apt-get -q update >&2
apt-get -q install -y --no-install-recommends "${missing[@]}" >&2
