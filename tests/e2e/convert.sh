#!/bin/bash
# SPDX-License-Identifier: MIT
# dmsim convert end to end: round trips through the real binary, stdin and
# stdout, and exit 2 with a file:line or byte-offset message on bad input.
# usage: bash convert.sh DMSIM_BINARY TRACES_DIR
set -euo pipefail

dmsim=$1
traces=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmd=convert
. "$(dirname "$0")/cli_lib.bash"

all=$traces/codec_all_ops.txt
canon=$traces/codec_all_ops.canon.txt

"$dmsim" convert --help | grep -q '^usage: dmsim convert IN OUT' ||
	fail "--help"
expect_fail "needs IN and OUT"
expect_fail "unknown option '--bogus'" "$all" "$work/x" --bogus
expect_fail "--to takes text or binary, not 'hex'" "$all" "$work/x" --to hex

# Text -> binary (the default for text input) -> text: canonical lines.
"$dmsim" convert "$all" "$work/a.bin"
[ "$(head -c 7 "$work/a.bin")" = DMTRACE ] || fail "binary has no magic"
"$dmsim" convert "$work/a.bin" "$work/a.txt"
diff -u "$canon" "$work/a.txt" || fail "text -> binary -> text"

# Binary -> text -> binary: identical bytes.
"$dmsim" convert "$work/a.txt" "$work/b.bin"
cmp "$work/a.bin" "$work/b.bin" || fail "binary -> text -> binary"

# --to forces the encoding, so text -> text canonicalises.
"$dmsim" convert "$all" "$work/c.txt" --to text
diff -u "$canon" "$work/c.txt" || fail "--to text"
"$dmsim" convert --to=binary "$work/a.bin" "$work/c.bin"
cmp "$work/a.bin" "$work/c.bin" || fail "--to=binary"

# '-' is standard input and output, in both directions.
"$dmsim" convert - - <"$work/a.bin" >"$work/d.txt"
diff -u "$canon" "$work/d.txt" || fail "binary stdin -> text stdout"
"$dmsim" convert - - <"$canon" >"$work/d.bin"
cmp "$work/a.bin" "$work/d.bin" || fail "text stdin -> binary stdout"

# Malformed text: the file, the line and the offending token.
expect_fail "$traces/codec_bad_op.txt:5: unknown op 'pio.x'" \
	"$traces/codec_bad_op.txt" "$work/bad.bin"
[ ! -e "$work/bad.bin" ] || fail "a failed convert left its output"
expect_fail "$traces/codec_bad_value.txt:4: value '0x100' too big for size 1" \
	"$traces/codec_bad_value.txt" "$work/bad.bin"

# Header: 24 bytes + the options; the chunk header of 16 bytes follows.
hdr=$((24 + $(printf 'profile=kvm vcpus=2' | wc -c)))

# A flipped payload byte: the chunk's checksum, at the chunk's offset.
cp "$work/a.bin" "$work/flip.bin"
printf '\377' | dd of="$work/flip.bin" bs=1 seek=$((hdr + 20)) \
	conv=notrunc status=none
expect_fail "flip.bin: byte $hdr: chunk checksum mismatch (chunk 0)" \
	"$work/flip.bin" "$work/x.txt"

# Truncated: the end chunk is missing.
head -c $(($(wc -c <"$work/a.bin") - 16)) "$work/a.bin" >"$work/cut.bin"
expect_fail "cut.bin: byte $(wc -c <"$work/cut.bin"): truncated" \
	"$work/cut.bin" "$work/x.txt"

# An unknown version, and a damaged magic.
cp "$work/a.bin" "$work/v7.bin"
printf '\007' | dd of="$work/v7.bin" bs=1 seek=8 conv=notrunc status=none
expect_fail "v7.bin: unsupported binary trace version 7" \
	"$work/v7.bin" "$work/x.txt"
cp "$work/a.bin" "$work/magic.bin"
printf 'X' | dd of="$work/magic.bin" bs=1 seek=2 conv=notrunc status=none
expect_fail "magic.bin: byte 2: bad magic" "$work/magic.bin" "$work/x.txt"

# Write errors are reported, never silent.
if [ -w /dev/full ]; then
	expect_fail "/dev/full: write error: No space left on device" \
		"$all" /dev/full
fi

# Converting a file onto itself would truncate it first.
cp "$all" "$work/self.txt"
expect_fail "IN and OUT are the same file" "$work/self.txt" "$work/self.txt"
expect_fail "missing.txt: No such file or directory" \
	"$work/missing.txt" "$work/x.bin"

echo "convert.sh: all passed"
