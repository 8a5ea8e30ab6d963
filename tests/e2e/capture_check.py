#!/usr/bin/env python3
"""Judges the replay of a probe guest's capture (tests/e2e/capture.sh,
tests/e2e/capture_qemu.sh; docs/importers.md, "The probe guest and its
replay").

usage: capture_check.py JUDGED.json ZERO.json TRACE.txt [--raw RAW]
           --intacks LIST --min-checked N [--min-reads DEV=N,...]

JUDGED is `dmsim replay --json` with the capture tolerance, ZERO the same
without tolerance (the values the models computed at the trace's own
instants).  Every divergence of JUDGED must be in one of these classes,
each a value KVM or QEMU computed at an instant the vcpu's own event
order allows (a read between its line and the vcpu's next event; one QEMU
served, which the importer puts mid-way through its service window,
between the vcpu's previous and next events):

- PIT counts and status, LAPIC current count: KVM applied a write late
  or computed a read early (pit_shift, kind);
- QEMU's HPET main counter: its enable and the read applied when QEMU
  handled their exits, one enable delay fitting every read (qemu_read);
- QEMU's PM timer and PM1_STS.TMR_STS: QEMU's virtual clock started at
  `cont`, which the trace does not show, one phase fitting every read;
- QEMU's RTC seconds, UIP and UF: its seconds begin when QEMU handled the
  divider's release, UIP and UF follow its late update timer, one delay
  and one timer instant per second fitting every read (rtc_second_bits);
- QEMU's RTC PF: set by its late periodic ticks, which the trace's IRQ8
  raises show (rtc_periodic_bits);
- an interrupt KVM delivered after the replay had merged its edge into
  the previous one: KVM's LAPIC accepted it (--raw) after KVM took the
  previous one (late_delivery).

The interrupts named by --intacks must have been taken, and at least N
reads checked (per device with --min-reads).  Exits 1 naming what failed.
"""
import argparse
import bisect
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
ap.add_argument("--raw", help="the capture's raw file, for the times at "
                "which KVM's LAPIC accepted each vector")
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


writes = collections.defaultdict(list)  # address -> its write events
for j, e in enumerate(events):
    if e[2] in ("pio.w", "mmio.w"):
        writes[e[3]].append(j)


def last_before(indices, i):
    """The last of the sorted event indices before i, or None."""
    k = bisect.bisect_left(indices, i)
    return indices[k - 1] if k else None


def last_write(i, addr):
    return last_before(writes[addr], i)


def lapic_ns_per_count(i):
    v = int(events[last_write(i, "0xfee003e0")][5], 16)  # TDCR, SDM 11.5.4
    code = (v & 3) | (v >> 1 & 4)
    return (1 if code == 7 else 2 << code) * 10**9 // LAPIC_HZ


def hpet_enables():
    """The GEN_CONF writes that started the HPET's main counter: those
    setting ENABLE_CNF after one that had it clear (or none)."""
    out, was = [], 0
    for j, e in enumerate(events):
        if e[2] == "mmio.w" and e[3] == "0xfed00010":
            on = int(e[5], 16) & 1
            if on and not was:
                out.append(j)
            was = on
    return out


pit = pit_reads()
delays = collections.defaultdict(list)
# Reads QEMU served, grouped by the instant their offsets share (the
# HPET's enable, the PM timer's clock start): (low, high) ns bounds on it.
shared = collections.defaultdict(list)


def qemu_read(i, f, div):
    """A counter QEMU computed when it handled the vcpu's exit, some time
    between the vcpu's previous and next events (the importer puts the
    read mid-way through its service window), on a clock whose
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
        e = last_before(hpet_starts, i)
        if e is None:
            return None
        # off = read delay - enable delay, each within its exit window.
        why = "HPET main counter, enable and read applied on QEMU's exit"
        shared[why, e].append((max(0, -off - gap(i, -1)) - slack,
                               min(gap(e, 1), gap(i, 1) - off) + slack, off))
        return why
    if f[2] == "pio.r" and int(f[3], 16) == pmbase + 8:
        ticks = diff % PM_WRAP
        off = ticks * 1e9 / PMTIMER_HZ
        # off = phase + read delay, modulo the 24-bit wrap.
        why = "PM timer, QEMU's virtual clock phase"
        shared[why, None].append((off - gap(i, 1) - slack,
                                  off + gap(i, -1) + slack, off))
        return why
    if f[2] == "pio.r" and int(f[3], 16) == pmbase and \
            int(div["expected"], 16) ^ model_value(i) == 1:
        tmr_sts.append(i)  # checked once the phase is known
        return "PM1_STS TMR_STS, on QEMU's virtual clock phase"
    return None


def tmr_sts_fits(i, phase):
    """Whether QEMU's TMR_STS at the PM1_STS read i fits its counter's
    phase (its count at t being the model's at t + phase): QEMU sets it
    when bit 23 of its count flips after the last write clearing it."""
    period = (1 << 23) * 1e9 / PMTIMER_HZ
    slack = d["tolerance"]["ns"]
    clear = last_before(tmr_clears, i)
    if clear is None:
        return False
    lo, hi = times[clear], times[i] + gap(i, 1) + slack
    if not int(events[i][5], 16) & 1:
        lo, hi = times[clear] + gap(clear, 1) + slack, times[i] - slack
    first = math.ceil((lo + phase) / period)
    flip = first * period - phase  # the first flip after lo
    return (flip <= hi) == bool(int(events[i][5], 16) & 1)


def rtc_reads():
    """The RTC's release (the write of register A that lets its held
    divider run: the seconds begin 500 ms later), and its reads of the
    seconds and of registers A and C: (event, register B then)."""
    index, reg_a, reg_b, release = None, 0x26, 0x02, None
    reads = {0x00: [], 0x0a: [], 0x0c: []}
    for i, e in enumerate(events):
        if e[2] not in ("pio.w", "pio.r") or e[3] not in ("0x70", "0x71"):
            continue
        v = int(e[5], 16) if e[5] != "?" else None
        if e[2] == "pio.w" and e[3] == "0x70":
            index = v & 0x7f
        elif e[2] == "pio.w" and index == 0x0a:
            if reg_a & 0x60 == 0x60 and v & 0x70 <= 0x20 and \
                    not reg_b & 0x80:
                release = i
            reg_a = v
        elif e[2] == "pio.w" and index == 0x0b:
            reg_b = v
        elif e[2] == "pio.r" and index in reads and v is not None:
            reads[index].append((i, reg_b))
    return release, reads


def previous_second(v, reg_b):
    n = v if reg_b & 0x04 else (v >> 4) * 10 + (v & 15)
    n = (n - 1) % 60
    return n if reg_b & 0x04 else (n // 10) << 4 | n % 10


UIP_NS = 244140  # QEMU's UIP lead: 8 / 32768 s
LATE_MAX = 500000000  # QEMU's update timer: within 500 ms of the second


def second_fits(b, delta, reads):
    """Whether QEMU's second boundary b + delta and some instant U of
    its update timer (at or after it) give the seconds, UIP and UF that
    QEMU returned around the model's boundary b."""
    slack = d["tolerance"]["ns"]
    bq = b + delta
    lo, hi = bq, b + LATE_MAX
    for i, reg_b in reads[0x00]:
        t, g = times[i], gap(i, 1)
        q, m = int(events[i][5], 16), model_value(i)
        new = t >= b if q == m else (
            False if t >= b and q == previous_second(m, reg_b) else
            True if t < b and m == previous_second(q, reg_b) else None)
        if new is None or (new and t + g + slack < bq) or \
                (not new and t - slack >= bq):
            return False
    for i, _ in reads[0x0a]:
        t, g = times[i], gap(i, 1)
        if int(events[i][5], 16) & 0x80:
            if t + g + slack < bq - UIP_NS:
                return False
            lo = max(lo, t - slack)
        elif t + slack >= bq - UIP_NS:
            hi = min(hi, t + g + slack)
    for i, _ in reads[0x0c]:
        t, g = times[i], gap(i, 1)
        if t + g + slack < bq:
            continue
        if int(events[i][5], 16) & 0x10:
            hi = min(hi, t + g + slack)
            break
        lo = max(lo, t - slack)
    return lo <= hi


def rtc_second_bits(release, reads):
    """The seconds, UIP (register A) and UF (register C) as QEMU shows
    them.  QEMU's seconds begin 500 ms after it handled the release, some
    delta after the write's line and before the vcpu's next event; it
    computes the seconds on each read, latches UIP from 244 us before a
    boundary until its update timer runs (its main loop, late), and sets
    UF only then.  One delta, and one timer instant per boundary, must fit
    every read near the boundaries.  Returns {event: (bits, class)}."""
    out = {}
    if release is None:
        return out
    why = "RTC seconds/UIP/UF, QEMU's release and update timer late"
    slack = d["tolerance"]["ns"]
    dmax = gap(release, 1) + slack
    bounds = range(times[release] + 500000000, times[-1] + LATE_MAX,
                   1000000000)
    near = {b: {r: [x for x in reads[r]
                    if b - 2000000 <= times[x[0]] < b + LATE_MAX]
                for r in reads} for b in bounds}
    fit = next((dmax * k / 400 for k in range(401)
                if all(second_fits(b, dmax * k / 400, near[b])
                       for b in bounds)), None)
    if fit is None:
        return out
    delays[why].append(fit)
    for b in bounds:
        for r, bits in ((0x00, 0xff), (0x0a, 0x80), (0x0c, 0x10)):
            for i, _ in near[b][r]:
                out[i] = (bits, why)
    return out


def rtc_periodic_bits(reads):
    """PF as QEMU sets it: at each tick of its periodic timer, which runs
    only while PIE is set, fires late and catches up in bursts, each tick
    raising IRQ8 (the trace's dev irq 8 raises).  A read shows PF when a
    raise came after the previous read and before this one was sampled;
    IRQF follows PF while PIE (alone) enables it.  Returns {event: (bits,
    class)}."""
    out = {}
    raises = [times[i] for i, e in enumerate(events)
              if e[1] == "dev" and e[3] == "8" and e[5] == "0x1"]
    why = "RTC PF, from QEMU's late periodic ticks (its IRQ8 raises)"
    prev = None
    for i, reg_b in reads[0x0c]:
        v = int(events[i][5], 16)
        irqf = v >> 6 & 1 if reg_b & 0x40 else 0
        if reg_b & 0x30 or v >> 7 != irqf:  # UIE or AIE: not this class
            prev = i
            continue
        t, g = times[i], gap(i, 1)
        p_lo, p_hi = (times[prev], times[prev] + gap(prev, 1)) \
            if prev is not None else (0, 0)
        if v & 0x40:
            ok = any(p_lo < r <= t + g for r in raises)
        else:
            ok = not any(p_hi < r <= t for r in raises)
        if ok:
            out[i] = (0xc0 if reg_b & 0x40 else 0x40, why)
        prev = i
    return out


def lapic_accepts(path):
    """(time, vector) of the capture's kvm_apic_accept_irq lines, on the
    trace's clock (the importer's: TSC counts from the first event line,
    at the header's rate)."""
    out, t0, hz = [], None, None
    for line in open(path) if path else ():
        if line.startswith("# dmsim-capture"):
            hz = int(line.split("tsc_hz=")[1].split()[0])
            continue
        parts = line.split(": ", 2)
        if len(parts) < 3 or line.startswith("#"):
            continue
        t = int(parts[0].split()[-1])
        t0 = t if t0 is None else t0
        if parts[1] == "kvm_apic_accept_irq":
            vec = int(parts[2].split("vec ")[1].split()[0])
            out.append(((t - t0) * 10**9 // hz, vec))
    return out


def late_delivery(i, f, div):
    """An interrupt KVM delivered that the replay had merged into the
    vcpu's previous one of that vector: KVM's LAPIC accepted the vector
    (kvm_apic_accept_irq) after it had taken the previous one from the
    IRR, while the replay had the line's change earlier (its first echo,
    the 8259's, the thread raising the line preempted before the
    IOAPIC's), or took the previous one later: KVM takes a vector when it
    prepares the injection, after the vcpu's event before the intack
    line, which is logged when the guest took it."""
    vec = int(div["expected"], 16)
    prev = next((j for j in range(i - 1, -1, -1)
                 if events[j][2] == "intack" and events[j][1] == f[1]
                 and events[j][5] == div["expected"]), None)
    if prev is None:
        return False
    taken = times[prev] - gap(prev, -1)
    return any(taken < t <= times[i] and v == vec for t, v in accepts)


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
    if f[2] == "intack" and div["expected"] != "?" and \
            late_delivery(i, f, div):
        return "intack, KVM's LAPIC accepted the edge after the last one"
    if f[2] == "pio.r" and f[3] == "0x71" and i in rtc_bits:
        diff = int(div["expected"], 16) ^ model_value(i)
        if diff & ~sum(bits for bits, _ in rtc_bits[i]):
            return None
        return " and ".join(why for bits, why in rtc_bits[i] if diff & bits)
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


rtc_release, rtc_regs = rtc_reads()
rtc_bits = collections.defaultdict(list)
for part in (rtc_periodic_bits(rtc_regs),
             rtc_second_bits(rtc_release, rtc_regs)):
    for i, bits_why in part.items():
        rtc_bits[i].append(bits_why)
accepts = lapic_accepts(args.raw)
hpet_starts = hpet_enables()
tmr_clears = [j for j in writes["0x%x" % pmbase]
              if int(events[j][5], 16) & 1]
by = collections.Counter()
bad = []
tmr_sts, pm_phase = [], None
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
        if why.startswith("PM timer"):
            pm_phase = start
why = "PM1_STS TMR_STS, on QEMU's virtual clock phase"
for i in tmr_sts:
    if pm_phase is None or not tmr_sts_fits(i, pm_phase):
        by[why] -= 1
        by["pio.r 0x%x" % pmbase] += 1
        bad.append(divs[i])

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
    if why.startswith("RTC seconds") and delays[why]:
        more = " (release applied %.1f us late)" % (delays[why][0] / 1000)
    elif why.startswith("HPET") and delays[why]:
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
