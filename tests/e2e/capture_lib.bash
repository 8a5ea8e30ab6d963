# Sourced, not run: the .bash name keeps it out of the e2e glob (CMakeLists.txt).
# Shared by the live capture tests (capture.sh: the probe under kvmrun;
# capture_qemu.sh: the probe under QEMU), sourced after they set dmsim.
# Sets tmp (removed on exit), guest_pid and capture_pid (the processes the
# test started, and the only ones cleanup stops).

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# What every live capture needs; a test checks its own extras after.
require_live() {
	[ "$(id -u)" -eq 0 ] || skip "capturing needs root (tracefs)"
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "no usable /dev/kvm"
	grep -qw tracefs /proc/filesystems || skip "the kernel has no tracefs"
	command -v "${CC:-cc}" >/dev/null || skip "no C compiler to build the probe"
	command -v python3 >/dev/null || skip "no python3 to check the replay"
}

# A live capture samples this host's timing.  Every kind of divergence
# single captures showed here is now explained and replayed (240 kept
# captures, 1 diverging: one taken before the capture recorded the kvm-pit
# thread's wake-ups; docs/importers.md, "Recapture"), but a host (itself
# a VM) may stop a thread in a way not seen yet.  The test captures anew
# once more, up to DMSIM_CAPTURE_ATTEMPTS times (2), printing each failed
# attempt, and passes on the first capture that replays with 0
# divergences; a skip ends it at once.  A regression fails both.
if [ -z "${DMSIM_CAPTURE_ATTEMPT:-}" ]; then
	attempts=${DMSIM_CAPTURE_ATTEMPTS:-2}
	for attempt in $(seq "$attempts"); do
		rc=0
		DMSIM_CAPTURE_ATTEMPT=$attempt "$BASH" "$0" "$@" || rc=$?
		if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; then
			exit "$rc"
		fi
		echo "capture attempt $attempt of $attempts failed (exit $rc)"
	done
	exit 1
fi

tmp=$(mktemp -d)
guest_pid=
capture_pid=
cleanup() {
	[ -n "$capture_pid" ] && kill -INT "$capture_pid" 2>/dev/null || true
	[ -n "$guest_pid" ] && kill -KILL "$guest_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	if [ -n "${DMSIM_CAPTURE_KEEP:-}" ]; then
		# One folder per test: ctest may run both with one setting.
		local keep
		keep=$DMSIM_CAPTURE_KEEP/$(basename "$0" .sh)
		mkdir -p "$keep"
		cp "$tmp"/probe.txt* "$tmp"/replay.json "$keep"/ 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# Starts `dmsim kvm capture` of guest_pid into $tmp/probe.txt and waits
# until it traces; IRQ0 comes from the kvm-pit thread's edges
# (--pit-irq0 auto).  A kernel without the means to trace is a skip.
start_capture() {
	"$dmsim" kvm capture --pid "$guest_pid" --duration 120 -o "$tmp/probe.txt" \
		>"$tmp/capture.out" 2>"$tmp/capture.err" &
	capture_pid=$!
	for _ in $(seq 100); do
		grep -q '^capture: tracing' "$tmp/capture.err" && return 0
		if ! kill -0 "$capture_pid" 2>/dev/null; then
			cat "$tmp/capture.err" >&2
			if grep -q 'tracefs is not mounted and mounting it' "$tmp/capture.err"; then
				skip "tracefs cannot be mounted here"
			fi
			if grep -q 'events/kvm/kvm_pio/enable' "$tmp/capture.err"; then
				skip "the kernel has no kvm tracepoints"
			fi
			fail "dmsim kvm capture failed to start"
		fi
		sleep 0.1
	done
	fail "capture never started tracing"
}

# Waits for the capture, which ends with the guest, and checks that it
# is whole: no lost event (the replay would diverge for a reason of its
# own) and the kvm-pit thread's IRQ0 edges imported.
finish_capture() {
	local rc=0

	wait "$capture_pid" || rc=$?
	capture_pid=
	cat "$tmp/capture.err"
	[ "$rc" -eq 0 ] || fail "dmsim kvm capture exited $rc"
	grep -q 'stopped (the process exited)' "$tmp/capture.err" || fail "capture did not end with the guest"
	grep -q '^import: [1-9][0-9]* of the dev irq events are the PIT' "$tmp/capture.err" ||
		fail "no IRQ0 edges of the kvm-pit thread in the capture"
	grep -q 'stopped (the process exited): [0-9]* lines, 0 events lost' "$tmp/capture.err" ||
		fail "the capture lost events"
}
