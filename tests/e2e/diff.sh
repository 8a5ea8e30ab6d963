#!/usr/bin/env bash
# `dmsim diff` on checkpoint files written by `dmsim replay --save-state`:
# identical states, differing fields named, JSON, and bad input.
# usage: diff.sh DMSIM TRACES_DIR
set -euo pipefail
dmsim=$1
traces=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$dmsim" replay --save-state "$tmp/a.ck" "$traces/pit_datasheet.txt" >/dev/null
"$dmsim" replay --save-state "$tmp/b.ck" "$traces/pit_datasheet.txt" >/dev/null
"$dmsim" diff "$tmp/a.ck" "$tmp/b.ck" >"$tmp/out" || fail "identical states differ"
grep -q '^identical' "$tmp/out" || fail "no 'identical' line"

# Stop the same trace two events earlier: the second byte of the last
# latched count is still unread.
head -n -2 "$traces/pit_datasheet.txt" >"$tmp/short.txt"
"$dmsim" replay --save-state "$tmp/c.ck" "$tmp/short.txt" >/dev/null
rc=0
"$dmsim" diff "$tmp/a.ck" "$tmp/c.ck" >"$tmp/out" || rc=$?
[ "$rc" -eq 1 ] || fail "diff of different states exited $rc"
grep -q '^clock.now: 1023000 -> 1023000' "$tmp/out" && fail "equal field listed"
grep -q '^pit.ch2.count_latch: 0 -> 2$' "$tmp/out" || { cat "$tmp/out" >&2; fail "differing field not named"; }
rc=0
"$dmsim" diff --json "$tmp/a.ck" "$tmp/c.ck" >"$tmp/json" || rc=$?
[ "$rc" -eq 1 ] || fail "json diff exited $rc"
python3 - "$tmp/json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["identical"] is False and d["count"] == len(d["differences"]) > 0, d
assert any(x["device"] == "pit" for x in d["differences"]), d
PY

# Bad input: exit 2 with a reason.
for args in "$tmp/a.ck" "$tmp/a.ck $tmp/nope" "$tmp/a.ck $traces/pit_datasheet.txt"; do
	rc=0
	# shellcheck disable=SC2086
	"$dmsim" diff $args >/dev/null 2>"$tmp/err" || rc=$?
	[ "$rc" -eq 2 ] || fail "diff $args exited $rc, want 2"
done
grep -q 'not a checkpoint' "$tmp/err" || fail "trace file not refused with a reason"
echo "diff e2e: all checks passed"
