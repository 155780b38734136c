# test_runner.sh: tests/run itself, on a made-up build of three test
# programs and one script: one that passes, one that hangs, one that exits
# 3 without saying "not ok", and a script that hangs with a child of its
# own. What it proves: a hanging test is stopped at its limit and counts as
# one failure that says so, its children stopped with it; a silent failure
# counts; every failure is listed by program in BUILD_DIR/test-failures,
# which scripts/test repeats at the end; the summary line and the exit
# status say what happened; every
# test's time is printed; Ctrl-C or SIGTERM to tests/run reaches the
# running test and what it started, and ends the run.
. "$PACTO_TOP/tests/integration/lib.sh"

fake="$SCRATCH/build"
scripts="$SCRATCH/scripts"
mkdir -p "$fake/tests" "$scripts"
printf '#!/bin/sh\necho 1..1\necho "ok 1 - fine"\n' >"$fake/tests/test_fine"
printf '#!/bin/sh\necho 1..1\nexec sleep 300\n' >"$fake/tests/test_hang"
printf '#!/bin/sh\necho 1..1\nexit 3\n' >"$fake/tests/test_silent"
printf '#!/bin/sh\necho 1..2\necho "ok 1 - first"\necho "not ok 2 - second"\nexit 1\n' >"$fake/tests/test_says"
chmod +x "$fake/tests/"*
# The script starts a child and waits; like the real scripts (lib.sh), it
# cleans up on SIGINT and SIGTERM, and says which it got.
cat >"$scripts/test_stuck.sh" <<EOF
echo "ok - started"
sleep 301 &
echo \$! >"$SCRATCH/orphan.pid"   # one it forgets to clean up
sleep 300 &
child=\$!
trap 'echo INT >"$SCRATCH/got"; kill \$child; exit 1' INT
trap 'echo TERM >"$SCRATCH/got"; kill \$child; exit 1' TERM
echo \$child >"$SCRATCH/child.pid"
wait
EOF

start=$(date +%s)
PACTO_UNIT_LIMIT=2 PACTO_SCRIPT_LIMIT=2 "$TOP/tests/run" "$fake" "$scripts" >"$SCRATCH/out" 2>&1
status=$?
took=$(($(date +%s) - start))
sed 's/^/# /' "$SCRATCH/out"

check "the run fails" [ "$status" -ne 0 ]
check "it ends within the limits, not at the hung tests' end ($took s)" [ "$took" -lt 30 ]
check "the hanging program is stopped and named" grep -qx 'not ok - test_hang did not finish in 2 s (stopped)' "$SCRATCH/out"
check "the hanging script is stopped and named" grep -qx 'not ok - test_stuck.sh did not finish in 2 s (stopped)' "$SCRATCH/out"
check "a program that fails silently counts" grep -qx 'not ok - test_silent exited with status 3' "$SCRATCH/out"
check "the summary counts them: 3 passed, 4 failed" grep -qx '3 passed, 4 failed' "$SCRATCH/out"
check "the summary is written to BUILD_DIR/test-summary" grep -qx '3 passed, 4 failed' "$fake/test-summary"
check "each test's time is printed" [ "$(grep -c '^# test_[a-z_.]*: [0-9]* s$' "$SCRATCH/out")" -eq 5 ]
sed 's/^/# failures: /' "$fake/test-failures"
check "the failures are listed by program, and only they" [ "$(sort "$fake/test-failures")" = "$(printf '%s\n' \
	'test_hang: not ok - test_hang did not finish in 2 s (stopped)' \
	'test_says: not ok 2 - second' \
	'test_silent: not ok - test_silent exited with status 3' \
	'test_stuck.sh: not ok - test_stuck.sh did not finish in 2 s (stopped)' | sort)" ]
check "the hanging script got SIGTERM" grep -qx TERM "$SCRATCH/got"
# gone PID: no such process, or a zombie not yet reaped (its parent, the
# stopped script, is gone; PID 1 reaps it in its own time).
gone() {
	[ ! -e "/proc/$1" ] || [ "$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# stopped WHAT FILE: ok when the process whose pid FILE holds is gone.
stopped() {
	p=$(cat "$2" 2>/dev/null || echo none)
	if [ "$p" != none ] && wait_for 5 gone "$p"; then
		ok "$1"
	else
		not_ok "$1 (pid $p)"
		kill -9 "$p" 2>/dev/null
	fi
}
stopped "the script's child was stopped with it" "$SCRATCH/child.pid"
stopped "and the child it did not clean up (the process group was signalled)" "$SCRATCH/orphan.pid"

# Ctrl-C (SIGINT), or SIGTERM, to tests/run while a script hangs: passed on
# to the script, whose process group timeout(1) keeps away from the
# terminal's signals; tests/run ends at once, the script cleans up.
# (A background job of this shell starts with SIGINT ignored: python puts
# the default back before it runs tests/run.)
mkdir -p "$SCRATCH/empty-build/tests"
for sig in INT TERM; do
	rm -f "$SCRATCH/child.pid" "$SCRATCH/orphan.pid" "$SCRATCH/got"
	python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
		"$TOP/tests/run" "$SCRATCH/empty-build" "$scripts" >"$SCRATCH/out-$sig" 2>&1 &
	runner=$!
	wait_for 10 test -s "$SCRATCH/child.pid"
	kill -"$sig" "$runner"
	start=$(date +%s)
	wait "$runner"
	status=$?
	took=$(($(date +%s) - start))
	check "SIG$sig ends tests/run at once (status $status, $took s)" [ "$status" -ge 128 -a "$took" -lt 10 ]
	check "the running script got SIG$sig" wait_for 5 grep -qx "$sig" "$SCRATCH/got"
	stopped "SIG$sig to tests/run: the script's child is stopped" "$SCRATCH/child.pid"
	stopped "SIG$sig to tests/run: and the one it did not clean up" "$SCRATCH/orphan.pid"
done
