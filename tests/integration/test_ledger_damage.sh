# test_ledger_damage.sh: a damaged, foreign or locked ledger. pactod refuses
# to start on a file that is not a pacto ledger or whose pages are damaged,
# says why, and leaves the file byte for byte as it was; a second pactod on
# the same state directory is refused (it would take over the socket and
# the table); a ledger write-locked by another process (sqlite3 holding
# BEGIN EXCLUSIVE) makes writes fail after the busy timeout: the sanction
# is still enforced, pacto status says "database is locked", and it is
# recorded late once the lock goes. pactod runs with --dry-run: no firewall.
. "$PACTO_TOP/tests/integration/lib.sh"

STATE="$SCRATCH/state"
LOG="$SCRATCH/auth.log"
DB="$STATE/ledger.db"
: >"$LOG"
mkdir -p "$STATE"
ctl() { "$BUILD/pacto" --state-dir "$STATE" "$@"; }
pactod() { "$BUILD/pactod" --foreground --dry-run --state-dir "$STATE" --watch "$LOG" "$@"; }
start_pactod() {
	"$BUILD/pactod" --foreground --dry-run --state-dir "$STATE" --watch "$LOG" >>"$SCRATCH/pactod.log" 2>&1 &
	PID=$!
	for i in $(seq 50); do [ -S "$STATE/pacto.sock" ] && ctl status >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
stop_pactod() { kill "$PID" && wait "$PID"; }
if ! command -v sqlite3 >/dev/null; then
	not_ok "sqlite3 (the command) is missing: scripts/deps installs it"
	exit 0
fi

# A file that is not SQLite at all.
head -c 20000 /dev/urandom >"$DB"
cp "$DB" "$SCRATCH/orig"
expect_exit 78 "a ledger that is not SQLite: pactod refuses to start" pactod
check "and says why" grep -q "ledger.db: not a SQLite database, not a pacto ledger; left untouched" "$SCRATCH/err"
check "the file is left byte for byte" cmp -s "$DB" "$SCRATCH/orig"
check "no -wal or -shm was left beside it" [ ! -e "$DB-wal" -a ! -e "$DB-shm" ]

# A real ledger with a damaged page.
rm -f "$DB"
check "pactod starts on a new ledger" start_pactod
for k in $(seq 1 200); do ctl sanction "203.0.113.$((k % 250))" --reason "$(printf 'r%.0s' $(seq 40))" >/dev/null || break; done
# (pactod counts its rows on a thread of its own: within a second or so)
check "200 manual sanctions are recorded" wait_for 10 sh -c "[ \$($BUILD/pacto --state-dir $STATE status --json | jq .ledger.sanctions) -eq 200 ]"
stop_pactod
root=$(sqlite3 "$DB" "SELECT rootpage FROM sqlite_schema WHERE name = 'sanction'")
pages=$(sqlite3 "$DB" "PRAGMA page_count")
check "the sanction table spans pages ($pages pages)" [ "$pages" -gt 4 ]
# Garbage over the middle of every page after the table's root: b-tree cells.
for p in $(seq $((root + 1)) "$pages"); do
	head -c 1000 /dev/urandom | dd of="$DB" bs=1 seek=$(((p - 1) * 4096 + 1500)) conv=notrunc 2>/dev/null
done
cp "$DB" "$SCRATCH/orig"
expect_exit 78 "a ledger with damaged pages: pactod refuses to start" pactod
check "and says the file is damaged, where, and how to go on" grep -q "ledger.db: the file is damaged (On tree page .*); left untouched: move it aside" "$SCRATCH/err"
check "the damaged file is left byte for byte" cmp -s "$DB" "$SCRATCH/orig"

# One pactod per state directory.
rm -f "$DB" "$DB-wal" "$DB-shm"
check "pactod starts again on a new ledger" start_pactod
expect_exit 78 "a second pactod on the same state directory is refused" pactod
check "naming the first one's pid" grep -q "another pactod (pid $PID) uses this state directory" "$SCRATCH/err"
check "the first one still answers" sh -c "$BUILD/pacto --state-dir $STATE status >/dev/null"

# Write-locked by another process for 4 s (pactod waits 250 ms for a lock).
(echo "BEGIN EXCLUSIVE; CREATE TABLE lock_holder (x);"; sleep 4; echo "ROLLBACK;") |
	sqlite3 "$DB" &
LOCKER=$!
sleep 0.5
check "while the ledger is locked, pacto sanction is enforced (answers)" sh -c "$BUILD/pacto --state-dir $STATE sanction 198.51.100.7 >/dev/null"
check "pacto status says the ledger is locked" wait_for 12 sh -c "$BUILD/pacto --state-dir $STATE status | grep -q 'ledger errors: .*database is locked'"
held=$(ctl status --json | jq .ledger.held)
check "and that one sanction waits to be recorded ($held)" [ "$held" -eq 1 ]
wait "$LOCKER"
check "when the lock goes, it is recorded late" wait_for 12 sh -c "$BUILD/pacto --state-dir $STATE sanctions --json | jq -e '.sanctions[] | select(.address == \"198.51.100.7\" and .held != true)' >/dev/null"
check "none waits, one recorded late" [ "$(ctl status --json | jq -r '"\(.ledger.held)/\(.ledger.recorded_late)"')" = "0/1" ]
stop_pactod
check "pactod stopped cleanly" [ $? -eq 0 ]
