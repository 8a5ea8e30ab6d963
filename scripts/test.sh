#!/usr/bin/env bash
# Builds dmsim and runs the whole test suite twice: a normal build, then
# one with AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
jobs=$(nproc)
for variant in build-test:OFF build-asan:ON; do
	dir=${variant%%:*}
	san=${variant##*:}
	echo "== $dir (sanitizers $san)"
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDMSIM_SANITIZE="$san" >/dev/null
	cmake --build "$dir" -j"$jobs" >/dev/null
	(cd "$dir" && ctest --output-on-failure -j"$jobs")
done
