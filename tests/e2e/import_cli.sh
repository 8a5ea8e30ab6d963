#!/bin/bash
# SPDX-License-Identifier: MIT
# dmsim import end to end: both formats convert through the real binary,
# --help exits 0, and bad options exit 2 naming what was wrong.
# usage: bash import_cli.sh DMSIM_BINARY TRACES_DIR
set -euo pipefail

dmsim=$1
traces=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmd=import
. "$(dirname "$0")/cli_lib.bash"

"$dmsim" import qemu "$traces/qemu_probe.log" -o "$work/q.txt" \
	--pit-irq0 trace --model-gsi 0,8 --to text --quiet ||
	fail "import qemu failed"
grep -q '^machine profile=qemu .*pit_irq0=off' "$work/q.txt" ||
	fail "import qemu: machine line '$(sed -n 2p "$work/q.txt")'"
"$dmsim" import ftrace "$traces/ftrace_report.raw" -o "$work/f.txt" \
	--tsc-hz 2445432000 --hpet-irq trace --quiet ||
	fail "import ftrace failed"
grep -q '^machine profile=kvm ' "$work/f.txt" || fail "import ftrace: no machine line"

"$dmsim" import qemu --help >"$work/out" || fail "import qemu --help"
grep -q '^usage: dmsim import qemu' "$work/out" || fail "import qemu --help: no usage"
"$dmsim" import --help >"$work/out" || fail "import --help"

expect_fail "bad --model-gsi 0,99" qemu in -o x --model-gsi 0,99
expect_fail "--pit-irq0 takes model or trace, not kvm" qemu in -o x --pit-irq0 kvm
expect_fail "needs IN and -o OUT" qemu in
expect_fail "unknown option --hpet-irq" qemu in -o x --hpet-irq trace
expect_fail "bad --tsc-hz 0" ftrace in -o x --tsc-hz 0
expect_fail "bad --mark-windows 2us" ftrace in -o x --mark-windows 2us
expect_fail "bad --mark-silences -" ftrace in -o x --mark-silences -
expect_fail "unknown option --mark-windows" qemu in -o x --mark-windows 5
expect_fail "the formats are ftrace and qemu; not pcap" pcap in -o x
echo "PASS: dmsim import, both formats, usage and bad options"
