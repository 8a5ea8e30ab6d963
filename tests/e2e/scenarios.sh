#!/usr/bin/env bash
# Every scenario trace under tests/traces replays with zero divergences,
# from its text form and from its binary form.  Traces whose name contains
# "wrong" carry deliberate errors and must exit 1; codec_* fixtures belong
# to the codec tests.  Each also passes the migration check at every
# event boundary, on one thread or several alike.
# usage: scenarios.sh DMSIM TRACES_DIR
set -euo pipefail
dmsim=$1
traces=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
for t in "$traces"/*.txt; do
	name=$(basename "$t" .txt)
	case "$name" in codec_*) continue ;; esac
	want=0
	case "$name" in *wrong*) want=1 ;; esac
	"$dmsim" convert "$t" "$tmp/$name.dmt"
	for f in "$t" "$tmp/$name.dmt"; do
		rc=0
		"$dmsim" replay "$f" >"$tmp/out" 2>&1 || rc=$?
		if [ "$rc" -ne "$want" ]; then
			cat "$tmp/out" >&2
			echo "FAIL: $f exited $rc, want $want" >&2
			exit 1
		fi
	done
	# A checkpoint at every event boundary restores to identical
	# behaviour, whatever the trace's expected values say.
	if ! "$dmsim" migrate-check "$t" >"$tmp/out" 2>&1; then
		cat "$tmp/out" >&2
		echo "FAIL: migrate-check $t" >&2
		exit 1
	fi
	grep -q ': identical$' "$tmp/out" || { cat "$tmp/out" >&2; exit 1; }
	n=$((n + 1))
done
[ "$n" -ge 5 ] || { echo "FAIL: only $n scenario traces found" >&2; exit 1; }
# Threads do not change the answer; --jobs takes 1 to 256.
t=$traces/lapic_ipi_pingpong.txt
"$dmsim" migrate-check --json --jobs 1 "$t" >"$tmp/one"
"$dmsim" migrate-check --json --jobs 4 "$t" >"$tmp/four"
cmp "$tmp/one" "$tmp/four" || { echo "FAIL: --jobs 4 differs" >&2; exit 1; }
for bad in 0 257 two; do
	rc=0
	"$dmsim" migrate-check --jobs "$bad" "$t" >/dev/null 2>"$tmp/err" || rc=$?
	[ "$rc" -eq 2 ] && grep -q -- "--jobs" "$tmp/err" ||
		{ echo "FAIL: --jobs $bad exited $rc" >&2; exit 1; }
done
echo "scenarios e2e: $n traces replayed as expected"
