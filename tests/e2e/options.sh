#!/usr/bin/env bash
# docs/profiles.md carries the option table `dmsim options` prints; this
# keeps the two from drifting apart.
# usage: options.sh DMSIM TRACES_DIR
set -euo pipefail
dmsim=$1
doc="$(dirname "$0")/../../docs/profiles.md"
want=$(sed -n '/<!-- options:begin -->/,/<!-- options:end -->/p' "$doc" | sed '1d;$d')
got=$("$dmsim" options)
if [ "$want" != "$got" ]; then
	echo "docs/profiles.md is out of date; regenerate its table with 'dmsim options'" >&2
	diff <(echo "$want") <(echo "$got") >&2 || true
	exit 1
fi
rc=0
"$dmsim" options extra >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ]
echo "options e2e: table in sync"
