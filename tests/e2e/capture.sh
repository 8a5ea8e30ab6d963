#!/usr/bin/env bash
# Capture -> import -> replay on a live KVM guest: the probe guest
# (guests/mkprobe.c) runs under guests/kvmrun.c with KVM's in-kernel
# irqchip and PIT while `dmsim kvm capture --pid` records it; the capture
# is imported with IRQ0 from the kvm-pit thread's edges (pit_irq0=off) and
# replayed with the kvm profile and the time tolerance for captures
# (docs/importers.md, "The probe guest and its replay").
#
# Every read and accepted vector must match, within the tolerance for the
# time-derived ones; a PIT or LAPIC count still off must be what KVM gives
# at instants the vcpu's own event order allows (a write taking effect
# after its line and before the vcpu's next one; a read computed after the
# vcpu's previous line).  An empty capture, lost events, too few checked
# reads or missing interrupts fail.
# usage: capture.sh DMSIM TRACES_DIR
# DMSIM_CAPTURE_KEEP=DIR keeps the capture, its trace and the replays.
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
"$tmp/kvmrun" "$tmp/probe.bin" --wait --timeout 120 >"$tmp/runner.out" 2>"$tmp/runner.err" &
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

# IRQ0 comes from the kvm-pit thread's edges (--pit-irq0 auto).
"$dmsim" kvm capture --pid "$runner_pid" --duration 120 -o "$tmp/probe.txt" \
	>"$tmp/capture.out" 2>"$tmp/capture.err" &
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
grep -q '^import: [1-9][0-9]* of the dev irq events are the PIT' "$tmp/capture.err" ||
	fail "no IRQ0 edges of the kvm-pit thread in the capture"
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
	"$dmsim" replay --tolerance-ns "$t" --json --show 0 "$tmp/probe.txt" >"$tmp/replay-$t.json" || rc=$?
	[ "$rc" -le 1 ] || fail "replay exited $rc"
done
python3 - "$tmp/replay-$tolerance.json" "$tmp/replay-0.json" "$tmp/probe.txt" \
	"$iterations" <<'PY'
import collections, json, math, sys

d = json.load(open(sys.argv[1]))
untolerated = json.load(open(sys.argv[2]))["divergences"]
events = [l.split() for l in open(sys.argv[3]) if l[:1].isdigit()]
rounds = int(sys.argv[4])
PIT_HZ, LAPIC_HZ = 1193181, 10**9  # the kvm profile's pit_hz, lapic_hz
TICK = 1e9 / PIT_HZ
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
    """For each PIT read of a latched count or status: what it is, its
    counter's mode and reload value, the event that latched it, the write
    that loaded the counter, and the reads of the same latched count."""
    mode, reload, load, rw, low, pend, out = {}, {}, {}, {}, {}, {}, {}
    for i, e in enumerate(events):
        if e[2] not in ("pio.w", "pio.r") or e[3] not in (
                "0x40", "0x41", "0x42", "0x43"):
            continue
        v = int(e[5], 16)
        if e[3] == "0x43":
            sel = v >> 6
            if sel == 3:  # read-back: the status first, then the count
                for c in range(3):
                    if v >> (c + 1) & 1 and c in rw:
                        count = [] if v & 0x20 else [("count", i, [])] * (
                            2 if rw[c] == 3 else 1)
                        pend[c] = ([] if v & 0x10 else [("status", i, [])]
                                   ) + count
            elif v >> 4 & 3 == 0:  # counter latch
                if sel in rw:
                    pend[sel] = [("count", i, [])] * (2 if rw[sel] == 3 else 1)
            else:
                mode[sel] = v >> 1 & 7
                mode[sel] -= 4 if mode[sel] > 5 else 0  # 6, 7 are 2, 3
                rw[sel], pend[sel], low[sel] = v >> 4 & 3, [], None
            continue
        c = int(e[3], 16) - 0x40
        if e[2] == "pio.w" and c in rw:
            if rw[c] == 3 and low.get(c) is None:
                low[c] = v
                continue
            reload[c] = ((low[c] | v << 8) if rw[c] == 3 else v) or 0x10000
            load[c], low[c] = i, None
        elif e[2] == "pio.r" and pend.get(c):
            what, latch, group = pend[c].pop(0)
            group.append(i)
            if c in load:
                out[i] = (what, mode[c], reload[c], latch, load[c], group)
    return out

def pit_out(mode, n, t):
    """OUT of a counter t ticks after its load (i8254.c pit_get_out)."""
    return {0: t >= n, 1: t < n, 2: t % n == 0 and t != 0,
            3: t % n < (n + 1) // 2}.get(mode, t == n)

def pit_shift(i, info):
    """Ticks of time KVM saw less than the model (the load took effect
    late: positive; the latch did: negative) that give KVM's value, as
    close to 0 as the vcpu's event order allows, or None."""
    what, mode, n, latch, load, group = info
    lo = -(gap(latch, 1) / TICK + 1)
    hi = gap(load, 1) / TICK + 1
    if what == "status":
        kvm, mine = int(events[i][5], 16), model_value(i)
        if (kvm ^ mine) & 0x7f:  # only OUT depends on time
            return None
        # The model's OUT is KVM's at the trace's instants (give or take
        # a tick of rounding here); KVM's value must need other instants.
        t = int((times[latch] - times[load]) / TICK)
        mine_at = [u for u in (t, t - 1, t + 1)
                   if pit_out(mode, n, u) == bool(mine & 0x80)]
        shifts = sorted(range(math.ceil(lo), math.floor(hi) + 1), key=abs)
        return next((s for s in shifts if mine_at and mine_at[0] - s >= 0
                     and pit_out(mode, n, mine_at[0] - s) == bool(kvm & 0x80)),
                    None)
    kvm = sum(int(events[j][5], 16) << (8 * k) for k, j in enumerate(group))
    mine = sum(model_value(j) << (8 * k) for k, j in enumerate(group))
    delta = kvm - mine
    # i8254.c pit_get_count: mode 2 counts n - t % n, mode 3 by two,
    # n - 2t % n, the others 16 bits down from n.
    if mode == 2:
        cycle, ticks = n, delta
    elif mode == 3 and n % 2:
        cycle, ticks = n, delta * (n + 1) // 2
    elif mode == 3:
        if delta % 2:
            return None
        cycle, ticks = n // 2, delta // 2
    else:
        cycle, ticks = 0x10000, delta
    # [lo, hi] holds 0: the representatives either side of it decide.
    ticks %= cycle
    return min((t for t in (ticks, ticks - cycle) if lo <= t <= hi),
               key=abs, default=None)

def last_write(i, addr):
    return next(j for j in range(i - 1, -1, -1)
                if events[j][2] in ("pio.w", "mmio.w") and events[j][3] == addr)

def lapic_ns_per_count(i):
    v = int(events[last_write(i, "0xfee003e0")][5], 16)  # TDCR, SDM 11.5.4
    code = (v & 3) | (v >> 1 & 4)
    return (1 if code == 7 else 2 << code) * 10**9 // LAPIC_HZ

pit = pit_reads()
delays = collections.defaultdict(list)

def kind(i, f, div):
    """The documented class of the divergence at event i, or None: counts
    KVM derived from a load and a sample at instants the vcpu's own event
    order allows (replay/tolerance.c moves only the sample, and only
    within the tolerance)."""
    if i in pit:
        shift = pit_shift(i, pit[i])
        if shift is None:
            return None
        why = "PIT %s, load or latch applied late" % pit[i][0]
        delays[why].append(abs(shift) * TICK)
        return why
    if f[2] == "mmio.r" and f[3] == "0xfee00390":
        npc = lapic_ns_per_count(i)
        load = last_write(i, "0xfee00380")  # TMICT
        late = (int(div["expected"], 16) - model_value(i)) * npc
        if not -npc <= late <= gap(load, 1) + gap(i, -1) + npc:
            return None
        why = "LAPIC count, TMICT applied late or read early"
        delays[why].append(late)
        return why
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
print("replay: %d events, %d reads checked, %d intacks, %d divergences"
      % (d["events"], d["reads_checked"], d["intacks"],
         d["divergence_count"]))
print("  tolerance %d ns: %d time-derived outputs matched off their "
      "timestamp, max %d ns; |residual| < 1, 2, 4 ... 64 us, more: %s"
      % (tol["ns"], tol["accepted"], tol["max_residual_ns"],
         " ".join(map(str, tol["histogram"]))))
for why, n in sorted(by.items()):
    more = ""
    if delays[why]:
        more = " (largest %.1f us)" % (max(delays[why]) / 1000)
    print("  %6d  %s%s" % (n, why, more))
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
