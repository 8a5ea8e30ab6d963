#!/usr/bin/env bash
# Capture -> import -> replay of the probe guest under QEMU: `mkprobe
# --qemu` (guests/mkprobe.c) is the firmware of a qemu-system-x86_64
# -enable-kvm pc machine with KVM's in-kernel LAPIC, IOAPIC, 8259 pair and
# PIT and QEMU's HPET, RTC and PM timer, started paused; `dmsim kvm
# capture --pid` records it from its first instruction, and the capture
# is imported and replayed with the kvm profile and the capture tolerance
# (docs/importers.md, "The probe guest under QEMU").
#
# Every read and accepted vector must match, the time-derived ones within
# the tolerance, as in capture.sh; QEMU's HPET enable and RTC divider
# release are start writes too, its PM timer's clock starts where the
# importer's inference puts it, and its RTC's PF follows the capture's
# IRQ8 raises (rtc_pf_trace).  Lost events, any divergence, too few
# reads of any device or a missing interrupt fail.
# Skips (exit 77) without root, /dev/kvm, tracefs, qemu-system-x86_64, a
# C compiler or python3.
# usage: capture_qemu.sh DMSIM TRACES_DIR
# DMSIM_CAPTURE_KEEP=DIR keeps the capture, its trace and the replay in
# DIR/capture_qemu.
set -euo pipefail
dmsim=$1
here=$(cd "$(dirname "$0")" && pwd)
guests=$here/../../guests
iterations=${DMSIM_PROBE_ITERATIONS:-1000}
# As in capture.sh: the live tolerance of this host (docs/importers.md).
tolerance=${DMSIM_CAPTURE_TOLERANCE_NS:-200000}
qemu=${DMSIM_QEMU:-qemu-system-x86_64}

. "$here/capture_lib.bash"
require_live
command -v "$qemu" >/dev/null || skip "no $qemu (Debian: qemu-system-x86)"

# Runs QMP commands on QEMU's socket, failing on an error reply.
qmp() {
	python3 - "$tmp/qmp.sock" "$@" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()  # the greeting
for cmd in ["qmp_capabilities"] + sys.argv[2:]:
    f.write(json.dumps({"execute": cmd}) + "\n")
    f.flush()
    while True:  # events may come before the reply
        reply = json.loads(f.readline())
        if "return" in reply or "error" in reply:
            break
    if "error" in reply:
        sys.exit("QMP %s: %s" % (cmd, reply["error"]))
PY
}

start=$SECONDS

"${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -Werror -o "$tmp/mkprobe" "$guests/mkprobe.c"
"$tmp/mkprobe" --qemu "$tmp/probe.rom" "$iterations"

# Paused (-S) until the capture traces it; the probe's write to port 0xf4
# ends QEMU with status (value << 1) | 1: 1 when it finished, 0x81 + 2n
# for its fault or timeout n.
"$qemu" -enable-kvm -machine pc -nodefaults -display none -m 16 \
	-bios "$tmp/probe.rom" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-no-reboot -S -qmp "unix:$tmp/qmp.sock,server=on,wait=off" \
	>"$tmp/qemu.out" 2>"$tmp/qemu.err" &
guest_pid=$!
for _ in $(seq 100); do
	[ -S "$tmp/qmp.sock" ] && break
	if ! kill -0 "$guest_pid" 2>/dev/null; then
		cat "$tmp/qemu.err" >&2
		grep -qi 'kvm' "$tmp/qemu.err" && skip "QEMU cannot use /dev/kvm here"
		fail "QEMU died"
	fi
	sleep 0.1
done
[ -S "$tmp/qmp.sock" ] || fail "QEMU's QMP socket never appeared"

# QMP answers once the machine exists: its kvm-pit thread included.
qmp query-status

start_capture

# QEMU's RTC counts host time from QEMU's start, so the probe's first
# read of register C finds UF set; the model's first update comes 1 s
# after the capture's start, so the guest starts later than that.
sleep 1.2
qmp cont

for _ in $(seq 1200); do
	kill -0 "$guest_pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$guest_pid" 2>/dev/null && fail "the probe guest did not finish in 120 s"
rc=0
wait "$guest_pid" || rc=$?
guest_pid=
[ "$rc" -eq 1 ] || { cat "$tmp/qemu.err" >&2; fail "probe guest ended QEMU with $rc, not 1"; }
finish_capture
grep -q '^import: PM timer block at 0xb000 (PMBASE write)' "$tmp/capture.err" ||
	fail "the importer did not find the probe's PMBASE write"

# The capture imported the HPET's and the RTC's lines as the models'
# outputs; QEMU's main loop fires those timers up to milliseconds late, so
# an interrupt the models raised on time can merge into one the vcpu was
# already taking where QEMU raised two.  Re-imported, every userspace
# line is an input (--model-gsi none) and the models' are disconnected
# (hpet_irq=off rtc_irq=off), as the kvm-pit thread's IRQ0 is (pit_irq0=off);
# QEMU's periodic RTC callback sets PF when it raises IRQ8 (rtc_pf_trace).
# QEMU also loads its own reset state into KVM's LAPIC (KVM_SET_LAPIC,
# LVT0 masked), so KVM's LINT0 quirk does not show (docs/profiles.md).
# The host's silences that outlast the tolerance are marked (capture.sh).
"$dmsim" import ftrace "$tmp/probe.txt.raw" -o "$tmp/probe.txt" --quiet \
	--pit-irq0 trace --model-gsi none --mark-silences "$tolerance" --mark-windows "$tolerance"
rc=0
"$dmsim" replay --machine "lapic_lint0_reenabled=off hpet_irq=off rtc_irq=off rtc_pf_trace=on" \
	--tolerance-ns "$tolerance" --json --show 0 "$tmp/probe.txt" \
	>"$tmp/replay.json" || rc=$?
[ "$rc" -le 1 ] || fail "replay exited $rc"
# Minimums: about half of what each round gives (docs/importers.md).
python3 "$here/capture_check.py" "$tmp/replay.json" "$tmp/probe.txt" \
	--intacks '?,0x30,0x31,0x38,0x40' \
	--min-checked $((25 * iterations)) --min-reads \
	"pit=$((6 * iterations)),pic=$((3 * iterations)),ioapic=$((2 * iterations)),lapic=$((2 * iterations)),hpet=$((2 * iterations)),rtc=$((2 * iterations)),pmtimer=$iterations" ||
	fail "the replay shows divergences, or too little"
echo "PASS: QEMU capture -> import -> replay in $((SECONDS - start)) s"
