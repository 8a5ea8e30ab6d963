#!/usr/bin/env python3
"""Judges the replay of a probe guest's capture (tests/e2e/capture.sh,
tests/e2e/capture_qemu.sh; docs/importers.md, "The probe guest and its
replay").

usage: capture_check.py REPLAY.json TRACE.txt --intacks LIST
           --min-checked N [--min-reads DEV=N,...] [--min-pit-raises N]

REPLAY is `dmsim replay --json` of TRACE.  It must show no divergence,
have checked every intack of the trace and at least N reads (per device
with --min-reads) and, with --min-pit-raises, at least N IRQ0 raises
against the PIT's ticks (pit_irq0_late_ns), and the interrupts named by
--intacks must have been taken.  Exits 1 naming what failed.
"""
import argparse
import collections
import json
import sys

ap = argparse.ArgumentParser()
ap.add_argument("replay")
ap.add_argument("trace")
ap.add_argument("--intacks", required=True,
                help="comma-separated vectors that must be taken (? = 8259)")
ap.add_argument("--min-checked", type=int, required=True)
ap.add_argument("--min-reads", default="",
                help="DEVICE=N,...: checked reads each device must have")
ap.add_argument("--min-pit-raises", type=int, default=0,
                help="IRQ0 raises the PIT raise check must have checked")
args = ap.parse_args()

d = json.load(open(args.replay))
lines = open(args.trace).read().split("\n")
events = [l.split() for l in lines if l[:1].isdigit()]
machine = next((l.split() for l in lines if l.startswith("machine ")), [])
opts = dict(o.split("=", 1) for o in machine[1:] if "=" in o)
pmbase = int(opts.get("pmbase", "0xb000"), 16)


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


reads = collections.Counter(device(e) for e in events
                            if e[2].endswith(".r") and e[5] != "?")
tol = d.get("tolerance", {"ns": 0, "accepted": 0, "max_residual_ns": 0,
                          "adopted": 0, "max_adopted_ns": 0,
                          "histogram": []})
print("replay: %d events, %d reads checked, %d intacks, %d divergences"
      % (d["events"], d["reads_checked"], d["intacks"],
         d["divergence_count"]))
print("  reads by device: %s" % ", ".join(
    "%s %d" % (k, n) for k, n in sorted(reads.items()) if k))
if d["pit_raises"]:
    print("  IRQ0: %d raises checked against the PIT's ticks, the latest "
          "%d ns after its tick" % (d["pit_raises"], d["pit_raise_late_ns"]))
print("  tolerance %d ns: %d reads matched off their timestamp, max %d ns "
      "(|residual| < 1, 2, 4 ... 64 us, more: %s); %d start writes and "
      "intacks moved, max %d ns"
      % (tol["ns"], tol["accepted"], tol["max_residual_ns"],
         " ".join(map(str, tol["histogram"])), tol["adopted"],
         tol["max_adopted_ns"]))
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
if d["pit_raises"] < args.min_pit_raises:
    print("FAIL: %d IRQ0 raises checked against the PIT's ticks, want %d"
          % (d["pit_raises"], args.min_pit_raises))
    ok = False
for item in filter(None, args.min_reads.split(",")):
    dev, n = item.split("=")
    if reads[dev] < int(n):
        print("FAIL: %d %s reads, want %s" % (reads[dev], dev, n))
        ok = False
for div in d["divergences"][:10]:
    print("divergence: event %d: %s: expected %s, got %s"
          % (div["event"], div["access"], div["expected"], div["actual"]))
if d["divergence_count"]:
    print("FAIL: %d divergences" % d["divergence_count"])
    ok = False
sys.exit(0 if ok else 1)
