# test_alliance_evictions.sh: the receipt tracks at most 65,536 reported
# addresses; a member's flood of pending reports past that evicts the
# least recently reported. bravo runs pactod with real nftables in its own
# network namespace, with a nats-server on its loopback; allyprobe
# publishes. Quorum 2: alpha weighs 2 (alone enough), charlie 1 (its
# reports stay pending).
#  - alpha's report of 203.0.113.9 is in force; charlie reports 67,328
#    other addresses (pending), which evicts 203.0.113.9's votes;
#  - the evictions are counted: `pacto status --json` (.alliance) and
#    /metrics (pacto_alliance_receipt_evictions_total);
#  - alpha lifts its report: lifted (the ledger has alpha's vote; it was
#    refused as not_reporter, the drop kept until its end).
# Addresses: 10.64.0.0/10 and 203.0.113.9 (reports only), in a namespace
# this script creates.
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

alliance_host evict
FLOOD=263   # messages of 256 reports: 67,328 addresses

member() { ctl allies --json | jq ".members[] | select(.id == \"$1\") | $2"; }

# flood: charlie's pending reports, FLOOD runs of 256 addresses each.
flood() {
	for i in $(seq 0 $((FLOOD - 1))); do
		publish_as charlie --seq $((1 + 256 * i)) --address "10.$((64 + i / 256)).$((i % 256)).0" --count 256 ||
			return 1
	done
}
all_taken() { [ "$(member charlie .accepted)" -ge $((FLOOD * 256)) ]; }

check "a treaty: alpha weighs 2, bravo and charlie 1, quorum 2" \
	make_treaty "alpha --weight 2" bravo charlie -- quorum=2 rate_per_min=1000000 burst=1000000
if ! check "bravo's pactod and a nats-server start in a namespace" start_alliance_host --metrics 127.0.0.1:9467; then
	exit 0
fi
publish_as alpha --seq 1 --address 203.0.113.9 --duration 3600 >/dev/null
check "alpha's report of 203.0.113.9 is in force" wait_for 5 in_set 203.0.113.9
check "charlie reports $((FLOOD * 256)) other addresses" flood
check "all taken, pending the quorum" wait_for 240 all_taken
evictions=$(ctl status --json | jq '.alliance.receipt_evictions')
check "pacto status counts the receipt's evictions ($evictions)" [ "$evictions" -gt 0 ]
in_ns curl -s --max-time 5 http://127.0.0.1:9467/metrics >"$SCRATCH/metrics"
check "/metrics counts them too" sh -c "awk '\$1 == \"pacto_alliance_receipt_evictions_total\" && \$2 > 0 { f = 1 } END { exit !f }' $SCRATCH/metrics"
check "pacto allies shows them" sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE allies --json | jq -e '.receipt_evictions > 0' >/dev/null"
check "203.0.113.9 is still dropped" in_set 203.0.113.9
publish_as alpha --seq 2 --address 203.0.113.9 --lift >/dev/null
check "alpha lifts its report though its vote was evicted: 203.0.113.9 is no longer dropped" \
	wait_for 10 sh -c "! ip netns exec $NS nft get element inet pacto v4 '{ 203.0.113.9 }' >/dev/null 2>&1"
check "the lift was not refused (not_reporter)" [ "$(member alpha '.refused.not_reporter // 0')" = 0 ]
check "and the ledger says so" sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE sanctions --json |
	jq -e '[.sanctions[].address] | index(\"203.0.113.9\") == null' >/dev/null"
check "pactod's log holds no sanitizer report" no_sanitizer_report "$SCRATCH/pactod.log"
