#!/usr/bin/env bash
# Installs, with apt-get, whatever deltac's build and tests need and this
# Debian 12 machine does not have yet. Run as root (or it uses sudo).
set -euo pipefail
PACKAGES=(
    build-essential cmake pkg-config   # compiler and build
    libtcc-dev tcc                     # libtcc; libtcc1.a and tcc's headers
    libcjson-dev                       # the spec parser
    libssl-dev                         # SHA-256 of specs (libcrypto)
    zlib1g-dev                         # gzip'd IDX data, CRC-32 of checkpoints
    libcriterion-dev                   # the tests
    dataset-fashion-mnist              # specs/fashion_mnist.json and its test
)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all packages present"
    exit 0
fi
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
