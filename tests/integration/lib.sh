# lib.sh: shared by the integration scripts: TAP output, a scratch
# directory removed on exit, and the paths of the build under test.
# Each check prints "ok - what" or "not ok - what" (tests/run counts them).
set -u
BUILD=${PACTO_BUILD:?run through tests/run}
TOP=${PACTO_TOP:?run through tests/run}
GEN="$BUILD/gen_authlog"
SCRATCH=$(mktemp -d /tmp/pacto-test.XXXXXX)
export TZ=UTC
# jq -e that fails on empty input (see tests/tools/bin/jq).
export PATH="$TOP/tests/tools/bin:$PATH"

# Under build-san, a sanitizer report exits 86. Many checks redirect pacto's
# output or look only at it, so every run goes through run_pacto, which
# leaves a mark that the exit trap turns into a failed test.
export ASAN_OPTIONS=exitcode=86 UBSAN_OPTIONS=halt_on_error=1:exitcode=86:print_stacktrace=1
run_pacto() {
	"$BUILD/pacto" "$@"
	rc=$?
	[ "$rc" -eq 86 ] && echo "pacto $*" >>"$SCRATCH/sanitizer-reports"
	return "$rc"
}
PACTO=run_pacto
finish() {
	if [ -s "$SCRATCH/sanitizer-reports" ]; then
		sed 's/^/not ok - a sanitizer reported an error in: /' "$SCRATCH/sanitizer-reports"
	else
		case "$BUILD" in *-san) echo "ok - no sanitizer report from any pacto run" ;; esac
	fi
	rm -rf "$SCRATCH"
}
trap finish EXIT
trap 'exit 1' INT TERM

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }

# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
	what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# kill_namespace NAME: kills every process of a network namespace, then
# deletes it (deleting alone would leave its processes running).
kill_namespace() {
	for pid in $(ip netns pids "$1" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
	ip netns del "$1" 2>/dev/null
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds
# (0) or SECONDS have passed (1); its errors are not shown.
wait_for() {
	end=$(( $(date +%s) + $1 ))
	shift
	while [ "$(date +%s)" -le "$end" ]; do "$@" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

# A pactod of the script's own, for scripts without namespaces.
# start_dry_pactod [PACTOD-OPTION...]: pactod in dry run (no firewall
# touched) on $CONF, $STATE and the log $LOG, its output appended to
# $SCRATCH/pactod.log; sets PACTOD_PID and waits up to 5 s for its control
# socket. stop_pactod: stops the pactod of PACTOD_PID (continued first,
# should the script have stopped it) and empties PACTOD_PID.
PACTOD_PID=
start_dry_pactod() {
	"$BUILD/pactod" --foreground --dry-run --config "$CONF" --state-dir "$STATE" --watch "$LOG" "$@" \
		>>"$SCRATCH/pactod.log" 2>&1 &
	PACTOD_PID=$!
	wait_for 5 "$BUILD/pacto" --state-dir "$STATE" status >/dev/null
}
stop_pactod() {
	[ -n "$PACTOD_PID" ] && kill -CONT "$PACTOD_PID" 2>/dev/null && kill "$PACTOD_PID" 2>/dev/null &&
		wait "$PACTOD_PID" 2>/dev/null
	PACTOD_PID=
}

# wait_sanctioned STATE_DIR KEY: waits up to 3 s for KEY among the active
# sanctions of the pactod whose socket is in STATE_DIR (a filesystem socket:
# reachable from any network namespace).
wait_sanctioned() {
	for i in $(seq 30); do
		"$BUILD/pacto" --state-dir "$1" sanctions --json 2>/dev/null |
			jq -e --arg k "$2" '.sanctions[] | select(.address == $k)' >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# expect_exit CODE DESCRIPTION COMMAND...: ok when the command exits CODE.
expect_exit() {
	want=$1 what=$2
	shift 2
	# A command that should exit but runs on (a pactod that started when it
	# should have refused) fails this check after EXPECT_EXIT_SECONDS
	# instead of hanging the suite. fd 9 keeps stdin (a background command
	# would get /dev/null).
	exec 9<&0
	"$@" <&9 >"$SCRATCH/out" 2>"$SCRATCH/err" &
	cmd=$!
	exec 9<&-
	(sleep "${EXPECT_EXIT_SECONDS:-60}" && { pkill -TERM -P "$cmd"; kill -TERM "$cmd"; }) \
		</dev/null >/dev/null 2>&1 &
	dog=$!
	wait "$cmd"
	got=$?
	# Ends the watchdog: its sleep killed, it kills nothing (the sleep may
	# not have started yet: try until it has, or the watchdog is gone).
	until pkill -TERM -P "$dog" sleep 2>/dev/null || ! kill -0 "$dog" 2>/dev/null; do :; done
	wait "$dog" 2>/dev/null
	if [ "$got" -eq "$want" ]; then ok "$what"; else not_ok "$what (exit $got, wanted $want)"; sed 's/^/# /' "$SCRATCH/err"; fi
}
