#!/usr/bin/env bash
# bench/setup.sh: installs, with apt-get, what the peer benchmark needs beyond
# deltac's own packages (scripts/setup.sh) and this Debian 12 machine does not
# have yet. Run as root (or it uses sudo). bench/run.sh skips a peer whose
# packages are missing, so this is optional.
set -euo pipefail
PACKAGES=(
    libfann-dev                        # the FANN peer (floatfann.h, libfloatfann)
    libcjson-dev                       # fann_bench reads meta.json
    python3-torch python3-numpy        # the PyTorch peer
    libopenblas0-pthread               # its BLAS: without it Debian's torch runs its
                                       # matrix products on the reference BLAS (libblas3),
                                       # 3x slower at batch 32
)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "bench/setup: all packages present"
    exit 0
fi
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "bench/setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
