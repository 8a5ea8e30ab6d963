#!/usr/bin/env bash
# End-to-end checks of the checkpoint database: `dmsim replay --db` killed
# with SIGKILL mid-run leaves every committed checkpoint intact and
# verifiable; `dmsim show` lists runs, checkpoints and fields; newer-schema,
# garbage and corrupt databases give exit 2 with a clear message.
# usage: store.sh DMSIM TRACES_DIR
set -euo pipefail
dmsim=$1
traces=$2
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

expect_rc() {
	local want=$1; shift
	local rc=0
	"$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	[ "$rc" -eq "$want" ] || { cat "$tmp/out" "$tmp/err" >&2; fail "$* exited $rc, want $want"; }
}

sql() { # DB QUERY: prints the first column of the first row
	python3 - "$1" "$2" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=30)
row = c.execute(sys.argv[2]).fetchone()
print(row[0] if row else "")
PY
}

# ---- a run killed with SIGKILL ---------------------------------------------

# An endless PIT trace on stdin: latch-and-read loops, a mark every 1000
# events.  The replay can only end by being killed.
python3 - >"$tmp/gen.py" <<'PY'
print(r'''
import sys
w = sys.stdout.write
w("dmtrace 1\nmachine profile=datasheet pit_hz=1000000\n")
w("0 cpu0 pio.w 0x43 1 0x34\n0 cpu0 pio.w 0x40 1 0xe8\n0 cpu0 pio.w 0x40 1 0x03\n")
t, n = 1000, 0
try:
    while True:
        w("%d cpu0 pio.w 0x43 1 0x00\n%d cpu0 pio.r 0x40 1 ?\n%d cpu0 pio.r 0x40 1 ?\n" % (t, t, t))
        n += 3
        if n % 999 == 0:
            w("%d sim mark - - m%d\n" % (t, n))
        t += 700
except BrokenPipeError:
    pass
''')
PY
db=$tmp/killed.db
python3 "$tmp/gen.py" | "$dmsim" replay - --db "$db" --checkpoint-every 1 \
	>"$tmp/replay.out" 2>"$tmp/replay.err" &
pid=$!
# Wait until a good number of checkpoints are committed, then kill.
committed=0
for _ in $(seq 600); do
	sleep 0.1
	if [ -f "$db" ]; then
		committed=$(sql "$db" "SELECT count(*) FROM checkpoints" 2>/dev/null || echo 0)
		[ "${committed:-0}" -ge 20000 ] && break
	fi
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/replay.err" >&2; fail "replay ended on its own"; }
done
[ "${committed:-0}" -ge 20000 ] || fail "only ${committed:-0} checkpoints committed in 60 s"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=

# The file opens; every committed checkpoint is there and verifies.
expect_rc 0 "$dmsim" show "$db" --verify
grep -q '^run 1 (running): [0-9]* checkpoints, all verified$' "$tmp/out" || fail "no verified run: $(cat "$tmp/out")"
n=$(sed -n 's/^run 1 (running): \([0-9]*\) checkpoints.*/\1/p' "$tmp/out")
[ "$n" -ge "$committed" ] || fail "$n checkpoints after the kill, $committed were committed before"
grep -q " 0 corrupt$" "$tmp/out" || fail "corrupt checkpoints reported"

expect_rc 0 "$dmsim" show "$db"
grep -Eq '^1 +replay +running +[0-9]+ ' "$tmp/out" || fail "run not listed as running"
expect_rc 0 "$dmsim" show "$db:1"
[ "$(grep -c ' m[0-9]*$' "$tmp/out")" -gt 0 ] || fail "no mark labels"
expect_rc 0 "$dmsim" show "$db:1:$n" --device pit
grep -q "^run 1 checkpoint $n: after event $((n - 1))," "$tmp/out" || fail "no header"
grep -q '^pit.ch0.mode = 2$' "$tmp/out" || fail "pit fields missing"
grep -q '^pit.ch0.cr = 0x3e8$' "$tmp/out" || fail "count register wrong"
expect_rc 0 "$dmsim" show "$db:1:$n" --json
python3 - "$tmp/out" "$n" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["seq"] == int(sys.argv[2]) and d["run"] == 1, d
assert d["fields"]["pit.ch0.cr"] == "0x3e8", d["fields"]["pit.ch0.cr"]
assert d["fields"]["clock.now"] == str(d["time_ns"]), d
PY

# The plain SQL view answers the same question.
[ "$(sql "$db" "SELECT ivalue FROM checkpoint_fields WHERE run = 1 AND seq = $n AND field = 'pit.ch0.cr'")" = 1000 ] || fail "SQL view"

# ---- a finished run, JSON and the field listing ---------------------------

db2=$tmp/ok.db
expect_rc 0 "$dmsim" replay "$traces/pit_datasheet.txt" --db "$db2" --checkpoint-every 10 --json
python3 - "$tmp/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["run"] == 1 and d["checkpoints"] == 4, d
PY
expect_rc 0 "$dmsim" replay "$traces/pit_datasheet.txt" --db "$db2"
grep -q '^checkpoints: 1 (run 2)$' "$tmp/out" || fail "mark-only run"
expect_rc 0 "$dmsim" show "$db2" --json
python3 - "$tmp/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert [r["checkpoints"] for r in d["runs"]] == [4, 1], d
assert all(r["status"] == "passed" and r["finished_at"] for r in d["runs"]), d
PY
expect_rc 0 "$dmsim" show "$db2:2:1"
grep -q 'label after-reload' "$tmp/out" || fail "label not shown"
grep -q '^lapic0.timer = never$' "$tmp/out" || fail "idle timer not shown as never"
expect_rc 2 "$dmsim" show "$db2:2:9"
grep -q 'has no checkpoint 9' "$tmp/err" || fail "missing checkpoint not named"
expect_rc 2 "$dmsim" show "$db2:9"
grep -q 'no run 9' "$tmp/err" || fail "missing run not named"
expect_rc 2 "$dmsim" show "$db2:2:1" --device nope
grep -q "has no device 'nope'" "$tmp/err" || fail "missing device not named"
expect_rc 2 "$dmsim" replay "$traces/pit_datasheet.txt" --checkpoint-every 5
expect_rc 2 "$dmsim" replay "$traces/pit_datasheet.txt" --db "$db2" --checkpoint-every 0

# A trace read from a pipe is not read twice to hash it.
expect_rc 0 "$dmsim" replay <(cat "$traces/pit_datasheet.txt") --db "$db2" --checkpoint-every 10
grep -q '^divergences: 0$' "$tmp/out" || fail "replay from a pipe"
[ "$(sql "$db2" "SELECT trace_hash IS NULL FROM runs WHERE id = 3")" = 1 ] || fail "a pipe has no trace hash"
[ "$(sql "$db2" "SELECT trace_hash IS NOT NULL FROM runs WHERE id = 1")" = 1 ] || fail "a file has a trace hash"

# migrate-check through the database.
db3=$tmp/mig.db
expect_rc 0 "$dmsim" migrate-check "$traces/pit_datasheet.txt" --via-db "$db3"
grep -q 'identical' "$tmp/out" || fail "migrate-check --via-db"
expect_rc 0 "$dmsim" show "$db3" --verify
grep -q '^run 1 (passed): 33 checkpoints, all verified$' "$tmp/out" || fail "migrate run"

# ---- bad databases: exit 2 and a message -----------------------------------

cp "$db2" "$tmp/newer.db"
python3 - "$tmp/newer.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
c.commit()
PY
expect_rc 2 "$dmsim" show "$tmp/newer.db"
grep -q 'newer.db: schema version 7 is newer than this dmsim (reads 1)' "$tmp/err" || fail "newer schema: $(cat "$tmp/err")"
expect_rc 2 "$dmsim" replay "$traces/pit_datasheet.txt" --db "$tmp/newer.db"
grep -q 'schema version 7 is newer' "$tmp/err" || fail "newer schema on replay"

head -c 65536 /dev/urandom >"$tmp/garbage.db"
expect_rc 2 "$dmsim" show "$tmp/garbage.db"
grep -q 'garbage.db: not a dmsim database' "$tmp/err" || fail "garbage: $(cat "$tmp/err")"
expect_rc 2 "$dmsim" replay "$traces/pit_datasheet.txt" --db "$tmp/garbage.db"
grep -q 'not a dmsim database' "$tmp/err" || fail "garbage on replay"
expect_rc 2 "$dmsim" show "$tmp/nonexistent.db"

# A blob whose bytes no longer hash to its key.
cp "$db2" "$tmp/corrupt.db"
python3 - "$tmp/corrupt.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
ids = c.execute("SELECT blob_ids FROM checkpoints WHERE run = 1 AND seq = 2").fetchone()[0]
pit = int(ids[12:24])
c.execute("UPDATE blobs SET data = substr(data, 1, 30) || x'5a' || substr(data, 32) WHERE id = ?", (pit,))
c.commit()
PY
expect_rc 2 "$dmsim" show "$tmp/corrupt.db" --verify
grep -q 'run 1 checkpoint 2: corrupt: pit: blob [0-9]* hashes to' "$tmp/out" || fail "corrupt blob not reported: $(cat "$tmp/out")"
expect_rc 2 "$dmsim" show "$tmp/corrupt.db:1:2"
grep -q 'checkpoint 2 is corrupt' "$tmp/err" || fail "corrupt checkpoint shown"

# Damaged pages: SQLite's own check fails, cleanly.
cp "$db2" "$tmp/pages.db"
python3 - "$tmp/pages.db" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(2 * 16384)       # page 3, the root of runs
    f.write(b"\xa5" * 16384)
PY
expect_rc 2 "$dmsim" show "$tmp/pages.db" --verify
grep -q 'pages.db: corrupt database' "$tmp/err" || fail "damaged pages: $(cat "$tmp/err")"
expect_rc 2 "$dmsim" show "$tmp/pages.db"
grep -q 'pages.db: corrupt database' "$tmp/err" || fail "damaged pages, listing"
expect_rc 2 "$dmsim" replay "$traces/pit_datasheet.txt" --db "$tmp/pages.db"
grep -q 'pages.db: corrupt database' "$tmp/err" || fail "damaged pages, replay"

expect_rc 0 "$dmsim" show --help
expect_rc 2 "$dmsim" show
expect_rc 2 "$dmsim" show "$db2" --bogus
echo "store e2e: all checks passed"
