#!/usr/bin/env bash
# Trains the example CNN ("lenet-fm") on Fashion-MNIST, from a fresh Debian 12 machine (as root):
# installs the packages, builds, and runs examples/fashion_mnist. Extra arguments go to the
# example (--help lists them); results land in ./runs/fashion_mnist.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh train
export GOMP_SPINCOUNT=10000
cmake --preset release -G Ninja >/dev/null
cmake --build --preset release -j "$(nproc)" --target fashion_mnist
exec build/release/examples/fashion_mnist/fashion_mnist "$@"
