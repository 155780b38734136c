# test_alliance_refusals.sh: what pactod refuses from the alliance's stream.
# One member (bravo) runs pactod with real nftables in its own network
# namespace, with a nats-server on that namespace's loopback. A test tool
# (allyprobe) publishes reports as alpha (a member), as mallory (not one),
# and as a forger: a forged signature, a replayed report, a non-member, an
# over-rate member, a protected address, a too-wide prefix, the wrong
# alliance, the wrong treaty version, a report from the future, a reserved
# address or link-local prefix, and bytes that are no report. Each is
# refused, counted by reason in `pacto allies`, recorded in the ledger, and
# never reaches the firewall; a valid report among them is applied. A
# link-local source in bravo's own log is refused by the enforcer too. Then a hostile flood (truncated, oversized,
# garbage, reordered and duplicated reports at once): pactod keeps
# answering and applies only what passes (each reordered report once).
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

alliance_host refuse

refused() { ctl allies --json | jq -e --arg r "$2" --argjson n "$3" \
	".members[] | select(.id == \"$1\") | (.refused[\$r] // 0) >= \$n" >/dev/null; }

# refuses_treaty WHAT TREATY KEY PATTERN: pactod will not start with it, and says why.
refuses_treaty() {
	"$BUILD/pactod" --foreground --dry-run --state-dir "$SCRATCH/refused" --watch "$SCRATCH/auth.log" \
		--treaty "$2" --key "$3" --nats nats://127.0.0.1:1 >"$SCRATCH/refused.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q "$4" "$SCRATCH/refused.out"; then ok "$1"; else
		not_ok "$1 (exit $rc)"; sed 's/^/# /' "$SCRATCH/refused.out"; fi
}

# treaty: charlie protects 198.51.100.0/24; mallory, no member, has a key.
treaty() {
	make_keys mallory && make_treaty alpha bravo "charlie --protect 198.51.100.0/24" -- rate_per_min=6 burst=12
}
check "a treaty of alpha, bravo and charlie (charlie protects 198.51.100.0/24)" treaty
cp "$TREATY" "$SCRATCH/partly.json"
$PACTO treaty set --treaty "$SCRATCH/partly.json" skew 20 >/dev/null 2>&1
$PACTO treaty sign --treaty "$SCRATCH/partly.json" --key "$SCRATCH/alpha.key" >/dev/null 2>&1
refuses_treaty "pactod refuses a treaty only partly signed, naming who has not signed" \
	"$SCRATCH/partly.json" "$SCRATCH/bravo.key" "not in force.*bravo"
refuses_treaty "pactod refuses a treaty that does not list its own key" "$TREATY" "$SCRATCH/mallory.key" \
	"is not a member"
echo '{"treaty": ' >"$SCRATCH/broken.json"
refuses_treaty "pactod refuses a treaty file that is not JSON, with file and line" "$SCRATCH/broken.json" \
	"$SCRATCH/bravo.key" "broken.json:"
if ! check "bravo's pactod and a nats-server start in a namespace" start_alliance_host --metrics 127.0.0.1:9467; then
	exit 0
fi
V=$(jq '.treaty.version' "$TREATY")
check "a valid report of alpha is published" allyprobe --member alpha --key "$SCRATCH/alpha.key" --version "$V" --seq 1 --address 203.0.113.1
check "and applied: 203.0.113.1 is in bravo's firewall" wait_for 5 in_set 203.0.113.1

allyprobe --member alpha --key "$SCRATCH/mallory.key" --version "$V" --seq 2 --address 203.0.113.2
check "a forged signature is refused (bad_signature)" wait_for 5 refused alpha bad_signature 1
allyprobe --member alpha --key "$SCRATCH/alpha.key" --version "$V" --seq 1 --address 203.0.113.3
check "a report with a sequence number already seen is refused (replay)" wait_for 5 refused alpha replay 1
allyprobe --member alpha --key "$SCRATCH/alpha.key" --version "$V" --seq 5 --address 203.0.113.5 --repeat
check "the same message twice: the second copy is refused (replay)" wait_for 5 refused alpha replay 2
check "and the first was applied" wait_for 5 in_set 203.0.113.5
allyprobe --member mallory --key "$SCRATCH/mallory.key" --version "$V" --seq 1 --address 203.0.113.6
check "a non-member is refused" wait_for 5 sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE allies --json | jq -e '.unknown_senders >= 1' >/dev/null"
allyprobe --member alpha --key "$SCRATCH/alpha.key" --version "$V" --seq 10 --address 198.51.100.7
check "an address in charlie's protected range is refused (protected)" wait_for 5 refused alpha protected 1
allyprobe --member alpha --key "$SCRATCH/alpha.key" --version "$V" --seq 11 --address 203.0.0.0/16
check "a prefix wider than the treaty allows is refused (too_wide)" wait_for 5 refused alpha too_wide 1
allyprobe --member alpha --key "$SCRATCH/alpha.key" --version "$V" --seq 12 --address 203.0.113.12 --claim-alliance east
check "a report naming another alliance is refused (wrong_alliance)" wait_for 5 refused alpha wrong_alliance 1
allyprobe --member alpha --key "$SCRATCH/alpha.key" --version $((V + 1)) --seq 13 --address 203.0.113.13
check "a report under another treaty version is refused (wrong_treaty)" wait_for 5 refused alpha wrong_treaty 1
allyprobe --member alpha --key "$SCRATCH/alpha.key" --version "$V" --seq 14 --address 203.0.113.14 --time-offset 3600
check "a report dated an hour ahead is refused (future)" wait_for 5 refused alpha future 1
allyprobe --member alpha --key "$SCRATCH/alpha.key" --version "$V" --seq 15 --address 203.0.113.15 --claim-member charlie
check "a report of alpha's claiming to be charlie's is refused (wrong_sender)" wait_for 5 refused alpha wrong_sender 1
allyprobe --member alpha --key "$SCRATCH/alpha.key" --version "$V" --seq 16 --address 0.0.0.5
check "a reserved address passes the trust rules but not the enforcer: refused, recorded" wait_for 5 sh -c \
	"ip netns exec $NS $BUILD/pacto --state-dir $STATE why 0.0.0.5 | grep -q 'refused, firewall:'"
# An ally's fe80::/64 would cut bravo's IPv6 neighbour discovery.
allyprobe --member alpha --key "$SCRATCH/alpha.key" --version "$V" --seq 17 --address fe80::/64
check "a link-local prefix (fe80::/64) passes the trust rules but not the enforcer: refused, recorded" wait_for 5 sh -c \
	"ip netns exec $NS $BUILD/pacto --state-dir $STATE why fe80::/64 | grep -q 'refused, firewall:.*reserved network (link-local, fe80::/10)'"
check "and not enforced: fe80:: is in no set" sh -c "! ip netns exec $NS nft get element inet pacto v6_64 '{ fe80:: }' >/dev/null 2>&1"
allyprobe --member alpha --key "$SCRATCH/alpha.key" --garbage --address 203.0.113.16
check "bytes that are no report are refused" wait_for 5 refused alpha bad_signature 2
allyprobe --member alpha --key "$SCRATCH/alpha.key" --version "$V" --seq 100 --address 10.9.0.1 --count 20
check "an over-rate burst: the reports past the treaty's burst are refused (rate)" wait_for 5 refused alpha rate 1

# bravo's own log: failures from a link-local source reach the threshold;
# the sanction is refused and counted, not recorded, not reported.
attack_link_local() { sshd_failures "$SCRATCH/auth.log" bravo fe80::1 6; }
attack_link_local
check "bravo's own sanction of fe80::/64 (from its log) is refused by the enforcer, logged" wait_for 5 \
	grep -q "^pactod: firewall: fe80::/64 refused: reserved network (link-local" "$SCRATCH/pactod.log"
check "and counted as a firewall error; nothing recorded, nothing reported to the allies" sh -c "
	ip netns exec $NS $BUILD/pacto --state-dir $STATE status --json | jq -e '.counters.firewall_errors >= 1' >/dev/null &&
	ip netns exec $NS $BUILD/pacto --state-dir $STATE allies --json | jq -e '.reported == 0' >/dev/null &&
	ip netns exec $NS $BUILD/pacto --state-dir $STATE sanctions --json | jq -e '[.sanctions[].address] | index(\"fe80::/64\") == null' >/dev/null"
# local_refusals: how many of bravo's own sanctions of fe80::/64 were refused.
local_refusals() { grep -c '^pactod: firewall: fe80::/64 refused' "$SCRATCH/pactod.log"; }
two_refusals() { [ "$(local_refusals)" -ge 2 ]; }
attack_link_local
wait_for 5 two_refusals
sleep 1
check "a second round is refused again, once: the source counts from zero, no loop" [ "$(local_refusals)" -eq 2 ]

for a in 0.0.0.5 203.0.113.2 203.0.113.3 203.0.113.6 198.51.100.7 203.0.113.12 203.0.113.13 203.0.113.14 203.0.113.15; do
	check "nothing refused is enforced: $a is not in the firewall" sh -c "! ip netns exec $NS nft get element inet pacto v4 '{ $a }' >/dev/null 2>&1"
done
check "nor listed as a sanction" sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE sanctions --json |
	jq -e '[.sanctions[].address] | (index(\"198.51.100.7\") == null) and (index(\"203.0.113.2\") == null) and (index(\"203.0.113.1\") != null)' >/dev/null"
check "every refusal is recorded with its reason (pacto why)" sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE why 198.51.100.7 | grep -q 'refused, protected'"
check "pacto allies shows alpha's refusals by reason" sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE allies | grep alpha | grep -q 'protected 1'"
# The same counts in /metrics, as pacto allies --json gives them.
in_ns curl -s --max-time 5 http://127.0.0.1:9467/metrics >"$SCRATCH/metrics"
ctl allies --json >"$SCRATCH/allies.json"
same_refusals() {
	for r in protected too_wide replay rate bad_signature wrong_sender future; do
		want=$(jq -r --arg r "$r" '.members[] | select(.id == "alpha") | .refused[$r] // 0' "$SCRATCH/allies.json")
		got=$(awk -v s="pacto_ally_refusals_total{member=\"alpha\",reason=\"$r\"}" '$1 == s { print $2 }' "$SCRATCH/metrics")
		[ "$want" -ge 1 ] && [ "$got" = "$want" ] || { echo "# $r: metrics $got, pacto allies $want"; return 1; }
	done
}
check "/metrics gives alpha's refusals by reason, as pacto allies does" same_refusals
check "/metrics counts the non-member's message" \
	sh -c "awk '\$1 == \"pacto_alliance_unknown_sender_refusals_total\" && \$2 >= 1 { f = 1 } END { exit !f }' $SCRATCH/metrics"

# A hostile flood: truncated, oversized, garbage, reordered and duplicated
# reports at once; pactod keeps answering and applies only what passes.
flood() {
	allyprobe --member alpha --key "$SCRATCH/alpha.key" --version "$V" --seq 500 --address 10.30.0.1 --truncate 40 --count 300 &
	allyprobe --member alpha --key "$SCRATCH/alpha.key" --version "$V" --seq 900 --address 10.31.0.1 --oversize --count 40 &
	allyprobe --member alpha --key "$SCRATCH/alpha.key" --garbage --address 10.32.0.1 --count 300 &
	# As charlie, whose rate alpha's reports above have not used up.
	allyprobe --member charlie --key "$SCRATCH/charlie.key" --version "$V" --seq 1000 --address 10.20.0.1 --count 100 \
		--reverse --repeat &
	wait
}
slowest=0
flood &
flood_pid=$!
while kill -0 "$flood_pid" 2>/dev/null; do
	t0=$(date +%s%N)
	ctl status >/dev/null 2>&1 || slowest=999999
	t=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$t" -gt "$slowest" ] && slowest=$t
	sleep 0.05
done
check "pactod answered pacto status throughout the flood (slowest ${slowest} ms, under 1000)" [ "$slowest" -lt 1000 ]
check "the flood's truncated and garbage messages are refused" wait_for 10 refused alpha bad_signature 600
check "its oversized messages are refused (too_big)" wait_for 10 refused alpha too_big 40
# Reordered: each report is taken once, whatever its place (the window of
# sequence numbers), up to charlie's burst of 12; the second copies are
# replays. Before the window, every report after the first (the highest
# number) was refused as a replay.
charlie_count() { ctl allies --json | jq --arg r "$1" '.members[] | select(.id == "charlie") | .refused[$r] // 0'; }
twelve_in() { in_set 10.20.0.100 && in_set 10.20.0.89; }
taken() { [ $(($(charlie_count replay) + $(charlie_count rate))) -ge 180 ]; }
check "of the reordered reports the first 12 taken (charlie's burst) are applied, in any order" wait_for 10 twelve_in
wait_for 10 taken
sleep 1
check "every second copy, and only those, is refused as a replay ($(charlie_count replay) of 100)" \
	[ "$(charlie_count replay)" = 100 ]
rest_over_rate() { ! in_set 10.20.0.1 && ! in_set 10.20.0.50 && [ "$(charlie_count rate)" -ge 80 ]; }
check "the others are over charlie's rate ($(charlie_count rate)), none in the firewall" rest_over_rate
