# test_pactod.sh: pactod as an operator meets it, in dry-run mode (no
# firewall touched, no namespace): bad configuration, reload, rotation in
# the middle of an attack, the control socket's refusals, a clean stop.
. "$PACTO_TOP/tests/integration/lib.sh"

STATE="$SCRATCH/state"
LOG="$SCRATCH/auth.log"
CONF="$SCRATCH/pacto.conf"
PACTOD_PID=

stop_pactod() {
	[ -n "$PACTOD_PID" ] && kill "$PACTOD_PID" 2>/dev/null && wait "$PACTOD_PID" 2>/dev/null
	PACTOD_PID=
}
trap 'stop_pactod; finish' EXIT

ctl() { "$PACTO" --state-dir "$STATE" "$@"; }

start_pactod() {
	"$BUILD/pactod" --foreground --dry-run --config "$CONF" --state-dir "$STATE" --watch "$LOG" \
		>>"$SCRATCH/pactod.log" 2>&1 &
	PACTOD_PID=$!
	for i in $(seq 50); do ctl status >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

fail_lines() {   # fail_lines ADDRESS N [FIRST_PID]
	for i in $(seq "$2"); do
		echo "$(date -u '+%Y-%m-%dT%H:%M:%S.000000+00:00') h sshd[$((${3:-100} + i))]: Failed password for root from $1 port $((40000 + i)) ssh2"
	done >>"$LOG"
}

sanctioned() {
	for i in $(seq 20); do
		ctl sanctions --json 2>/dev/null | jq -e --arg k "$1" '.sanctions[] | select(.address == $k)' >/dev/null && return 0
		sleep 0.1
	done
	return 1
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
check "pactod starts (dry run)" start_pactod
fail_lines 203.0.113.10 3
check "the configured threshold of 3 sanctions 203.0.113.10" sanctioned 203.0.113.10

# 3. A reload with a bad file keeps the running configuration.
printf 'scenarios:\n  sshd:\n    threshold: many\n' >"$CONF"
expect_exit 65 "pacto reload with a bad file is refused" ctl reload
check "with the file's error" grep -q "threshold: 'many'" "$SCRATCH/err"
check "and pactod keeps running" sh -c "$BUILD/pacto --state-dir $STATE status >/dev/null"
fail_lines 203.0.113.11 3 200
check "with the old configuration (3 failures still sanction)" sanctioned 203.0.113.11
printf 'scenarios:\n  sshd:\n    threshold: 2\n' >"$CONF"
check "a good file reloads" sh -c "$BUILD/pacto --state-dir $STATE reload | grep -q reloaded"
fail_lines 203.0.113.12 2 300
check "and applies (2 failures now sanction)" sanctioned 203.0.113.12

# 4. Rotation in the middle of an attack: failures before and after add up.
fail_lines 203.0.113.13 1 400
sleep 0.3
mv "$LOG" "$LOG.1" && : >"$LOG"
fail_lines 203.0.113.13 1 500
check "rename-and-create during an attack: the failures on both sides add up" sanctioned 203.0.113.13
fail_lines 203.0.113.14 1 600
sleep 0.3
cp "$LOG" "$LOG.2" && : >"$LOG"
fail_lines 203.0.113.14 1 700
check "copytruncate during an attack: likewise" sanctioned 203.0.113.14
check "status counts both rotations" sh -c "$BUILD/pacto --state-dir $STATE status --json | jq -e '.sources[0].rotations == 1 and .sources[0].truncations == 1' >/dev/null"

# 5. The control socket: other users are refused; bad addresses too.
expect_exit 65 "pacto lift of an address never sanctioned is refused" ctl lift 198.51.100.99
expect_exit 64 "pacto sanction of a non-address is a usage error" ctl sanction example.org
expect_exit 65 "pactod refuses a prefix wider than /8" ctl sanction 10.0.0.0/7
nobody_exit=0
setpriv --reuid=65534 --regid=65534 --clear-groups "$BUILD/pacto" --state-dir "$STATE" status >/dev/null 2>&1 || nobody_exit=$?
check "a user outside root and the pacto group cannot use the socket (exit $nobody_exit)" [ "$nobody_exit" -ne 0 ]

# 6. A clean stop removes the socket; a missing daemon is reported.
stop_pactod
check "SIGTERM stops pactod and removes its socket" [ ! -e "$STATE/pacto.sock" ]
expect_exit 69 "pacto without a running pactod exits 69" ctl status
check "and says where it looked" grep -q "cannot reach pactod at $STATE/pacto.sock" "$SCRATCH/err"
