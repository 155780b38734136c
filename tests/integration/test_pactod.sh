# test_pactod.sh: pactod as an operator meets it, in dry-run mode (no
# firewall touched, no namespace): bad configuration, reload, rotation in
# the middle of an attack, the control socket's refusals, a clean stop.
. "$PACTO_TOP/tests/integration/lib.sh"

STATE="$SCRATCH/state"
LOG="$SCRATCH/auth.log"
CONF="$SCRATCH/pacto.conf"
trap 'stop_pactod; finish' EXIT

ctl() { "$PACTO" --state-dir "$STATE" "$@"; }

fail_lines() {   # fail_lines ADDRESS N [FIRST_PID]
	for i in $(seq "$2"); do
		echo "$(date -u '+%Y-%m-%dT%H:%M:%S.000000+00:00') h sshd[$((${3:-100} + i))]: Failed password for root from $1 port $((40000 + i)) ssh2"
	done >>"$LOG"
}


# 1. Configuration errors: named with file, line and key; pactod does not start.
printf 'journal: no\nthreshhold: 3\n' >"$CONF"
expect_exit 78 "pactod -n refuses an unknown key" "$BUILD/pactod" -n --config "$CONF"
check "and names file, line and key" grep -q "^$CONF:2: threshhold: unknown key" "$SCRATCH/err"
printf 'scenarios:\n  sshd:\n    threshold: 0\n' >"$CONF"
expect_exit 78 "pactod does not start with a bad configuration" "$BUILD/pactod" --foreground --dry-run --config "$CONF" --state-dir "$STATE" --watch "$LOG"
check "it says why, with file and line" grep -q "$CONF:3: threshold: '0'" "$SCRATCH/err"
check "and opened no control socket" [ ! -e "$STATE/pacto.sock" ]
printf 'scenarios:\n  sshd:\n    threshold: 3\n' >"$CONF"
expect_exit 0 "pactod -n accepts a good configuration" "$BUILD/pactod" -n --config "$CONF"

# 2. Running: three failures (the configured threshold) sanction.
: >"$LOG"
check "pactod starts (dry run)" start_dry_pactod
fail_lines 203.0.113.10 3
check "the configured threshold of 3 sanctions 203.0.113.10" wait_sanctioned "$STATE" 203.0.113.10

# 3. A reload with a bad file keeps the running configuration.
printf 'scenarios:\n  sshd:\n    threshold: many\n' >"$CONF"
expect_exit 65 "pacto reload with a bad file is refused" ctl reload
check "with the file's error" grep -q "threshold: 'many'" "$SCRATCH/err"
check "and pactod keeps running" sh -c "$BUILD/pacto --state-dir $STATE status >/dev/null"
fail_lines 203.0.113.11 3 200
check "with the old configuration (3 failures still sanction)" wait_sanctioned "$STATE" 203.0.113.11
printf 'scenarios:\n  sshd:\n    threshold: 2\n' >"$CONF"
check "a good file reloads" sh -c "$BUILD/pacto --state-dir $STATE reload | grep -q reloaded"
fail_lines 203.0.113.12 2 300
check "and applies (2 failures now sanction)" wait_sanctioned "$STATE" 203.0.113.12

# 3b. Repeat offenders stay repeat offenders across a reload (a new engine):
# the ledger remembers their offences.
check "203.0.113.12 lifted" sh -c "$BUILD/pacto --state-dir $STATE lift 203.0.113.12 >/dev/null"
check "a reload" sh -c "$BUILD/pacto --state-dir $STATE reload >/dev/null"
fail_lines 203.0.113.12 2 350
check "after the reload its next sanction is its second offence, twice as long" sh -c \
	"for i in \$(seq 30); do $BUILD/pacto --state-dir $STATE sanctions --json |
		jq -e '.sanctions[] | select(.address == \"203.0.113.12\" and .offence == 2 and .remaining_s > 1100)' >/dev/null && exit 0;
		sleep 0.1; done; exit 1"

# 4. Rotation in the middle of an attack: failures before and after add up.
fail_lines 203.0.113.13 1 400
sleep 0.3
mv "$LOG" "$LOG.1" && : >"$LOG"
fail_lines 203.0.113.13 1 500
check "rename-and-create during an attack: the failures on both sides add up" wait_sanctioned "$STATE" 203.0.113.13
fail_lines 203.0.113.14 1 600
sleep 0.3
cp "$LOG" "$LOG.2" && : >"$LOG"
fail_lines 203.0.113.14 1 700
check "copytruncate during an attack: likewise" wait_sanctioned "$STATE" 203.0.113.14
check "status counts both rotations" sh -c "$BUILD/pacto --state-dir $STATE status --json | jq -e '.sources[0].rotations == 1 and .sources[0].truncations == 1' >/dev/null"

check "sanctions --all lists lifted and running ones, newest first" sh -c \
	"$BUILD/pacto --state-dir $STATE lift 203.0.113.10 >/dev/null &&
	 $BUILD/pacto --state-dir $STATE sanctions --all --json | jq -e '(.sanctions | length) == 6 and
		(.sanctions[-1].address == \"203.0.113.10\") and (.sanctions[-1].lifted.by | startswith(\"manual\"))' >/dev/null"
check "while plain sanctions lists only the running ones" sh -c \
	"$BUILD/pacto --state-dir $STATE sanctions --json | jq -e '(.sanctions | length) == 4' >/dev/null"

# 5. The control socket: other users are refused; bad addresses too.
expect_exit 65 "pacto lift of an address never sanctioned is refused" ctl lift 198.51.100.99
expect_exit 64 "pacto sanction of a non-address is a usage error" ctl sanction example.org
expect_exit 65 "pactod refuses a prefix wider than /24" ctl sanction 10.0.0.0/16
expect_exit 65 "a manual sanction of an allowlisted address (loopback) is refused" ctl sanction ::1
check "and says why" grep -q "allowlisted" "$SCRATCH/err"
check "text others wrote reaches the terminal escaped" sh -c \
	"$BUILD/pacto --state-dir $STATE sanction 198.51.100.77 --reason \"\$(printf 'x\\033[2Jy')\" >/dev/null &&
	 $BUILD/pacto --state-dir $STATE why 198.51.100.77 > $SCRATCH/why.txt &&
	 grep -q 'reason: x\\\\x1b\\[2Jy' $SCRATCH/why.txt && ! grep -q \"\$(printf '\\033')\" $SCRATCH/why.txt"
expect_exit 64 "a --reason that is not UTF-8 is refused (it used to be dropped without a word)" \
	"$BUILD/pacto" --state-dir "$STATE" sanction 198.51.100.78 --reason "$(printf 'x\377')"
check "and says so" grep -q "reason must be UTF-8" "$SCRATCH/err"
printf '%s h sshd[900]: Failed password for invalid user \377x from 203.0.113.30 port 1 ssh2\n' \
	"$(date -u '+%Y-%m-%dT%H:%M:%S.000000+00:00')" "$(date -u '+%Y-%m-%dT%H:%M:%S.000000+00:00')" >>"$LOG"
check "evidence that is not UTF-8 still gives valid JSON" sh -c \
	"for i in \$(seq 30); do $BUILD/pacto --state-dir $STATE why 203.0.113.30 --json 2>/dev/null |
		jq -e '.history[0].evidence[0] | test(\"\\\\\\\\xff\")' >/dev/null && exit 0; sleep 0.1; done; exit 1"
nobody_exit=0
setpriv --reuid=65534 --regid=65534 --clear-groups "$BUILD/pacto" --state-dir "$STATE" status >/dev/null 2>&1 || nobody_exit=$?
check "a user outside root and the pacto group cannot use the socket (exit $nobody_exit)" [ "$nobody_exit" -ne 0 ]

# 6. A clean stop removes the socket; a missing daemon is reported.
stop_pactod
check "SIGTERM stops pactod and removes its socket" [ ! -e "$STATE/pacto.sock" ]
expect_exit 69 "pacto without a running pactod exits 69" ctl status
check "and says where it looked" grep -q "cannot reach pactod at $STATE/pacto.sock" "$SCRATCH/err"

# 7. The systemd journal as the source: trusted entries count, forged ones
# (logger -t sshd, a program's stdout) do not, new journal files are read live.
JDIR="$SCRATCH/journal"
JSTATE="$SCRATCH/jstate"
mkdir -p "$JDIR"
seq_no=1
# Sequence numbers must differ across files (sd-journal merges entries it
# takes for the same one), so the counter lives in this shell, not a pipe.
journal_entries() {   # journal_entries FILE_NAME COMM TRANSPORT ADDRESS N
	: >"$SCRATCH/entries"
	for i in $(seq "$5"); do
		printf '__CURSOR=s=0;i=%s\n__REALTIME_TIMESTAMP=%s\n__MONOTONIC_TIMESTAMP=%s\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=h\n_PID=%s\nSYSLOG_IDENTIFIER=sshd\n_COMM=%s\n_TRANSPORT=%s\nMESSAGE=Failed password for root from %s port %s ssh2\n\n' \
			"$seq_no" "$(($(date +%s) * 1000000 + seq_no))" "$seq_no" "$((3000 + seq_no))" "$2" "$3" "$4" "$((41000 + seq_no))" \
			>>"$SCRATCH/entries"
		seq_no=$((seq_no + 1))
	done
	/lib/systemd/systemd-journal-remote -o "$JDIR/remote-$1.journal" - <"$SCRATCH/entries" 2>/dev/null
}
journal_entries one sshd syslog 203.0.113.20 5
journal_entries two logger syslog 198.51.100.21 5
journal_entries three sshd stdout 198.51.100.22 5
printf 'read_from_start: yes\n' >"$CONF"
"$BUILD/pactod" --foreground --dry-run --config "$CONF" --state-dir "$JSTATE" --journal-dir "$JDIR" \
	>>"$SCRATCH/pactod-journal.log" 2>&1 &
PACTOD_PID=$!
jctl() { "$PACTO" --state-dir "$JSTATE" "$@"; }
for i in $(seq 50); do jctl status >/dev/null 2>&1 && break; sleep 0.1; done
check "journal entries from sshd sanction 203.0.113.20" wait_sanctioned "$JSTATE" 203.0.113.20
check "entries claiming sshd from logger or a program's stdout sanction no one" \
	sh -c "$BUILD/pacto --state-dir $JSTATE sanctions --json | jq -e '.sanctions | length == 1' >/dev/null"
journal_entries four sshd journal 203.0.113.23 5
check "a journal file written while pactod runs is read live" wait_sanctioned "$JSTATE" 203.0.113.23
stop_pactod

# 8. Without --foreground: pactod detaches only once it has started, and a
# failed start is reported by the command that was run.
DSTATE="$SCRATCH/dstate"
expect_exit 0 "pactod without --foreground returns once started" "$BUILD/pactod" --dry-run --state-dir "$DSTATE" --watch "$LOG"
check "and the detached daemon answers" sh -c "$BUILD/pacto --state-dir $DSTATE status >/dev/null"
for pid in $(pgrep -f "pactod --dry-run --state-dir $DSTATE"); do kill "$pid"; done
expect_exit 78 "a detached start that fails exits 78" "$BUILD/pactod" --dry-run --state-dir "$DSTATE" --watch /nonexistent/dir/auth.log
check "and says why on its standard error" grep -q "cannot start: /nonexistent/dir" "$SCRATCH/err"
