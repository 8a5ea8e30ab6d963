#!/usr/bin/env bash
# Capture -> import -> replay on a live KVM guest: the probe guest
# (guests/mkprobe.c) runs under guests/kvmrun.c with KVM's in-kernel
# irqchip and PIT while `dmsim kvm capture --pid` records it; the capture
# is imported with IRQ0 from the kvm-pit thread's edges (pit_irq0=off) and
# replayed with the kvm profile and the time tolerance for captures
# (docs/importers.md, "The probe guest and its replay").
#
# Every read and accepted vector must match, the time-derived ones within
# the tolerance: a read at an instant between its neighbours, and a write
# that starts a count (PIT load, TMICT) at one instant between its line
# and the vcpu's next event, which every later read then fits
# (replay/tolerance.h).  An empty capture, lost events, any divergence,
# too few checked reads or missing interrupts fail.
# usage: capture.sh DMSIM TRACES_DIR
# DMSIM_CAPTURE_KEEP=DIR keeps the capture, its trace and the replay in
# DIR/capture (capture_qemu for capture_qemu.sh).
set -euo pipefail
dmsim=$1
here=$(cd "$(dirname "$0")" && pwd)
guests=$here/../../guests
iterations=${DMSIM_PROBE_ITERATIONS:-1000}
# Live captures on this host, itself a VM, need more than the 20 us of
# the committed ones: the host stops the vcpu thread for up to ~130 us
# between a line and KVM's handling of it (docs/importers.md).
tolerance=${DMSIM_CAPTURE_TOLERANCE_NS:-200000}

. "$here/capture_lib.bash"
require_live


"${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -Werror -o "$tmp/mkprobe" "$guests/mkprobe.c"
"${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -Werror -o "$tmp/kvmrun" "$guests/kvmrun.c"
"$tmp/mkprobe" "$tmp/probe.bin" "$iterations"

# The runner builds the VM, prints its pid and waits for SIGUSR1, so the
# capture sees the guest from its first instruction.
"$tmp/kvmrun" "$tmp/probe.bin" --wait --timeout 120 >"$tmp/runner.out" 2>"$tmp/runner.err" &
guest_pid=$!
for _ in $(seq 100); do
	[ -s "$tmp/runner.out" ] && break
	if ! kill -0 "$guest_pid" 2>/dev/null; then
		cat "$tmp/runner.err" >&2
		if grep -q 'KVM_CREATE_VM\|KVM_CREATE_IRQCHIP\|KVM_CREATE_PIT2' "$tmp/runner.err"; then
			skip "/dev/kvm cannot run the probe (no in-kernel irqchip or PIT)"
		fi
		fail "kvmrun died"
	fi
	sleep 0.1
done
[ "$(head -1 "$tmp/runner.out")" = "$guest_pid" ] || fail "kvmrun did not start"

start_capture

kill -USR1 "$guest_pid"
rc=0
wait "$guest_pid" || rc=$?
guest_pid=
[ "$rc" -eq 0 ] || { cat "$tmp/runner.err" >&2; fail "probe guest exited $rc"; }
finish_capture

# Never pass on an empty capture.
pio=$(grep -c 'kvm_pio:' "$tmp/probe.txt.raw" || true)
mmio=$(grep -c 'kvm_mmio:' "$tmp/probe.txt.raw" || true)
echo "raw capture: $pio kvm_pio, $mmio kvm_mmio lines"
[ "$pio" -gt 1000 ] && [ "$mmio" -gt 1000 ] || fail "capture nearly empty"

# Re-imported with the host's silences marked where they outlast the
# tolerance: KVM took a latch or a start write at the far end of one
# (docs/importers.md, "The host frozen").
"$dmsim" import ftrace "$tmp/probe.txt.raw" -o "$tmp/probe.txt" --quiet \
	--pit-irq0 trace --mark-silences "$tolerance" --mark-windows "$tolerance"
rc=0
# The kvm-pit thread's IRQ0 raises are checked against the PIT model's
# ticks, at most 10 ms late (docs/importers.md, pit_irq0_late_ns); the
# probe takes about 10.
"$dmsim" replay --tolerance-ns "$tolerance" --machine pit_irq0_late_ns=10000000 \
	--json --show 0 "$tmp/probe.txt" >"$tmp/replay.json" || rc=$?
[ "$rc" -le 1 ] || fail "replay exited $rc"
python3 "$here/capture_check.py" "$tmp/replay.json" "$tmp/probe.txt" \
	--intacks '?,0x30,0x40,0x50' --min-pit-raises 5 \
	--min-checked $((20 * iterations)) ||
	fail "the replay shows divergences, or too little"
echo "PASS: capture -> import -> replay"
