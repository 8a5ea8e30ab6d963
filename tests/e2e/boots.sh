#!/usr/bin/env bash
# Real guests: SeaBIOS and early Linux 6.1 booting under QEMU 7.2 with
# kernel-irqchip=on, captured here by `dmsim kvm capture` (the raw tracefs
# text, xz-compressed, in tests/captures/; docs/importers.md, "Committed
# boot captures", says how each was made).  Each is imported with IRQ0
# and the HPET's lines from the capture and replayed with the tolerance
# for captures (20 us; 30 us for the capture where the host hid a 63 us
# stop of a vcpu thread inside one PM timer read, docs/importers.md): it
# must show no divergence, the machine the capture came from, and at
# least the reads, interrupts and kvm-pit raises of IRQ0 it holds (less a
# margin), so an importer that drops events fails.  Each of those raises
# must answer the PIT model's ticks, at most 10 ms late
# (pit_irq0_late_ns; the latest of the 595 is 4.0 ms, docs/importers.md).
# migrate-check must pass at every event boundary, with the PIT's ticks
# queued for that check.
# usage: boots.sh DMSIM TRACES_DIR
set -euo pipefail
dmsim=$1
captures=$(cd "$(dirname "$0")/../captures" && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }
command -v xz >/dev/null || fail "xz is needed (scripts/deps.sh installs xz-utils)"
command -v python3 >/dev/null || fail "python3 is needed"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

late=10000000
while read -r name vcpus chipset tolerance min_reads min_intacks min_raises; do
	[ "${name:0:1}" != "#" ] || continue
	raw=$tmp/$name.raw
	xz -dc "$captures/$name.raw.xz" >"$raw" || fail "$name: cannot decompress"
	"$dmsim" import ftrace "$raw" -o "$tmp/$name.txt" --pit-irq0 trace \
		--hpet-irq trace 2>"$tmp/$name.import" ||
		{ cat "$tmp/$name.import" >&2; fail "$name: import failed"; }
	rc=0
	"$dmsim" replay --tolerance-ns "$tolerance" \
		--machine pit_irq0_late_ns=$late --json "$tmp/$name.txt" \
		>"$tmp/$name.json" || rc=$?
	[ "$rc" -le 1 ] || fail "$name: replay exited $rc"
	python3 - "$tmp/$name.json" "$name" "$vcpus" "$chipset" "$min_reads" \
		"$min_intacks" "$min_raises" <<'PY' || fail "$name: see above"
import json, sys

d = json.load(open(sys.argv[1]))
name, vcpus, chipset = sys.argv[2], sys.argv[3], sys.argv[4]
min_reads, min_intacks, min_raises = map(int, sys.argv[5:8])
machine = dict(kv.split("=", 1) for kv in d["machine"].split())
print("%-16s %5d events, %5d reads checked, %4d intacks, %5d lines, "
      "%3d IRQ0 raises (latest %d ns after its tick), "
      "%d divergences (max residual %d ns)"
      % (name, d["events"], d["reads_checked"], d["intacks"], d["irqs"],
         d["pit_raises"], d["pit_raise_late_ns"], d["divergence_count"],
         d["tolerance"]["max_residual_ns"]))
for div in d["divergences"][:10]:
    print("  event %d: %s: expected %s, got %s"
          % (div["event"], div["access"], div["expected"], div["actual"]))
ok = d["divergence_count"] == 0
ok &= machine["vcpus"] == vcpus and machine["chipset"] == chipset
ok &= machine.get("pit_irq0") == "off" and machine.get("pit_qemu_reset") == "on"
ok &= d["reads_checked"] >= min_reads and d["intacks"] >= min_intacks
ok &= d["pit_raises"] >= min_raises
sys.exit(0 if ok else 1)
PY
	"$dmsim" migrate-check --machine pit_irq0_late_ns=$late \
		"$tmp/$name.txt" >"$tmp/$name.migrate" ||
		{ cat "$tmp/$name.migrate" >&2; fail "$name: migrate-check"; }
	grep -q ': identical$' "$tmp/$name.migrate" ||
		fail "$name: migrate-check did not say identical"
done <<'EOF'
# name          vcpus chipset tolerance  min reads  min intacks  min raises
pc-1cpu-hpet    1     pc      20000      3200       130          35
q35-1cpu-nohpet 1     q35     20000      1750       150          180
q35-2cpu-hpet   2     q35     20000      1900       190          50
pc-2cpu-nohpet  2     pc      30000      1000       260          300
EOF
echo "PASS: every boot capture replays with 0 divergences, its kvm-pit raises" \
	"of IRQ0 answering the PIT's ticks, and migrates at every event"
