# test_runner.sh: tests/run itself, on a made-up build of three test
# programs and one script: one that passes, one that hangs, one that exits
# 3 without saying "not ok", and a script that hangs with a child of its
# own. What it proves: a hanging test is stopped at its limit and counts as
# one failure that says so, its children stopped with it; a silent failure
# counts; the summary line and the exit status say what happened; every
# test's time is printed.
. "$PACTO_TOP/tests/integration/lib.sh"

fake="$SCRATCH/build"
scripts="$SCRATCH/scripts"
mkdir -p "$fake/tests" "$scripts"
printf '#!/bin/sh\necho 1..1\necho "ok 1 - fine"\n' >"$fake/tests/test_fine"
printf '#!/bin/sh\necho 1..1\nexec sleep 300\n' >"$fake/tests/test_hang"
printf '#!/bin/sh\necho 1..1\nexit 3\n' >"$fake/tests/test_silent"
chmod +x "$fake/tests/"*
# The script's child writes its pid, then sleeps: stopping the script must stop it too.
cat >"$scripts/test_stuck.sh" <<EOF
echo "ok - started"
sleep 300 &
echo \$! >"$SCRATCH/child.pid"
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
check "the summary counts them: 2 passed, 3 failed" grep -qx '2 passed, 3 failed' "$SCRATCH/out"
check "the summary is written to BUILD_DIR/test-summary" grep -qx '2 passed, 3 failed' "$fake/test-summary"
check "each test's time is printed" [ "$(grep -c '^# test_[a-z_.]*: [0-9]* s$' "$SCRATCH/out")" -eq 4 ]
# gone PID: no such process, or a zombie not yet reaped (its parent, the
# stopped script, is gone; PID 1 reaps it in its own time).
gone() {
	[ ! -e "/proc/$1" ] || [ "$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
child=$(cat "$SCRATCH/child.pid" 2>/dev/null || echo none)
if [ "$child" != none ] && wait_for 5 gone "$child"; then
	ok "the script's child was stopped with it"
else
	not_ok "the script's child was stopped with it (pid $child)"
	kill -9 "$child" 2>/dev/null
fi
