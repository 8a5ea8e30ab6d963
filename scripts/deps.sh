#!/usr/bin/env bash
# Installs the Debian packages dmsim builds and tests with, if any is
# missing.  Sourced by demo.sh and test.sh.
set -euo pipefail
dmsim_pkgs=(build-essential cmake pkg-config libsqlite3-dev libxxhash-dev check python3 clang-format xz-utils)
missing=()
for p in "${dmsim_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
