# test_alliance_forged_flood.sh: messages refused before their signature
# is verified (a bad signature, too big, a sender not in the treaty) may
# come from anyone who can publish on the stream, whatever member's subject
# they use; they are charged to the cap and log allowance shared by the
# senders pactod cannot tell, not to the member they claim to be from.
# bravo runs pactod with real nftables in its own network namespace, with a
# nats-server on its loopback; allyprobe publishes.
#  - within one minute, 700 messages in alpha's name signed with mallory's
#    key (a forger without alpha's key): each refused (bad_signature),
#    counted against alpha (pacto allies: 700), logged 8 times at most,
#    "claimed to be from alpha";
#  - then alpha's own report of a protected address: refused, recorded
#    (pacto why) and logged on a line of its own. Before, the forgeries
#    used up alpha's 600 refusal rows and 8 log lines of the minute, and
#    alpha's genuine refusal was neither recorded nor logged.
# Addresses: 10.61.0.0/22 and 198.51.100.9 (reports only), in a namespace
# this script creates.
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

alliance_host forged

refused() { ctl allies --json | jq -e --arg r "$2" --argjson n "$3" \
	".members[] | select(.id == \"$1\") | (.refused[\$r] // 0) == \$n" >/dev/null; }

treaty() {
	make_keys mallory &&
	make_treaty alpha "bravo --protect 198.51.100.0/24" charlie -- rate_per_min=100000 burst=100000
}
check "a treaty of alpha, bravo and charlie (bravo protects 198.51.100.0/24); mallory has a key" treaty
if ! check "bravo's pactod and a nats-server start in a namespace" start_alliance_host; then
	exit 0
fi
# The forgeries and alpha's report must fall in one minute of pactod's
# clock (the caps count a minute's rows): start early in a minute.
s=$(date +%S)
[ "${s#0}" -gt 40 ] && sleep $((61 - ${s#0}))
allyprobe --member alpha --key "$SCRATCH/mallory.key" --version "$(jq '.treaty.version' "$TREATY")" \
	--seq 1 --address 10.61.0.0 --count 700 >/dev/null
check "700 forgeries in alpha's name are refused and counted against alpha (bad_signature)" \
	wait_for 20 refused alpha bad_signature 700
forged_lines=$(grep -c "alliance: message claimed to be from alpha refused: bad_signature" "$SCRATCH/pactod.log")
# between N LOW HIGH: LOW <= N <= HIGH.
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
check "they are logged as claimed to be from alpha, 8 lines at most ($forged_lines)" between "$forged_lines" 1 8
check "no forgery is logged as a message from alpha" sh -c "! grep -q 'message from alpha refused' $SCRATCH/pactod.log"
publish_as alpha --seq 1 --address 198.51.100.9 >/dev/null
check "alpha's own report of a protected address is refused" wait_for 5 refused alpha protected 1
check "and recorded though 700 forgeries in alpha's name came this minute (pacto why)" \
	sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE why 198.51.100.9 | grep -q 'refused, protected'"
check "and logged on a line of its own" \
	grep -q "alliance: report 1 of alpha about 198.51.100.9 refused: protected" "$SCRATCH/pactod.log"
check "pactod's log holds no sanitizer report" no_sanitizer_report "$SCRATCH/pactod.log"
