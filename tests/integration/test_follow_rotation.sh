# test_follow_rotation.sh: pactod following a log through rotations that
# come faster than it looks (dry run, no firewall touched, no namespace).
# pactod is stopped (SIGSTOP) while logrotate's numbering runs twice,
# PATH -> PATH.1 while PATH.1 -> PATH.2, then continued (SIGCONT): the
# followed file (now PATH.2), the one rotated in between (PATH.1) and the
# new one are each read, so one failure in each adds up to a sanction.
. "$PACTO_TOP/tests/integration/lib.sh"

STATE="$SCRATCH/state"
LOG="$SCRATCH/auth.log"
CONF="$SCRATCH/pacto.conf"
trap 'stop_pactod; finish' EXIT

fail_line() {   # fail_line FILE ADDRESS PID
	echo "$(date -u '+%Y-%m-%dT%H:%M:%S.000000+00:00') h sshd[$3]: Failed password for root from $2 port $((40000 + $3)) ssh2" >>"$1"
}

status_is() {   # status_is JQ_TEST: pacto status --json passes it
	"$BUILD/pacto" --state-dir "$STATE" status --json | jq -e "$1" >/dev/null
}

# logrotate's rename rotation with "create": PATH.1 -> PATH.2, PATH -> PATH.1, a new PATH.
rotate() {
	[ -e "$LOG.1" ] && mv "$LOG.1" "$LOG.2"
	mv "$LOG" "$LOG.1" && : >"$LOG"
}

printf 'journal: no\nscenarios:\n  sshd:\n    threshold: 3\n' >"$CONF"
: >"$LOG"
check "pactod starts (dry run)" start_dry_pactod
fail_line "$LOG" 203.0.113.60 100
check "it reads the log" wait_for 5 status_is '.sources[0].lines == 1'
kill -STOP "$PACTOD_PID"
rotate
fail_line "$LOG" 203.0.113.60 200   # the file rotated in between
rotate
fail_line "$LOG" 203.0.113.60 300   # the newest
kill -CONT "$PACTOD_PID"
check "after two rotations unseen, the file in between is read too (3 failures sanction)" \
	wait_sanctioned "$STATE" 203.0.113.60
check "each line once, and both rotations counted" \
	wait_for 5 status_is '.sources[0].lines == 3 and .sources[0].rotations == 2'
