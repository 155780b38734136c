# test_sources.sh: pactod's sources as pacto status and a restart see them
# (dry run, no firewall touched, no namespace).
# 1. pactod stopped and started again while a log's rotated-away file
#    (PATH.1) is still written to, within the grace in which it is read on:
#    the lines written to PATH.1 while pactod was down are read at start,
#    because the saved cursor names PATH.1's position as well as PATH's.
# 2. A journal entry whose MESSAGE is longer than the engine takes is
#    counted as oversized in pacto status, as a file's line is.
. "$PACTO_TOP/tests/integration/lib.sh"

STATE="$SCRATCH/state"
LOG="$SCRATCH/auth.log"
CONF="$SCRATCH/pacto.conf"
trap 'stop_pactod; finish' EXIT

fail_lines() {   # fail_lines FILE ADDRESS N FIRST_PID
	for i in $(seq "$3"); do
		echo "$(date -u '+%Y-%m-%dT%H:%M:%S.000000+00:00') h sshd[$(($4 + i))]: Failed password for root from $2 port $((40000 + i)) ssh2"
	done >>"$1"
}

lines_read() {   # lines_read N: pactod has read N lines of the log
	"$BUILD/pacto" --state-dir "$STATE" status --json | jq -e ".sources[0].lines == $1" >/dev/null
}

printf 'journal: no\nscenarios:\n  sshd:\n    threshold: 3\n' >"$CONF"
: >"$LOG"
check "pactod starts (dry run)" start_dry_pactod
fail_lines "$LOG" 203.0.113.40 1 100
check "it reads the log" wait_for 5 lines_read 1
mv "$LOG" "$LOG.1" && : >"$LOG"
fail_lines "$LOG.1" 203.0.113.40 1 200   # the writer has not reopened yet
fail_lines "$LOG" 203.0.113.41 1 300
check "and both files after a rename rotation" wait_for 5 lines_read 3
stop_pactod
fail_lines "$LOG.1" 203.0.113.42 3 400   # still written while pactod is down
check "pactod starts again" start_dry_pactod
check "the failures written to PATH.1 while it was down are read (3 sanction)" \
	wait_sanctioned "$STATE" 203.0.113.42
check "each once: 3 lines read since the start" wait_for 5 lines_read 3
stop_pactod

# 2. The journal: a MESSAGE of 8193 bytes between two failures.
JDIR="$SCRATCH/journal"
JSTATE="$SCRATCH/jstate"
mkdir -p "$JDIR"
long=$(head -c 8193 /dev/zero | tr '\0' x)
for i in 1 2 3; do
	case $i in 2) msg=$long ;; *) msg="Failed password for root from 203.0.113.50 port $((41000 + i)) ssh2" ;; esac
	printf '__CURSOR=s=0;i=%s\n__REALTIME_TIMESTAMP=%s\n__MONOTONIC_TIMESTAMP=%s\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=h\n_PID=%s\nSYSLOG_IDENTIFIER=sshd\n_COMM=sshd\n_TRANSPORT=syslog\nMESSAGE=%s\n\n' \
		"$i" "$(($(date +%s) * 1000000 + i))" "$i" "$((3000 + i))" "$msg"
done | /lib/systemd/systemd-journal-remote -o "$JDIR/remote-one.journal" - 2>/dev/null
printf 'read_from_start: yes\nscenarios:\n  sshd:\n    threshold: 2\n' >"$CONF"
"$BUILD/pactod" --foreground --dry-run --config "$CONF" --state-dir "$JSTATE" --journal-dir "$JDIR" \
	>>"$SCRATCH/pactod-journal.log" 2>&1 &
PACTOD_PID=$!
check "the failures on both sides of a journal entry too long are read (2 sanction)" \
	wait_sanctioned "$JSTATE" 203.0.113.50
check "and pacto status counts that entry as oversized" sh -c \
	"$BUILD/pacto --state-dir $JSTATE status --json | jq -e '.sources[0].entries == 3 and .sources[0].oversized == 1' >/dev/null"
