#!/usr/bin/env bash
# Installs the Debian packages dmsim builds and tests with, if any is
# missing.  Run by demo.sh, and by test.sh as `deps.sh test`, which adds
# what only the tests use.
# usage: deps.sh [test]
set -euo pipefail
dmsim_pkgs=(build-essential cmake pkg-config libsqlite3-dev libxxhash-dev check python3 clang-format xz-utils)
# The QEMU guest capture (tests/e2e/capture_qemu.sh); the probe is its
# own firmware, so none of QEMU's recommended packages is needed.
test_pkgs=(qemu-system-x86)

# Installs those of the packages named that are missing; apt-get options
# come first, before a --.
install_missing() {
	local opts=() missing=() p
	while [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	echo "installing: ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${opts[@]}" "${missing[@]}" >/dev/null
}

install_missing -- "${dmsim_pkgs[@]}"
if [ "${1:-}" = test ]; then
	install_missing --no-install-recommends -- "${test_pkgs[@]}"
fi
