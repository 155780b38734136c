# test_alliance_ledger_full.sh: the disk under the ledger fills up while an
# ally's reports arrive. bravo runs pactod with real nftables in its own
# network namespace (a nats-server on its loopback); its state directory is
# a 1 MiB tmpfs in a mount namespace of this test's own, which a file fills.
# alpha (allyprobe) publishes 800 reports of 10.50.0-3.x, one a message.
# A round whose ledger transaction fails is undone: the kernel keeps only
# what the ledger holds (the same addresses in nft as in `pacto
# sanctions`), the receipt forgets the round, and the messages, not acked,
# come again (JetStream, after its 30 s ack wait). Once space returns they
# are applied, none refused as a replay: all 800 in the ledger and in nft,
# and `pacto why` knows them. Addresses: 10.50.0.0/22 and 203.0.113.1
# (reports only), in namespaces this script creates.
if [ -z "${PACTO_MNTNS:-}" ]; then
	PACTO_MNTNS=1 exec unshare --mount --propagation private sh "$0" "$@"
fi
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

alliance_host afull

cleanup() {
	kill_namespace "$NS"
	umount "$STATE" 2>/dev/null
	finish
}
trap cleanup EXIT

# in_nft / in_ledger: how many addresses of 10.50.0.0/22 the kernel drops,
# the ledger lists as sanctions in force.
in_nft() { in_ns nft -j list set inet pacto v4 | jq '[.. | strings | select(startswith("10.50."))] | length'; }
in_ledger() { ctl sanctions --json | jq '[.sanctions[].address | select(startswith("10.50."))] | length'; }
replays() { ctl allies --json | jq '.members[] | select(.id == "alpha") | .refused.replay // 0'; }
ledger_errors() { ctl status --json | jq '.ledger.errors'; }
received() { ctl allies --json | jq '.link.received'; }

start() {
	mkdir -p "$STATE" && mount -t tmpfs -o size=1m,mode=0750 pacto-test "$STATE" || return 1
	start_alliance_host
}
fill() { dd if=/dev/zero of="$STATE/filler" bs=4k >/dev/null 2>&1; sync; }
agree() { n=$(in_nft) && l=$(in_ledger) && [ -n "$n" ] && [ "$n" = "$l" ]; }
all_in() { [ "$(in_ledger)" = 800 ] && [ "$(in_nft)" = 800 ]; }

check "a treaty of alpha and bravo" make_treaty alpha bravo -- rate_per_min=100000 burst=100000
if ! check "bravo's pactod (state on a 1 MiB tmpfs) and a nats-server start in a namespace" start; then
	exit 0
fi
publish_as alpha --seq 1 --address 203.0.113.1 >/dev/null
check "with room, alpha's report is applied and recorded" wait_sanctioned "$STATE" 203.0.113.1
sleep 5.5   # the cursor save of the next tick commits before the disk fills

fill
check "the tmpfs is full" sh -c "[ \$(df --output=avail $STATE | tail -1) -eq 0 ]"
for k in 0 1 2 3; do
	publish_as alpha --seq $((100 + 1000 * k)) --address "10.50.$k.0" --count 200 || echo "# allyprobe failed"
done
wait_for 20 sh -c "[ \$(ip netns exec $NS $BUILD/pacto --state-dir $STATE allies --json | jq .link.received) -ge 801 ]"
sleep 1
nft_full=$(in_nft) ledger_full=$(in_ledger)
check "disk full: ledger writes fail ($(ledger_errors) errors)" [ "$(ledger_errors)" -gt 0 ]
check "some reports could not be recorded ($ledger_full of 800 in the ledger)" [ "$ledger_full" -lt 800 ]
same_full() { [ -n "$nft_full" ] && [ "$nft_full" = "$ledger_full" ]; }
check "the kernel drops what the ledger holds, no more ($nft_full in nft, $ledger_full in the ledger)" same_full
check "the log says the firewall was set back to the ledger" \
	grep -q "set back to what the ledger holds" "$SCRATCH/pactod.log"

rm -f "$STATE/filler"
check "space back: the messages come again and all 800 are recorded and dropped" wait_for 60 all_in
check "none of them was refused as a replay ($(replays))" [ "$(replays)" = 0 ]
check "pacto why knows the last of them" sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE why 10.50.3.199 |
	grep -q 'reported by alpha'"
check "the kernel still agrees with the ledger" agree
check "pactod's log holds no sanitizer report" sh -c "! grep -q 'Sanitizer\|runtime error' $SCRATCH/pactod.log"
