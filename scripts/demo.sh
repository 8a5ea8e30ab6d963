#!/usr/bin/env bash
# Builds dmsim (Release) and runs its main job on bundled data: replay a
# PIT trace against the models and verify every read it records.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "== dmsim replay tests/traces/pit_datasheet.txt"
build/dmsim replay tests/traces/pit_datasheet.txt
