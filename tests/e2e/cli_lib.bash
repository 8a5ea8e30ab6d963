# Sourced, not run: the .bash name keeps it out of the e2e glob (CMakeLists.txt).
# Shared by the tests of one dmsim command (convert.sh, import_cli.sh),
# sourced after they set dmsim (the binary), cmd (the command under test)
# and work (a scratch directory).

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect_fail WANT ARGS...: dmsim $cmd ARGS must exit 2 saying WANT.
expect_fail() {
	local want=$1 rc=0
	shift
	"$dmsim" "$cmd" "$@" >"$work/out" 2>"$work/err" || rc=$?
	[ "$rc" -eq 2 ] || fail "$cmd $* exited $rc, not 2"
	grep -qF -- "$want" "$work/err" ||
		fail "$cmd $* said '$(cat "$work/err")', not '$want'"
}
