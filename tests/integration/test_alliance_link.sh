# test_alliance_link.sh: what pactod says at start about its alliance, in
# dry-run mode on the loopback (no namespace, no firewall touched): a NATS
# server that does not answer is logged once, naming it without its
# password, however often the link retries; and once when a server comes
# up and the link connects; when that server restarts, the reconnection
# names it too (it said only "reconnected"). A scenario whose name reports
# cannot carry ([A-Za-z0-9_.-], 64 bytes) is named with what the allies
# will see, at start and at each reload.
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

STATE="$SCRATCH/state"
CONF="$SCRATCH/pacto.conf"
PORT=$("$BUILD/natsprobe" ports 1)
URL="nats://127.0.0.1:$PORT"
trap 'stop_dry_member; nats_stop; finish' EXIT

lines() { grep -c "$1" "$SCRATCH/pactod.log"; }

# The stock sshd rule three times: as it is, under a name with a space, a
# slash and an é, and under one of 70 bytes.
LONG=$(printf 'a%.0s' $(seq 70))
mkdir "$SCRATCH/rules"
cp "$TOP/rules/sshd.yaml" "$SCRATCH/rules/sshd.yaml"
sed "s|^scenario: sshd\$|scenario: ssh brute/force $(printf '\303\251')|" "$TOP/rules/sshd.yaml" >"$SCRATCH/rules/odd.yaml"
sed "s|^scenario: sshd\$|scenario: $LONG|" "$TOP/rules/sshd.yaml" >"$SCRATCH/rules/long.yaml"
printf 'journal: no\nrules: [%s]\n' "$SCRATCH/rules" >"$CONF"

: >"$SCRATCH/auth.log"
check "a treaty of one member" make_treaty alpha
# Nothing listens on PORT yet: every attempt is refused.
start_dry_member "nats://pacto:s3cret@127.0.0.1:$PORT"
check "pactod starts with no NATS server" wait_for 10 test -S "$STATE/pacto.sock"
link_ready
check "pacto allies shows the link not ready" [ $? -eq 1 ]
check "pactod says no server answers, naming it (it said nothing)" \
	wait_for 5 grep -q "alliance west: no NATS server answers at $URL: the link is not ready" "$SCRATCH/pactod.log"
sleep 2   # four retries, 500 ms apart
check "once, not at each retry" [ "$(lines 'no NATS server answers')" -eq 1 ]
check "without the URL's password" [ "$(lines s3cret)" -eq 0 ]

# Scenario names: said at start, before the link.
check "pactod says a scenario name with a space, a slash and an é is reported as another" \
	grep -q "alliance: scenario 'ssh brute/force $(printf '\303\251')' ($SCRATCH/rules/odd.yaml) is reported to the allies as 'ssh_brute_force___'" \
	"$SCRATCH/pactod.log"
check "and a name of 70 bytes as its first 64" \
	grep -q "alliance: scenario '$LONG' .* as '$(printf 'a%.0s' $(seq 64))'" "$SCRATCH/pactod.log"
check "and nothing of sshd, whose name is kept" [ "$(lines "scenario 'sshd'")" -eq 0 ]
ctl reload >/dev/null 2>&1
check "a reload says it again, once" wait_for 5 sh -c "[ \$(grep -c 'ssh_brute_force___' '$SCRATCH/pactod.log') -eq 2 ]"

if command -v nats-server >/dev/null; then
	nats_start "" 127.0.0.1 "$PORT"
	check "when a server comes up, pactod says it connected, naming it" \
		wait_for 15 grep -q "alliance west: connected to the NATS server at $URL" "$SCRATCH/pactod.log"
	check "and the link becomes ready" wait_for 10 link_ready
	check "still without the password" [ "$(lines s3cret)" -eq 0 ]
	nats_stop
	nats_start "" 127.0.0.1 "$PORT"
	check "when the server restarts, pactod says it reconnected, naming it" \
		wait_for 15 grep -q "alliance west: reconnected to the NATS server at $URL\$" "$SCRATCH/pactod.log"
	check "and the link is ready again" wait_for 10 link_ready
	check "without the password" [ "$(lines s3cret)" -eq 0 ]
else
	echo "ok - # SKIP nats-server is not installed: the connection after a wait is not checked"
fi
