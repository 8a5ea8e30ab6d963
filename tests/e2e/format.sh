#!/usr/bin/env bash
# The C sources follow the repository's .clang-format (Linux kernel
# style): clang-format must find nothing to change.
# usage: format.sh DMSIM TRACES_DIR (unused; the tree is found from here)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v clang-format >/dev/null; then
	echo "SKIP: clang-format is not installed"
	exit 0
fi
mapfile -t files < <(cd "$top" && find sim models traces replay cli tests bench guests \
	-name '*.[ch]' -type f | sort)
[ "${#files[@]}" -gt 50 ] || { echo "FAIL: only ${#files[@]} C files found" >&2; exit 1; }
cd "$top"
if ! clang-format --dry-run --Werror "${files[@]}" 2>"${TMPDIR:-/tmp}/dm-format.$$"; then
	head -40 "${TMPDIR:-/tmp}/dm-format.$$" >&2
	rm -f "${TMPDIR:-/tmp}/dm-format.$$"
	echo "FAIL: run clang-format -i on the files above" >&2
	exit 1
fi
rm -f "${TMPDIR:-/tmp}/dm-format.$$"
echo "format e2e: ${#files[@]} files follow .clang-format"
