#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (as root): installs the packages, builds
# the release and the AddressSanitizer + UBSan configurations, runs every test in both, runs the
# gradient-check program over every op and configuration, and fuzzes each libFuzzer harness
# (tests/fuzz/run.sh) for a fixed seed and input count, about 60 s each.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# libgomp reads this when it loads: idle OpenMP threads stop spinning sooner (core/runtime.hpp).
export GOMP_SPINCOUNT=10000
jobs=$(nproc)

echo "== release build"
cmake --preset release -G Ninja >/dev/null
cmake --build --preset release -j "$jobs"
echo "== formatting"
git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror
echo "== release tests"
ctest --preset release -j "$jobs"
echo "== gradient check suite"
build/release/tools/nalgrad-gradcheck

echo "== fuzzing (tests/fuzz/run.sh, a fixed seed and input count per harness, about 60 s each)"
# A fixed seed and input counts (about 60 s each here; 120 s at most): every CI run fuzzes the same
# inputs as the run made before submitting.
NALGRAD_FUZZ_SEED=1 NALGRAD_FUZZ_RUNS="checkpoint=50000 idx=12000 program=20000" \
  tests/fuzz/run.sh 120

# Last, so the suite's closing line is CTest's summary.
echo "== asan + ubsan build"
cmake --preset asan -G Ninja >/dev/null
cmake --build --preset asan -j "$jobs"
echo "== asan + ubsan tests"
ctest --preset asan -j "$jobs"
