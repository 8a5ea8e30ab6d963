#!/usr/bin/env python3
"""Judges the replay of a probe guest's capture (tests/e2e/capture.sh,
tests/e2e/capture_qemu.sh; docs/importers.md, "The probe guest and its
replay").

usage: capture_check.py JUDGED.json ZERO.json TRACE.txt
           --intacks LIST --min-checked N [--min-reads DEV=N,...]

JUDGED is `dmsim replay --json` with the capture tolerance, ZERO the same
without tolerance (the values the models computed at the trace's own
instants).  Every divergence of JUDGED must be in one of the classes
below, each a value KVM or QEMU computed at an instant the vcpu's own
event order allows; the interrupts named by --intacks must have been
taken, and at least N reads checked (per device with --min-reads).
Exits 1 naming what failed.
"""
import argparse
import collections
import json
import math
import sys

PIT_HZ, LAPIC_HZ = 1193181, 10**9  # the kvm profile's pit_hz, lapic_hz
HPET_HZ, PMTIMER_HZ = 100000000, 3579545  # QEMU's, as the kvm profile
TICK = 1e9 / PIT_HZ
PM_WRAP = 1 << 24

ap = argparse.ArgumentParser()
ap.add_argument("judged")
ap.add_argument("zero")
ap.add_argument("trace")
ap.add_argument("--intacks", required=True,
                help="comma-separated vectors that must be taken (? = 8259)")
ap.add_argument("--min-checked", type=int, required=True)
ap.add_argument("--min-reads", default="",
                help="DEVICE=N,...: checked reads each device must have")
args = ap.parse_args()

d = json.load(open(args.judged))
untolerated = json.load(open(args.zero))["divergences"]
lines = open(args.trace).read().split("\n")
events = [l.split() for l in lines if l[:1].isdigit()]
machine = next((l.split() for l in lines if l.startswith("machine ")), [])
opts = dict(o.split("=", 1) for o in machine[1:] if "=" in o)
pmbase = int(opts.get("pmbase", "0xb000"), 16)
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


def device(e):
    """The device an access event reaches, or None."""
    op, a = e[2], int(e[3], 16) if e[3].startswith("0x") else -1
    if op.startswith("pio."):
        if 0x40 <= a <= 0x43 or a == 0x61:
            return "pit"
        if a in (0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1):
            return "pic"
        if 0x70 <= a <= 0x73:
            return "rtc"
        if pmbase <= a < pmbase + 12:
            return "pmtimer"
    if op.startswith("mmio."):
        if 0xfec00000 <= a < 0xfec01000:
            return "ioapic"
        if 0xfed00000 <= a < 0xfed00400:
            return "hpet"
        if 0xfee00000 <= a < 0xfee01000:
            return "lapic"
    if op.startswith("msr."):
        return "lapic"
    return None


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


def hpet_enable(i):
    """The GEN_CONF write that started the main counter read at i: the
    last one setting ENABLE_CNF after one that had it clear (or none)."""
    conf = [j for j in range(i) if events[j][2] == "mmio.w"
            and events[j][3] == "0xfed00010"]
    start = None
    for k, j in enumerate(conf):
        on = int(events[j][5], 16) & 1
        was = k and int(events[conf[k - 1]][5], 16) & 1
        if on and not was:
            start = j
    return start


pit = pit_reads()
delays = collections.defaultdict(list)
# Reads QEMU served, grouped by the instant their offsets share (the
# HPET's enable, the PM timer's clock start): (low, high) ns bounds on it.
shared = collections.defaultdict(list)


def qemu_read(i, f, div):
    """A counter QEMU computed when it handled the vcpu's exit, some time
    between the read's line and the vcpu's next event, on a clock whose
    start the trace shows only within a window (HPET: the enable, applied
    when QEMU handled that write's exit) or not at all (PM timer: QEMU's
    virtual clock, started by `cont` before the guest's first
    instruction).  Returns the class, or None; the bounds on that start,
    widened by the tolerance (the trace's instants are good to that),
    are checked together at the end: one start must fit every read."""
    slack = d["tolerance"]["ns"]
    diff = int(div["expected"], 16) - model_value(i)
    if f[2] == "mmio.r" and f[3] == "0xfed000f0":
        off = diff * 1e9 / HPET_HZ  # QEMU sampled off later than the model
        e = hpet_enable(i)
        if e is None:
            return None
        # off = read delay - enable delay, each within its exit window.
        why = "HPET main counter, enable and read applied on QEMU's exit"
        shared[why, e].append((max(0, -off) - slack,
                               min(gap(e, 1), gap(i, 1) - off) + slack, off))
        return why
    if f[2] == "pio.r" and int(f[3], 16) == pmbase + 8:
        ticks = diff % PM_WRAP
        off = ticks * 1e9 / PMTIMER_HZ
        # off = phase + read delay, modulo the 24-bit wrap.
        why = "PM timer, QEMU's virtual clock phase"
        shared[why, None].append((off - gap(i, 1) - slack, off + slack,
                                  off))
        return why
    return None


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
    return qemu_read(i, f, div)


def common_start(why, bounds):
    """One instant within every read's bounds (the PM timer's modulo its
    wrap), or None."""
    wrap = PM_WRAP * 1e9 / PMTIMER_HZ if why.startswith("PM") else None
    ref = bounds[0][2]
    lo, hi = -math.inf, math.inf
    for b_lo, b_hi, off in bounds:
        k = round((off - ref) / wrap) * wrap if wrap else 0
        lo, hi = max(lo, b_lo - k), min(hi, b_hi - k)
    return (lo + hi) / 2 if lo <= hi else None


by = collections.Counter()
bad = []
for i, div in sorted(divs.items()):
    f = div["access"].split()
    assert events[i][:5] == f[:5], (div, events[i])
    why = kind(i, f, div)
    by[why or " ".join(f[2:4])] += 1
    if not why:
        bad.append(div)
for (why, _), bounds in shared.items():
    start = common_start(why, bounds)
    if start is None:
        print("unexplained: %s: no one start fits all %d reads"
              % (why, len(bounds)))
        bad.append({"event": -1, "access": why, "expected": "-",
                    "actual": "-"})
    else:
        delays[why].append(start)

reads = collections.Counter(device(e) for e in events
                            if e[2].endswith(".r") and e[5] != "?")
tol = d["tolerance"]
print("replay: %d events, %d reads checked, %d intacks, %d divergences"
      % (d["events"], d["reads_checked"], d["intacks"],
         d["divergence_count"]))
print("  reads by device: %s" % ", ".join(
    "%s %d" % (k, n) for k, n in sorted(reads.items()) if k))
print("  tolerance %d ns: %d time-derived outputs matched off their "
      "timestamp, max %d ns; |residual| < 1, 2, 4 ... 64 us, more: %s"
      % (tol["ns"], tol["accepted"], tol["max_residual_ns"],
         " ".join(map(str, tol["histogram"]))))
for why, n in sorted(by.items()):
    more = ""
    if why.startswith("HPET") and delays[why]:
        more = " (enable applied %.1f us late)" % (delays[why][0] / 1000)
    elif why.startswith("PM") and delays[why]:
        wrap = PM_WRAP * 1e9 / PMTIMER_HZ
        more = " (started %.1f us after the trace's 0)" % (
            -((delays[why][0] + wrap / 2) % wrap - wrap / 2) / 1000)
    elif delays[why]:
        more = " (largest %.1f us)" % (max(delays[why]) / 1000)
    print("  %6d  %s%s" % (n, why, more))
want_intacks = set(args.intacks.split(","))
seen = {e[5] for e in events if e[2] == "intack"}
ok = True
if not want_intacks <= seen:
    print("FAIL: interrupts missing: %s" % sorted(want_intacks - seen))
    ok = False
if d["intacks"] != sum(e[2] == "intack" for e in events):
    print("FAIL: the replay checked %d intacks of the trace's %d"
          % (d["intacks"], sum(e[2] == "intack" for e in events)))
    ok = False
if d["reads_checked"] < args.min_checked:
    print("FAIL: %d reads checked, want %d"
          % (d["reads_checked"], args.min_checked))
    ok = False
for item in filter(None, args.min_reads.split(",")):
    dev, n = item.split("=")
    if reads[dev] < int(n):
        print("FAIL: %d %s reads, want %s" % (reads[dev], dev, n))
        ok = False
for div in bad[:10]:
    print("unexplained: event %d: %s: expected %s, got %s"
          % (div["event"], div["access"], div["expected"], div["actual"]))
if bad:
    print("FAIL: %d divergences outside the documented classes" % len(bad))
    ok = False
sys.exit(0 if ok else 1)
