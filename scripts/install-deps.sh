#!/usr/bin/env bash
# Installs the Debian packages mtp needs to build and test (skips what is
# already there). Run as root or with sudo available.
set -euo pipefail
build_pkgs=(make gcc clang libomp-dev libopenblas-openmp-dev libcjson-dev libpcre2-dev)
test_pkgs=(python3 python3-numpy python3-torch libclang-rt-14-dev)
want=("${build_pkgs[@]}")
[ "${1:-}" = "--with-tests" ] && want+=("${test_pkgs[@]}")
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
