# test_alliance_refusal_flood.sh: one sender's flood of refused reports
# neither floods pactod's log nor silences the record of the others'
# refusals. bravo runs pactod with real nftables in its own network
# namespace, with a nats-server on its loopback; allyprobe publishes.
#  - alpha's report 5000 is applied; then its reports 1..700 come (one a
#    message, as anyone who may publish can replay old signed messages):
#    each is refused as a replay and counted (pacto allies: 700), but the
#    log has 8 lines of them and, once the minute is over, a summary with
#    the counts by reason, not a line each (700 before);
#  - within the same minute, charlie sends one report of a protected
#    address: refused, and recorded (`pacto why` says why): the cap of 600
#    refusal rows a minute is per sender, and alpha's 700 used up alpha's
#    own (before, the cap was shared and charlie's refusal went unrecorded).
# Addresses: 10.60.0.0/22, 198.51.100.7, 203.0.113.50 (reports only), in a
# namespace this script creates.
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

alliance_host rflood

refused() { ctl allies --json | jq -e --arg r "$2" --argjson n "$3" \
	".members[] | select(.id == \"$1\") | (.refused[\$r] // 0) == \$n" >/dev/null; }

check "a treaty of alpha, bravo and charlie (bravo protects 198.51.100.0/24)" \
	make_treaty alpha "bravo --protect 198.51.100.0/24" charlie -- rate_per_min=100000 burst=100000
if ! check "bravo's pactod and a nats-server start in a namespace" start_alliance_host; then
	exit 0
fi
publish_as alpha --seq 5000 --address 203.0.113.50 >/dev/null
check "alpha's report 5000 is applied" wait_sanctioned "$STATE" 203.0.113.50
# The flood and charlie's report must fall in one minute of pactod's clock
# (the cap counts a minute's rows): start early in a minute.
s=$(date +%S)
[ "${s#0}" -gt 40 ] && sleep $((61 - ${s#0}))
publish_as alpha --seq 1 --address 10.60.0.0 --count 700 >/dev/null
check "alpha's 700 replayed reports are refused and counted" wait_for 20 refused alpha replay 700
publish_as charlie --seq 1 --address 198.51.100.7 >/dev/null
check "charlie's report of a protected address is refused" wait_for 5 refused charlie protected 1
check "and recorded though alpha's flood passed 600 refusal rows this minute (per-sender cap)" \
	sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE why 198.51.100.7 | grep -q 'refused, protected'"
lines=$(grep -c "alliance: report [0-9]* of alpha .* refused: replay" "$SCRATCH/pactod.log")
check "alpha's replays are not logged one by one ($lines lines for 700, at most 8 a minute)" [ "$lines" -le 16 ]
# summed: the replays the summary lines count, plus those logged one by one.
summed() {
	sed -n 's/.*alliance: [0-9]* more refusals of alpha in the minute from .*replay \([0-9]*\).*/\1/p' \
		"$SCRATCH/pactod.log" | awk -v l="$lines" '{ s += $1 } END { print s + l }'
}
check "the rest are summed up once the minute is over, with their reason" \
	wait_for 65 grep -q "more refusals of alpha in the minute from" "$SCRATCH/pactod.log"
check "the lines logged and the summaries' counts add up: $(summed) of 700" [ "$(summed)" = 700 ]
check "pactod's log holds no sanitizer report" no_sanitizer_report "$SCRATCH/pactod.log"
