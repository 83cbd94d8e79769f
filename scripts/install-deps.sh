#!/usr/bin/env bash
# Installs the Debian 12 packages nalgrad needs, only those missing. Run as root.
#   scripts/install-deps.sh           build + test dependencies
#   scripts/install-deps.sh train     ... plus what the training example uses (data, plots)
set -euo pipefail
packages=(cmake ninja-build g++ pkg-config clang-format
          libdnnl-dev ocl-icd-opencl-dev opencl-c-headers libtbb-dev libfmt-dev doctest-dev
          zlib1g-dev nlohmann-json3-dev libcli11-dev dataset-fashion-mnist
          clang-14 libclang-rt-14-dev libomp-14-dev)  # clang: the fuzz harnesses (tests/fuzz)
if [ "${1:-}" = train ]; then
  packages+=(gnuplot-nox graphviz)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
