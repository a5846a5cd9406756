#!/bin/bash
# scripts/test.sh — install missing dependencies, build ukey from scratch in a fresh build
# directory, and run every test with CTest. Exits non-zero if any test fails.
#   UKEY_BUILD_DIR   build directory (default: build-test in the source tree; wiped first)
#   CTEST_PARALLEL_LEVEL   parallel tests (default: number of CPUs)
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
build=${UKEY_BUILD_DIR:-$root/build-test}
jobs=$(nproc 2>/dev/null || echo 2)

"$root/scripts/deps.sh"

echo "== configuring and building in $build (from scratch)"
rm -rf -- "$build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$jobs"

echo "== running all tests"
ctest --test-dir "$build" --output-on-failure -j "${CTEST_PARALLEL_LEVEL:-$jobs}"
