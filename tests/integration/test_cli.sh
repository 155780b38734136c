# test_cli.sh: the habits of the pacto command line, as an operator's
# scripts rely on them: one version everywhere (pacto and pactod --version,
# pacto status, every man page, debian/changelog); --json on every command
# and treaty subcommand, its output valid JSON saying what the command did;
# the exit codes of pacto(8), each one provoked, and the man page listing
# exactly the codes of src/ctl/cli.h. pactod runs in dry-run mode (no
# firewall touched, no namespace).
. "$PACTO_TOP/tests/integration/lib.sh"

# A state directory and a second log named in bytes that are not UTF-8 (a
# path is any bytes): status --json must still name them.
STATE="$SCRATCH/st$(printf '\377')te"
LOG="$SCRATCH/auth.log"
ODD_LOG="$SCRATCH/odd$(printf '\377').log"
CONF="$SCRATCH/pacto.conf"
trap 'stop_pactod; finish' EXIT
ctl() { "$PACTO" --state-dir "$STATE" "$@"; }

# json_ok DESCRIPTION JQ_FILTER COMMAND...: ok when the command exits 0 and
# its standard output is JSON for which the filter holds.
json_ok() {
	what=$1 filter=$2
	shift 2
	if "$@" >"$SCRATCH/json" 2>"$SCRATCH/err" && jq -e "$filter" "$SCRATCH/json" >/dev/null 2>&1; then
		ok "$what"
	else
		not_ok "$what"
		sed 's/^/# /' "$SCRATCH/json" "$SCRATCH/err"
	fi
}

jqe() { jq -e "$@" >/dev/null; }

# 1. One version.
V=$(sed -n 's/^#define PACTO_VERSION "\(.*\)"$/\1/p' "$TOP/src/common/version.h")
check "src/common/version.h defines the version ($V)" [ -n "$V" ]
check "pacto --version prints it" sh -c "$BUILD/pacto --version | grep -qx 'pacto $V'"
check "pactod --version prints it" sh -c "$BUILD/pactod --version | grep -qx 'pactod $V'"
check "debian/changelog's latest entry is that version" \
	sh -c "dpkg-parsechangelog -l '$TOP/debian/changelog' -S Version | grep -qx '$V'"
for page in "$TOP"/man/*.[58]; do
	check "$(basename "$page") carries it in .TH" grep -q "^\.TH .* \"pacto $V\"" "$page"
done

# 2. --json everywhere: every command and treaty subcommand offers it.
"$BUILD/pacto" --help | sed -n '/^commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p' >"$SCRATCH/commands"
"$BUILD/pacto" treaty --help | sed -n '/^subcommands:/,/^$/s/^  \([a-z-]*\) .*/\1/p' | sed 's/^/treaty /' >>"$SCRATCH/commands"
check "pacto --help and pacto treaty --help list the commands" [ "$(wc -l <"$SCRATCH/commands")" -ge 18 ]
while read -r cmd; do
	[ "$cmd" = treaty ] && continue
	# shellcheck disable=SC2086 # "treaty sign" is two words
	check "pacto $cmd --help offers --json" sh -c "$BUILD/pacto $cmd --help | grep -q -- --json"
done <"$SCRATCH/commands"

# Commands on files.
cd "$SCRATCH" || exit 1
json_ok "keygen --json: the public key and both files" \
	'(.public_key | length) == 44 and .secret_key_file == "k1" and .public_key_file == "k1.pub"' \
	"$BUILD/pacto" keygen --out k1 --json
check "(the .pub file holds the same key)" sh -c "jq -e --arg k \"\$(cat k1.pub)\" '.public_key == \$k' json >/dev/null"
"$BUILD/pacto" keygen --out k2 >/dev/null 2>&1
"$BUILD/pacto" keygen --out k3 >/dev/null 2>&1
json_ok "treaty init --json" '.alliance == "west" and .version == 1 and .members == 0 and .changed' \
	"$BUILD/pacto" treaty init --name west --treaty t.json --json
json_ok "treaty add-member --json: version 2, one member unsigned" \
	'.version == 2 and .members == 1 and .unsigned == ["a"] and (.in_force | not)' \
	"$BUILD/pacto" treaty add-member --treaty t.json --id a --key k1.pub --json
"$BUILD/pacto" treaty add-member --treaty t.json --id b --key k2.pub >/dev/null
json_ok "treaty set-key --json" '.version == 4 and .changed' \
	"$BUILD/pacto" treaty set-key --treaty t.json --id b --key k3.pub --json
json_ok "treaty set --json, a new value" '.version == 5 and .changed' \
	"$BUILD/pacto" treaty set --treaty t.json --quorum 2 --json
json_ok "treaty set --json, the same value: unchanged" '.version == 5 and (.changed | not)' \
	"$BUILD/pacto" treaty set --treaty t.json quorum 2 --json
json_ok "treaty sign --json: signed as a, b still to sign" '.signed_as == "a" and .signed == 1 and .unsigned == ["b"]' \
	"$BUILD/pacto" treaty sign --treaty t.json --key k1 --json
expect_exit 1 "treaty verify --json of a treaty not in force exits 1" "$BUILD/pacto" treaty verify --treaty t.json --json
check "and still prints why, as JSON" jqe '(.in_force | not) and .why_not_in_force == "not signed by b"' "$SCRATCH/out"
"$BUILD/pacto" treaty sign --treaty t.json --key k3 >/dev/null
json_ok "treaty verify --json of a treaty in force" '.in_force and .signed == 2 and .unsigned == []' \
	"$BUILD/pacto" treaty verify --treaty t.json --json
json_ok "treaty show --json" '.alliance == "west" and (.members | length) == 2 and .in_force' \
	"$BUILD/pacto" treaty show --treaty t.json --json
json_ok "treaty set --json lowers the quorum" '.version == 6 and .members == 2' \
	"$BUILD/pacto" treaty set --treaty t.json --quorum 1 --json
json_ok "treaty remove-member --json" '.version == 7 and .members == 1 and .unsigned == ["a"]' \
	"$BUILD/pacto" treaty remove-member --treaty t.json --id b --json
json_ok "rules show --json lists the stock scenarios, sshd among them" '[.[].scenario] | index("sshd") != null' "$BUILD/pacto" rules show --json
json_ok "rules check --json: no errors" '.scenarios >= 1 and .errors == []' "$BUILD/pacto" rules check --json
printf 'scenario: [\n' >bad.yaml
expect_exit 78 "rules check --json of a bad file exits 78" "$BUILD/pacto" rules check --rules bad.yaml --json
check "and lists its errors, with file and line, as JSON" jqe '.scenarios == 0 and (.errors[0] | startswith("bad.yaml:"))' "$SCRATCH/out"
# A rule file whose name is not UTF-8: its error is still in the JSON
# (jansson refuses such a string; it used to vanish, leaving "errors": []).
mkdir -p oddname
printf 'scenario: y\npatterns:\n  - name: p\n    effect: attempt\n    regex: "(?<addr>x"\n' >"oddname/bad$(printf '\377').yaml"
expect_exit 78 "rules check --json of a file named in bytes that are not UTF-8 exits 78" \
	"$BUILD/pacto" rules check --rules oddname --json
check "and still lists its error, the name written with \\xff" \
	jqe '.scenarios == 0 and (.errors | length) == 1 and (.errors[0] | contains("bad\\xff.yaml:5: regex"))' "$SCRATCH/out"
# A FIFO where a file is expected: refused at once (opening it waited for
# a writer, forever), each reader saying the same (common/regfile.c).
mkfifo fifo
EXPECT_EXIT_SECONDS=10 expect_exit 78 "rules check --rules FIFO is refused, not waited on" "$BUILD/pacto" rules check --rules fifo
check "as not a regular file, a FIFO" grep -q "fifo: not a regular file (a FIFO)" "$SCRATCH/err"
EXPECT_EXIT_SECONDS=10 expect_exit 1 "treaty show --treaty FIFO is refused, not waited on" \
	"$BUILD/pacto" treaty show --treaty fifo
check "as not a regular file, a FIFO" grep -q "fifo: not a regular file (a FIFO)" "$SCRATCH/err"
EXPECT_EXIT_SECONDS=10 expect_exit 1 "treaty sign --key FIFO is refused, not waited on" \
	"$BUILD/pacto" treaty sign --treaty t.json --key fifo
check "as not a regular file, a FIFO" grep -q "fifo: not a regular file (a FIFO)" "$SCRATCH/err"
EXPECT_EXIT_SECONDS=10 expect_exit 65 "import-fail2ban FIFO is refused, not waited on" "$BUILD/pacto" import-fail2ban fifo
EXPECT_EXIT_SECONDS=10 expect_exit 78 "pactod -n --config FIFO is refused, not waited on" "$BUILD/pactod" -n --config fifo
expect_exit 78 "pactod -n --config DIRECTORY is refused" "$BUILD/pactod" -n --config "$SCRATCH"
check "as not a regular file, a directory" grep -q "$SCRATCH: not a regular file (a directory)" "$SCRATCH/err"
json_ok "replay --json: one object per sanction" '.address and .scenario == "sshd"' \
	sh -c "$BUILD/pacto replay --json $TOP/examples/auth.log 2>/dev/null | head -1"
cd "$TOP" || exit 1

# Commands through pactod.
: >"$LOG"
: >"$ODD_LOG"
ln -s "$LOG" "$SCRATCH/alias.log"
printf 'journal: no\n' >"$CONF"
expect_exit 64 "pactod -n refuses a --metrics that is not ADDR:PORT (it said 'OK'; a start failed late, with exit 78)" \
	"$BUILD/pactod" -n --config "$CONF" --state-dir "$STATE" --watch "$LOG" --metrics 127.0.0.1:99999
check "and names it" grep -q "pactod: --metrics '127.0.0.1:99999' is not ADDR:PORT" "$SCRATCH/err"
expect_exit 64 "pactod -n refuses a --nats that is not a NATS URL (a port past 65535 started and logged nothing)" \
	"$BUILD/pactod" -n --config "$CONF" --nats nats://127.0.0.1:99999
check "and names it" grep -q "pactod: --nats 'nats://127.0.0.1:99999' is not a NATS URL" "$SCRATCH/err"
# --key and --nats without a treaty did nothing, silently: refused, unless
# the configuration names the treaty they go with.
expect_exit 64 "pactod -n refuses --key without a treaty" "$BUILD/pactod" -n --config "$CONF" --key "$SCRATCH/k1"
check "and says what is missing" grep -q "pactod: --key without a treaty (--treaty FILE, or treaty in $CONF)" "$SCRATCH/err"
expect_exit 64 "pactod -n refuses --nats without a treaty" "$BUILD/pactod" -n --config "$CONF" --nats nats://127.0.0.1:4222
check "and says what is missing" grep -q "pactod: --nats without a treaty" "$SCRATCH/err"
printf 'journal: no\ntreaty: %s/t.json\n' "$SCRATCH" >"$SCRATCH/treaty.conf"
expect_exit 0 "pactod -n takes --key and --nats with a treaty in the configuration" \
	"$BUILD/pactod" -n --config "$SCRATCH/treaty.conf" --key "$SCRATCH/k1" --nats nats://127.0.0.1:4222
expect_exit 0 "and with --treaty" \
	"$BUILD/pactod" -n --config "$CONF" --treaty "$SCRATCH/t.json" --key "$SCRATCH/k1" --nats nats://127.0.0.1:4222
expect_exit 78 "pactod refuses a directory as a log" \
	"$BUILD/pactod" --foreground --dry-run --config "$CONF" --state-dir "$STATE" --watch "$SCRATCH"
check "and says so" grep -q "$SCRATCH: a directory, not a log file" "$SCRATCH/err"
# The same log three times (again, and through a link): followed once.
"$BUILD/pactod" --foreground --dry-run --config "$CONF" --state-dir "$STATE" --watch "$LOG" --watch "$ODD_LOG" \
	--watch "$LOG" --watch "$SCRATCH/alias.log" >>"$SCRATCH/pactod.log" 2>&1 &
PACTOD_PID=$!
for i in $(seq 50); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
json_ok "status --json gives the same version" ".version == \"$V\"" ctl status --json
json_ok "status --json names paths that are not UTF-8 with \\xff: both logs, and the ledger" \
	'[.sources[].path | endswith("/auth.log"), endswith("/odd\\xff.log")] == [true, false, false, true] and
	 (.ledger.path | contains("/st\\xffte/")) and .ledger.sanctions == 0' ctl status --json
echo "Nov 29 03:00:00 host sshd[7]: Accepted publickey for alice from 192.0.2.50 port 4000 ssh2" >>"$LOG"
check "a log named three times is followed once: its line counts once" \
	wait_for 5 sh -c "[ \"\$('$BUILD/pacto' --state-dir '$STATE' status --json | jq .engine.lines)\" = 1 ]"
check "and pactod said which names were the same file" \
	sh -c "grep -q '$LOG is $LOG again: followed once' '$SCRATCH/pactod.log' && grep -q 'alias.log is $LOG again' '$SCRATCH/pactod.log'"
json_ok "sanction --json" '.address == "192.0.2.7" and .duration_s == 600' ctl sanction 192.0.2.7 --for 10m --json
# A shorter sanction over it keeps the longer drop (pactod ends the element
# at the later end): the reply says so instead of the shorter term alone.
json_ok "a shorter sanction over it: the reply says the longer drop stays" \
	'.duration_s == 60 and .dropped_s > 590 and .dropped_s <= 600' ctl sanction 192.0.2.7 --for 60 --json
ctl sanction 192.0.2.7 --for 30 >"$SCRATCH/out" 2>&1
check "and says so in words" \
	grep -Eq '^sanctioned 192.0.2.7 for 30s \(a longer sanction is in force: dropped for (5[0-9][0-9]|600)s\)$' "$SCRATCH/out"
json_ok "a longer sanction's reply has no dropped_s" '.duration_s == 900 and (has("dropped_s") | not)' \
	ctl sanction 192.0.2.7 --for 15m --json
json_ok "sanctions --json lists it" '.sanctions[0].address == "192.0.2.7"' ctl sanctions --json
json_ok "why --json tells its history" '.history[0].address == "192.0.2.7"' ctl why 192.0.2.7 --json
json_ok "lift --json" '.address == "192.0.2.7"' ctl lift 192.0.2.7 --json
json_ok "sanctions --all --json still lists it, lifted" '.sanctions[0].lifted' ctl sanctions --all --json
json_ok "reload --json says what it reloaded" '.message | length > 0' ctl reload --json

# 3. Exit codes, each one provoked.
expect_exit 0 "exit 0 after --help" "$BUILD/pacto" --help
expect_exit 64 "exit 64: no command" "$BUILD/pacto"
expect_exit 64 "exit 64: an unknown command" "$BUILD/pacto" frobnicate
expect_exit 64 "exit 64: an unknown option" ctl status --frobnicate
expect_exit 64 "exit 64: an operand that is not an address" ctl why example.org
expect_exit 64 "exit 64: keygen without --out" "$BUILD/pacto" keygen
expect_exit 64 "exit 64: an option another command takes" ctl status --all
check "names it" grep -q "option '--all' does not apply here" "$SCRATCH/err"
expect_exit 64 "exit 64: a second address" ctl lift 192.0.2.7 192.0.2.8
check "names it" grep -q "unexpected operand '192.0.2.8' after the address" "$SCRATCH/err"
expect_exit 64 "exit 64: --for past the kernel's 366 days, refused before pactod is asked" ctl sanction 192.0.2.7 --for 367d
check "says so" grep -q "'367d' is longer than 366 days" "$SCRATCH/err"
expect_exit 64 "exit 64: --for past ten years" ctl sanction 192.0.2.7 --for 315360001
check "says it is too long, as for 367d (it said 'not a duration')" grep -q "'315360001' is longer than 366 days" "$SCRATCH/err"
expect_exit 64 "exit 64: a --reason longer than the ledger keeps (it was cut silently)" \
	ctl sanction 192.0.2.7 --reason "$(printf '%0600d' 0)"
check "says how long it may be" grep -q -- "--reason is 600 bytes; the ledger keeps at most 512" "$SCRATCH/err"
expect_exit 73 "exit 73: standard output cannot be written (it exited 0)" sh -c "'$BUILD/pacto' rules show >/dev/full"
check "says so" grep -q "pacto: standard output: No space left on device" "$SCRATCH/err"
expect_exit 73 "exit 73: import-fail2ban --out on a full disk, a rule larger than a stdio buffer (it exited 0)" \
	"$BUILD/pacto" import-fail2ban --partial --out /dev/full /etc/fail2ban/filter.d/sshd.conf
check "says so" grep -q "pacto: /dev/full: cannot write the rule: No space left on device" "$SCRATCH/err"
# A rule that fits in stdio's buffer fails at the flush instead, to --out
# and to standard output. (A stale errno in the message, from a later call
# that succeeded, is provoked in tests/unit/test_textout.c.)
printf '[Definition]\nfailregex = ^Failed password for \\S+ from <HOST>\n' >"$SCRATCH/small.conf"
expect_exit 73 "exit 73: import-fail2ban --out on a full disk, a small rule" \
	"$BUILD/pacto" import-fail2ban --out /dev/full "$SCRATCH/small.conf"
check "says so" grep -q "pacto: /dev/full: cannot write the rule: No space left on device" "$SCRATCH/err"
expect_exit 73 "exit 73: import-fail2ban to a full standard output, a small rule" \
	sh -c "'$BUILD/pacto' import-fail2ban '$SCRATCH/small.conf' >/dev/full"
check "says so" grep -q "pacto: standard output: cannot write the rule: No space left on device" "$SCRATCH/err"
expect_exit 64 "exit 64: an empty --state-dir (it meant /pacto.sock)" "$BUILD/pacto" --state-dir= status
check "says so" grep -q "state-dir: an empty directory name" "$SCRATCH/err"
# empty_value OPTION COMMAND...: COMMAND gives OPTION an empty value (an
# unset shell variable): exit 64, naming the option. pactod -n took most
# of them ("OK"), --user "" exited 78 at start, pacto said ": No such file
# or directory".
empty_value() {
	opt=$1
	shift
	expect_exit 64 "exit 64: an empty $opt ($(basename "$1") $2 $3)" "$@"
	check "names it" grep -q ": $opt: an empty " "$SCRATCH/err"
}
for opt in --config --watch --journal-dir --state-dir --user --treaty --key; do
	empty_value "$opt" "$BUILD/pactod" -n "$opt" ""
done
empty_value --rules "$BUILD/pacto" rules check --rules ""
empty_value --rules "$BUILD/pacto" replay --rules "" "$LOG"
empty_value --out "$BUILD/pacto" import-fail2ban --partial --out "" /etc/fail2ban/filter.d/sshd.conf
empty_value --out "$BUILD/pacto" keygen --out ""
empty_value --treaty "$BUILD/pacto" treaty show --treaty ""
empty_value --key "$BUILD/pacto" treaty sign --key ""
# An empty operand is a file name too (it said ": No such file or directory").
empty_value FILE "$BUILD/pacto" replay "$LOG" ""
empty_value FILTER "$BUILD/pacto" import-fail2ban ""
expect_exit 64 "exit 64: --state-dir twice" "$BUILD/pacto" --state-dir "$STATE" --state-dir "$STATE" status
check "says so (it said 'unknown command')" grep -q "state-dir given twice" "$SCRATCH/err"
json_ok "--state-dir=DIR works as --state-dir DIR" ".version == \"$V\"" "$BUILD/pacto" "--state-dir=$STATE" status --json
expect_exit 64 "exit 64: replay --explain with host bits set past the prefix" "$BUILD/pacto" replay --explain 192.0.2.1/24 "$LOG"
check "says so, as --allow does" grep -q "'192.0.2.1/24': has bits set past its prefix length" "$SCRATCH/err"
expect_exit 0 "pactod -n takes an empty pacto.conf (every default), without a leak under the sanitizers" \
	"$BUILD/pactod" -n --config /dev/null
expect_exit 69 "exit 69: a state directory too long for a socket's path" \
	"$BUILD/pacto" --state-dir "$SCRATCH/$(printf '%0120d' 0)" status
check "says so (it said 'Success')" grep -q "pacto.sock: File name too long" "$SCRATCH/err"
expect_exit 65 "exit 65: pactod refuses (no sanction to lift)" ctl lift 198.51.100.99
expect_exit 65 "exit 65: pactod refuses (allies outside an alliance)" ctl allies --json
check "(and prints no JSON then)" [ ! -s "$SCRATCH/out" ]
printf 'journal: maybe\n' >"$CONF"
expect_exit 65 "exit 65: pactod refuses (a bad configuration on reload)" ctl reload --json
expect_exit 66 "exit 66: replay of a file that cannot be read" "$BUILD/pacto" replay "$SCRATCH/missing.log"
expect_exit 78 "exit 78: replay with bad rules" "$BUILD/pacto" replay --rules "$SCRATCH/bad.yaml" "$LOG"
expect_exit 1 "exit 1: keygen over an existing key" "$BUILD/pacto" keygen --out "$SCRATCH/k1"
expect_exit 1 "exit 1: treaty show of a missing file" "$BUILD/pacto" treaty show --treaty "$SCRATCH/none.json"
stop_pactod
expect_exit 69 "exit 69: pactod cannot be reached" ctl status --json

# The man page lists exactly the codes of the enum in src/ctl/cli.h.
sed -n 's/^[[:space:]]*EXIT_[A-Z_]* = \([0-9]*\),.*/\1/p' "$TOP/src/ctl/cli.h" | sort -n >"$SCRATCH/codes.h"
sed -n '/^\.SH EXIT STATUS/,/^\.SH /{/^\.TP$/{n;s/^\.B \([0-9]*\)$/\1/p}}' "$TOP/man/pacto.8" | sort -n >"$SCRATCH/codes.man"
check "cli.h defines exit codes ($(tr '\n' ' ' <"$SCRATCH/codes.h"))" [ "$(wc -l <"$SCRATCH/codes.h")" -ge 6 ]
check "pacto(8) EXIT STATUS lists exactly those" cmp -s "$SCRATCH/codes.h" "$SCRATCH/codes.man"
