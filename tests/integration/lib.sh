# lib.sh: shared by the integration scripts: TAP output, a scratch
# directory removed on exit, and the paths of the build under test.
# Each check prints "ok - what" or "not ok - what" (tests/run counts them).
set -u
BUILD=${PACTO_BUILD:?run through tests/run}
TOP=${PACTO_TOP:?run through tests/run}
PACTO="$BUILD/pacto"
GEN="$BUILD/gen_authlog"
SCRATCH=$(mktemp -d /tmp/pacto-test.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT INT TERM
export TZ=UTC

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }

# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
	what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# expect_exit CODE DESCRIPTION COMMAND...: ok when the command exits CODE.
expect_exit() {
	want=$1 what=$2
	shift 2
	"$@" >"$SCRATCH/out" 2>"$SCRATCH/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$what"; else not_ok "$what (exit $got, wanted $want)"; sed 's/^/# /' "$SCRATCH/err"; fi
}
