#!/usr/bin/env bash
# Real boots with QEMU's own interrupt controllers and timers
# (kernel-irqchip=off): SeaBIOS and early Linux, captured here with
# `dmsim kvm capture` (docs/importers.md, "Committed captures").  Each
# capture's raw tracefs text is imported (which must detect irqchip off and
# say profile=qemu with the right chipset) and replayed with the tolerance
# for captures; the replay must show no divergence, every derived
# interrupt acceptance must find an interrupt, and the counts of checked
# reads, intacks and 8259 vectors checked must reach the capture's floor;
# and migrate-check must pass at every event boundary.
# usage: boots_qemu.sh DMSIM TRACES_DIR
set -euo pipefail
dmsim=$1
captures=$2/../captures
tolerance=50000

skip() { echo "SKIP: $*"; exit 0; }
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v xz >/dev/null || skip "no xz to unpack the captures (scripts/deps.sh installs xz-utils)"
command -v python3 >/dev/null || skip "no python3 to read the replay's report"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# capture, machine line it must import to, then the floors: checked reads,
# intacks, intacks with an 8259 vector checked (about 10% under the counts
# the captures give, docs/importers.md).
cases=(
	"qemu-off-pc-hpet|profile=qemu vcpus=1 chipset=pc |350|85|18"
	"qemu-off-q35-nohpet|profile=qemu vcpus=1 chipset=q35 |340|90|21"
	"qemu-off-q35-hpet|profile=qemu vcpus=1 chipset=q35 |355|75|19"
	"qemu-off-pc-2cpu-hpet|profile=qemu vcpus=2 chipset=pc |177|88|0"
	"qemu-off-q35-2cpu-nohpet|profile=qemu vcpus=2 chipset=q35 |162|71|0"
)

for c in "${cases[@]}"; do
	IFS='|' read -r name machine min_reads min_intacks min_vectors <<<"$c"
	xz -dc "$captures/$name.raw.xz" >"$tmp/$name.raw" || fail "$name: cannot unpack"
	"$dmsim" import ftrace "$tmp/$name.raw" -o "$tmp/$name.txt" 2>"$tmp/$name.import" ||
		{ cat "$tmp/$name.import" >&2; fail "$name: import failed"; }
	grep -q 'kernel-irqchip=off' "$tmp/$name.import" || fail "$name: irqchip off not detected"
	sed -n 2p "$tmp/$name.txt" | grep -q "^machine $machine" ||
		fail "$name: machine line '$(sed -n 2p "$tmp/$name.txt")', want '$machine...'"
	vectors=$(sed -n 's/.* intacks from EOIs: \([0-9]*\) with the 8259 vector.*/\1/p' "$tmp/$name.import")
	[ "${vectors:-0}" -ge "$min_vectors" ] || fail "$name: ${vectors:-0} 8259 vectors checked, want >= $min_vectors"
	rc=0
	"$dmsim" replay "$tmp/$name.txt" --tolerance-ns "$tolerance" --json >"$tmp/$name.json" || rc=$?
	[ "$rc" -le 1 ] || fail "$name: replay failed ($rc)"
	python3 - "$tmp/$name.json" "$name" "$min_reads" "$min_intacks" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
name, min_reads, min_intacks = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for div in d["divergences"][:5]:
    print("  %s: event %d t=%d: expected %s, got %s" % (
        name, div["event"], div["time_ns"], div["expected"], div["actual"]),
        file=sys.stderr)
assert d["divergence_count"] == 0, "%s: %d divergences" % (name, d["divergence_count"])
assert d["intacks_none"] == 0, "%s: %d intacks found no interrupt" % (name, d["intacks_none"])
assert d["reads_checked"] >= min_reads, "%s: %d reads checked" % (name, d["reads_checked"])
assert d["intacks"] >= min_intacks, "%s: %d intacks" % (name, d["intacks"])
print("%s: %d events, %d reads checked, %d intacks, 0 divergences (%d within the tolerance)"
      % (name, d["events"], d["reads_checked"], d["intacks"], d["tolerated"]))
PY
	# A checkpoint at every event boundary restores (docs/cli.md).
	"$dmsim" migrate-check "$tmp/$name.txt" >"$tmp/$name.migrate" ||
		{ cat "$tmp/$name.migrate" >&2; fail "$name: migrate-check"; }
	grep -q 'identical$' "$tmp/$name.migrate" || fail "$name: migrate-check not identical"
	rm -f "$tmp/$name.raw"
done
