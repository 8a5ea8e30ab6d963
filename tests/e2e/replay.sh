#!/usr/bin/env bash
# End-to-end checks of `dmsim replay`: exit codes, the divergence report
# naming the event, JSON output, and bad input.
# usage: replay.sh DMSIM TRACES_DIR
set -euo pipefail
dmsim=$1
traces=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

expect_rc() {
	local want=$1; shift
	local rc=0
	"$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	[ "$rc" -eq "$want" ] || { cat "$tmp/out" "$tmp/err" >&2; fail "$* exited $rc, want $want"; }
}

# A trace whose every expected value the datasheet model reproduces.
expect_rc 0 "$dmsim" replay "$traces/pit_datasheet.txt"
grep -q '^divergences: 0$' "$tmp/out" || fail "no 'divergences: 0' line"
grep -q '17 reads checked' "$tmp/out" || fail "read count missing"

# The same trace with one wrong expected value: exit 1, the event named.
expect_rc 1 "$dmsim" replay "$traces/pit_wrong_value.txt"
grep -q 'divergence at event 26 (t=1015000 ns)' "$tmp/out" || fail "event not named"
grep -q 'expected 0x6, got 0x7' "$tmp/out" || fail "values not shown"
grep -q 'ch2.n = 12' "$tmp/out" || fail "device state not shown"

# JSON: one object with the divergence and the totals.
expect_rc 1 "$dmsim" replay --json "$traces/pit_wrong_value.txt"
python3 - "$tmp/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["divergence_count"] == 1, d
div = d["divergences"][0]
assert div["event"] == 26 and div["time_ns"] == 1015000, div
assert div["expected"] == "0x6" and div["actual"] == "0x7", div
assert div["device"] == "pit" and div["state"]["ch2.bcd"] == "1", div
assert d["reads_checked"] == 17 and d["events"] == 33, d
PY

# Binary encoding replays the same way.
"$dmsim" convert "$traces/pit_datasheet.txt" "$tmp/pit.dmt"
expect_rc 0 "$dmsim" replay "$tmp/pit.dmt"
grep -q '(binary)' "$tmp/out" || fail "binary not detected"

# An expected #GP is checked both ways: KVM accepts a non-zero x2APIC EOI
# write, and an access the trace expects to complete must not fault.
expect_rc 1 "$dmsim" replay --machine profile=kvm "$traces/lapic_x2apic_gp.txt"
grep -q 'divergence at event 5 (t=500 ns)' "$tmp/out" || fail "kvm EOI write not named"
grep -q 'expected #GP, got the write completing' "$tmp/out" || fail "missing #GP not shown"
grep -q '^divergences: 1$' "$tmp/out" || fail "kvm: other divergences"
sed 's/^400  cpu0 msr.w 0x802 8 0x5        gp/400 cpu0 msr.w 0x802 8 0x5/' \
	"$traces/lapic_x2apic_gp.txt" >"$tmp/gp.txt"
expect_rc 1 "$dmsim" replay "$tmp/gp.txt"
grep -q 'expected the access to complete, got #GP' "$tmp/out" || fail "unexpected #GP not shown"

# The machine line can be overridden: under KVM's arithmetic the
# datasheet's NULL COUNT and BCD expectations diverge.
expect_rc 1 "$dmsim" replay --machine 'pit=kvm' "$traces/pit_datasheet.txt"

# Signals are outputs: a SIPI with another start page, or an NMI that
# never came, is a divergence.
sed 's/^500  cpu1 sipi   -          - 0x9f/500  cpu1 sipi - - 0x9e/' "$traces/lapic_signals.txt" >"$tmp/sig.txt"
expect_rc 1 "$dmsim" replay "$tmp/sig.txt"
grep -q 'expected sipi 0x9e, got sipi 0x9f' "$tmp/out" || { cat "$tmp/out" >&2; fail "signal mismatch not shown"; }
printf 'dmtrace 1\n10 cpu0 nmi - - ?\n' >"$tmp/nonmi.txt"
expect_rc 1 "$dmsim" replay "$tmp/nonmi.txt"
grep -q 'expected nmi, got no signal' "$tmp/out" || fail "missing signal not shown"

# Bad input: exit 2 and a message naming the file and line.
printf 'dmtrace 1\n0 cpu0 pio.w 0x43 1 0x34\n5 cpu0 pio.x 0x40 1 0x00\n' >"$tmp/bad.txt"
expect_rc 2 "$dmsim" replay "$tmp/bad.txt"
grep -q 'bad.txt:3' "$tmp/err" || { cat "$tmp/err" >&2; fail "line not named"; }
printf 'dmtrace 1\nmachine pit=nosuch\n' >"$tmp/badcfg.txt"
expect_rc 2 "$dmsim" replay "$tmp/badcfg.txt"
grep -q "pit" "$tmp/err" || fail "option not named"
printf 'dmtrace 1\n0 cpu3 pio.r 0x40 1 ?\n' >"$tmp/badcpu.txt"
expect_rc 2 "$dmsim" replay "$tmp/badcpu.txt"
grep -q 'event 0' "$tmp/err" || fail "event not named for a missing vcpu"
expect_rc 2 "$dmsim" replay "$tmp/does-not-exist.txt"
expect_rc 2 "$dmsim" replay
expect_rc 2 "$dmsim" replay --bogus "$traces/pit_datasheet.txt"
expect_rc 0 "$dmsim" replay --help
echo "replay e2e: all checks passed"
