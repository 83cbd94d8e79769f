#!/usr/bin/env bash
# Installs the built library into a temporary prefix, then configures, builds and runs the
# consumer project against it with find_package(nalgrad).
set -euo pipefail
build_dir=$1
source_dir=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
# The tape's internals and the kernels stay out of the package.
for internal in graph/tape.hpp graph/anomaly_checks.hpp graph/backward_fn.hpp core/block_pool.hpp \
                core/kernels/conv.hpp ops/checks.hpp; do
  if [ -e "$work/prefix/include/nalgrad/$internal" ]; then
    echo "consumer: the internal header $internal is installed" >&2
    exit 1
  fi
done
cmake -S "$source_dir" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
LD_LIBRARY_PATH="$work/prefix/lib:${LD_LIBRARY_PATH:-}" "$work/build/consumer"
