#!/usr/bin/env bash
# Builds dmsim (Release) and runs its main job on bundled data: replay
# traces against the models, verifying every value they record, and prove
# that a checkpoint at any event restores to identical behaviour.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "== dmsim replay tests/traces/pit_datasheet.txt"
build/dmsim replay tests/traces/pit_datasheet.txt
echo
echo "== every bundled scenario: replay, then migrate-check at every event"
for t in tests/traces/*.txt; do
	case "$(basename "$t")" in codec_* | *wrong*) continue ;; esac
	build/dmsim replay --json "$t" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%-34s %5d events %4d checked  divergences %d" % (sys.argv[1], d["events"],
      d["reads_checked"] + d["intacks"] + d["signals"], d["divergence_count"]))' "$(basename "$t")"
	build/dmsim migrate-check "$t" | sed -n 1p | sed 's/^/    /'
done
