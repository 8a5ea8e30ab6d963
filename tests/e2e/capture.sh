#!/usr/bin/env bash
# Capture -> import -> replay on a live KVM guest: the probe guest
# (guests/mkprobe.c) runs under guests/kvmrun.c with KVM's in-kernel
# irqchip and PIT while `dmsim kvm capture --pid` records it; the capture
# is imported and replayed with the kvm profile and the time tolerance for
# captures (docs/importers.md, "The probe guest and its replay").
#
# Every read and accepted vector must match, except within the documented
# classes: time-derived reads within the tolerance (replay --tolerance-ns),
# the LAPIC current count after a TMICT write that KVM applied late (by at
# most the tolerance), and, while the machine has no pit_irq0 option, what
# the kvm-pit thread's latency does to IRQ0.  An empty capture, lost
# events, too few checked reads or missing interrupts fail.
# usage: capture.sh DMSIM TRACES_DIR
# DMSIM_CAPTURE_KEEP=DIR keeps the capture, its trace and the replay.
set -euo pipefail
dmsim=$1
here=$(cd "$(dirname "$0")" && pwd)
guests=$here/../../guests
iterations=${DMSIM_PROBE_ITERATIONS:-1000}
# The default tolerance for ftrace captures (docs/importers.md).
tolerance=${DMSIM_CAPTURE_TOLERANCE_NS:-20000}

skip() { echo "SKIP: $*"; exit 0; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "capturing needs root (tracefs)"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "no usable /dev/kvm"
grep -qw tracefs /proc/filesystems || skip "the kernel has no tracefs"
command -v "${CC:-cc}" >/dev/null || skip "no C compiler to build the probe"
command -v python3 >/dev/null || skip "no python3 to check the replay"

# IRQ0 from the trace needs the machine option pit_irq0; without it the
# PIT model raises IRQ0 and the kvm-pit thread's latency shows (class 3).
# KVM's reinject mode is then off: its reset when IRQ0 is unmasked (the
# probe moves IRQ0 from the 8259 to the IOAPIC) is not modelled.
options=$("$dmsim" options)
if grep -q '^| `pit_irq0` |' <<<"$options"; then
	irq0=trace
	runner_opts=()
	replay_opts=()
else
	irq0=model
	runner_opts=(--no-reinject)
	replay_opts=(--machine pit_reinject=off)
fi

tmp=$(mktemp -d)
runner_pid=
capture_pid=
cleanup() {
	# Only the processes this script started, by pid.
	[ -n "$capture_pid" ] && kill -INT "$capture_pid" 2>/dev/null || true
	[ -n "$runner_pid" ] && kill -KILL "$runner_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	if [ -n "${DMSIM_CAPTURE_KEEP:-}" ]; then
		mkdir -p "$DMSIM_CAPTURE_KEEP"
		cp "$tmp"/probe.txt* "$tmp"/replay-*.json "$DMSIM_CAPTURE_KEEP"/ 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

"${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -Werror -o "$tmp/mkprobe" "$guests/mkprobe.c"
"${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -Werror -o "$tmp/kvmrun" "$guests/kvmrun.c"
"$tmp/mkprobe" "$tmp/probe.bin" "$iterations"

# The runner builds the VM, prints its pid and waits for SIGUSR1, so the
# capture sees the guest from its first instruction.
"$tmp/kvmrun" "$tmp/probe.bin" --wait --timeout 120 ${runner_opts[@]+"${runner_opts[@]}"} \
	>"$tmp/runner.out" 2>"$tmp/runner.err" &
runner_pid=$!
for _ in $(seq 100); do
	[ -s "$tmp/runner.out" ] && break
	if ! kill -0 "$runner_pid" 2>/dev/null; then
		cat "$tmp/runner.err" >&2
		if grep -q 'KVM_CREATE_VM\|KVM_CREATE_IRQCHIP\|KVM_CREATE_PIT2' "$tmp/runner.err"; then
			skip "/dev/kvm cannot run the probe (no in-kernel irqchip or PIT)"
		fi
		fail "kvmrun died"
	fi
	sleep 0.1
done
[ "$(head -1 "$tmp/runner.out")" = "$runner_pid" ] || fail "kvmrun did not start"

# Host noise in what the replay checks: a vcpu preempted between a trace
# point and the access it logs, and the kvm-pit thread (which raises
# IRQ0) waiting for a CPU.  Real-time priority for both keeps the other
# tests of a parallel ctest from adding it; where that is not allowed the
# test runs without.
pit_thread=$(grep -lx "kvm-pit/$runner_pid" /proc/[0-9]*/comm 2>/dev/null | cut -d/ -f3 || true)
for pid in "$runner_pid" $pit_thread; do
	chrt -f -p 1 "$pid" 2>/dev/null || echo "note: no real-time priority for thread $pid"
done

"$dmsim" kvm capture --pid "$runner_pid" --duration 120 --pit-irq0 "$irq0" \
	-o "$tmp/probe.txt" >"$tmp/capture.out" 2>"$tmp/capture.err" &
capture_pid=$!
for _ in $(seq 100); do
	grep -q '^capture: tracing' "$tmp/capture.err" && break
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
grep -q '^capture: tracing' "$tmp/capture.err" || fail "capture never started tracing"

kill -USR1 "$runner_pid"
rc=0
wait "$runner_pid" || rc=$?
runner_pid=
[ "$rc" -eq 0 ] || { cat "$tmp/runner.err" >&2; fail "probe guest exited $rc"; }
rc=0
wait "$capture_pid" || rc=$?
capture_pid=
cat "$tmp/capture.err"
[ "$rc" -eq 0 ] || fail "dmsim kvm capture exited $rc"
grep -q 'stopped (the process exited)' "$tmp/capture.err" || fail "capture did not end with the guest"
# A lost event would make the replay diverge for a reason of its own.
grep -q 'stopped (the process exited): [0-9]* lines, 0 events lost' "$tmp/capture.err" ||
	fail "the capture lost events"

# Never pass on an empty capture.
pio=$(grep -c 'kvm_pio:' "$tmp/probe.txt.raw" || true)
mmio=$(grep -c 'kvm_mmio:' "$tmp/probe.txt.raw" || true)
echo "raw capture: $pio kvm_pio, $mmio kvm_mmio lines"
[ "$pio" -gt 1000 ] && [ "$mmio" -gt 1000 ] || fail "capture nearly empty"

# The replay that is judged, and one without tolerance for the values the
# models computed at the trace's own instants.
for t in "$tolerance" 0; do
	rc=0
	"$dmsim" replay ${replay_opts[@]+"${replay_opts[@]}"} --tolerance-ns "$t" \
		--json --show 0 "$tmp/probe.txt" >"$tmp/replay-$t.json" || rc=$?
	[ "$rc" -le 1 ] || fail "replay exited $rc"
done
python3 - "$tmp/replay-$tolerance.json" "$tmp/replay-0.json" "$tmp/probe.txt" \
	"$iterations" "$irq0" <<'PY'
import collections, json, math, sys

d = json.load(open(sys.argv[1]))
untolerated = json.load(open(sys.argv[2]))["divergences"]
events = [l.split() for l in open(sys.argv[3]) if l[:1].isdigit()]
rounds, irq0 = int(sys.argv[4]), sys.argv[5]
PIT_HZ, LAPIC_HZ = 1193181, 10**9  # the kvm profile's pit_hz, lapic_hz
times = [int(e[0]) for e in events]
divs = {div["event"]: div for div in d["divergences"]}
model = {div["event"]: int(div["actual"], 16) for div in untolerated}

def model_value(i):
    return model.get(i, int(events[i][5], 16))

def gap(i, step):
    """Time from event i to its vcpu's next (step 1) or previous (-1)
    event: a write logged at i took effect, a read logged at i was
    computed, within it."""
    j = i + step
    while 0 <= j < len(events) and events[j][1] != events[i][1]:
        j += step
    return abs(times[j] - times[i]) if 0 <= j < len(events) else 0

def pit_reads():
    """For each PIT count read: its counter's mode and reload value, the
    event that latched it, the write that loaded the counter, and the
    reads of the same latch (LSB, MSB)."""
    mode, reload, load, rw = {}, {}, {}, {}
    low, pend, out = {}, {}, {}
    for i, e in enumerate(events):
        if e[2] not in ("pio.w", "pio.r") or e[3] not in (
                "0x40", "0x41", "0x42", "0x43"):
            continue
        v = int(e[5], 16)
        if e[3] == "0x43":
            sel = v >> 6
            if sel == 3:  # read-back: status first, then the count
                for c in range(3):
                    if v >> (c + 1) & 1 and c in rw:
                        pend[c] = (["status"] if not v & 0x10 else []) + (
                            [(i, [])] * (2 if rw[c] == 3 else 1)
                            if not v & 0x20 else [])
            elif v >> 4 & 3 == 0:  # counter latch
                if sel in rw:
                    pend[sel] = [(i, [])] * (2 if rw[sel] == 3 else 1)
            else:
                rw[sel], mode[sel] = v >> 4 & 3, v >> 1 & 7
                pend[sel], low[sel] = [], None
            continue
        c = int(e[3], 16) - 0x40
        if e[2] == "pio.w" and c in rw:
            if rw[c] == 3 and low.get(c) is None:
                low[c] = v
                continue
            reload[c] = (low[c] | v << 8) if rw[c] == 3 else v
            reload[c] = reload[c] or 0x10000
            load[c], low[c] = i, None
        elif e[2] == "pio.r" and pend.get(c):
            what = pend[c].pop(0)
            if what != "status" and c in load:
                latch, group = what
                group.append(i)
                out[i] = (mode[c], reload[c], latch, load[c], group)
    return out

def pit_explained(i, info):
    """Whether some instants the vcpu's event order allows give KVM's count:
    the load taking effect up to the vcpu's next event after its line
    (KVM then saw less time: a higher count), the latch likewise (a lower
    count).  The shift is known modulo the count's cycle."""
    mode, n, latch, load, group = info
    kvm = sum(int(events[j][5], 16) << (8 * k) for k, j in enumerate(group))
    model = sum(model_value(j) << (8 * k) for k, j in enumerate(group))
    delta = kvm - model
    # Ticks of time the model saw more than KVM (i8254.c pit_get_count).
    if mode in (2, 6):
        cycle, ticks = n, delta
    elif mode in (3, 7) and n % 2:  # counts by two, modulo n
        cycle, ticks = n, delta * (n + 1) // 2
    elif mode in (3, 7):
        if delta % 2:
            return False
        cycle, ticks = n // 2, delta // 2
    else:
        cycle, ticks = 0x10000, delta
    tick = 1e9 / PIT_HZ
    lo = -(gap(latch, 1) / tick + 1)
    hi = gap(load, 1) / tick + 1
    ticks %= cycle
    ticks += math.ceil((lo - ticks) / cycle) * cycle
    return ticks <= hi

def last_write(i, addr):
    return next(j for j in range(i - 1, -1, -1)
                if events[j][2] in ("pio.w", "mmio.w") and events[j][3] == addr)

def lapic_ns_per_count(i):
    v = int(events[last_write(i, "0xfee003e0")][5], 16)  # TDCR, SDM 11.5.4
    code = (v & 3) | (v >> 1 & 4)
    return (1 if code == 7 else 2 << code) * 10**9 // LAPIC_HZ

pit = pit_reads()

def kind(i, f, div):
    """The documented class of the divergence at event i, or None."""
    exp, act = int(div["expected"], 16), model_value(i)
    # Counts KVM derived from a load and a sample: within the instants the
    # vcpu's own event order allows, a write taking effect after its line
    # and before the vcpu's next one, a read computed after the vcpu's
    # previous line (replay/tolerance.c moves the sample only, within the
    # tolerance).
    if i in pit:
        if pit_explained(i, pit[i]):
            return "PIT count, load or latch applied late"
        return None
    if f[2] == "mmio.r" and f[3] == "0xfee00390":
        npc = lapic_ns_per_count(i)
        load = last_write(i, "0xfee00380")  # TMICT
        late = (exp - act) * npc
        if -npc <= late <= gap(load, 1) + gap(i, -1) + npc:
            return "LAPIC count, TMICT applied late or read early"
        return None
    if irq0 != "model":
        return None
    # Class 3: the kvm-pit thread raised IRQ0 later than the PIT model.
    if (f[2] == "pio.r" and f[3] == "0x20" and exp ^ act == 1
            and int(events[last_write(i, "0x20")][5], 16) & 3 == 2):
        return "8259 IRR bit 0 (kvm-pit thread latency)"
    if f[2] == "intack" and exp == 0x30 and act in (0x27, 2**64 - 1):
        return "PIT intack before the model's IRQ0 (kvm-pit latency)"
    return None

by = collections.Counter()
bad = []
for i, div in sorted(divs.items()):
    f = div["access"].split()
    assert events[i][:5] == f[:5], (div, events[i])
    why = kind(i, f, div)
    by[why or " ".join(f[2:4])] += 1
    if not why:
        bad.append(div)
tol = d["tolerance"]
print("replay (IRQ0 from the %s): %d events, %d reads checked, %d intacks, "
      "%d divergences" % ("trace" if irq0 == "trace" else "PIT model",
                          d["events"], d["reads_checked"], d["intacks"],
                          d["divergence_count"]))
print("  tolerance %d ns: %d time-derived outputs matched off their "
      "timestamp, max %d ns; |residual| < 1, 2, 4 ... 64 us, more: %s"
      % (tol["ns"], tol["accepted"], tol["max_residual_ns"],
         " ".join(map(str, tol["histogram"]))))
for why, n in sorted(by.items()):
    print("  %6d  %s" % (n, why))
want_intacks = {"?", "0x30", "0x50"}  # 8259, IOAPIC pin 2, the MSI
seen = {e[5] for e in events if e[2] == "intack"}
assert want_intacks <= seen, "interrupts missing: %s" % (want_intacks - seen)
assert d["intacks"] == sum(e[2] == "intack" for e in events)
assert d["reads_checked"] >= 20 * rounds, "too few reads checked"
for div in bad[:10]:
    print("unexplained: event %d: %s: expected %s, got %s"
          % (div["event"], div["access"], div["expected"], div["actual"]))
assert not bad, "%d divergences outside the documented classes" % len(bad)
PY
echo "PASS: capture -> import -> replay"
