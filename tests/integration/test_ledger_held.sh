# test_ledger_held.sh: a sanction enforced but held by the recorder (the
# ledger refuses writes) is in force like a recorded one. Two manual
# sanctions of an hour are held; alpha reports the first for 60 s (a
# shorter term must not cut the drop) and the second for 2 h (the round
# stretches the drop); both rounds fail and are undone, and the kernel
# elements follow what the ledger holds plus what waits to be recorded:
# both addresses stay dropped, to the held sanctions' end. When space
# returns and they are written late, the elements still end then, and
# alpha's reports, delivered again, are applied on top. An element of a
# held sanction deleted by hand is added again, as a recorded one's is.
# pacto lift ends a held sanction (and a recorded one of the same address,
# another process holding the ledger's write lock so that the lift itself
# is held): the element is removed and neither the element repair nor the
# table's restore brings it back; when space returns the ledger records
# the sanctions as lifted by hand. The table deleted with nft is restored
# with the held sanctions in it, and after pacto reload the engine still
# knows a held sanction (the address's failures do not sanction it again)
# and not a lifted one (its failures sanction it anew).
# bravo runs pactod with real nftables in its own network namespace (a
# nats-server on its loopback); its state directory is a 1 MiB tmpfs in a
# mount namespace of this test's own, which a file fills (as
# test_alliance_ledger_full).
# Addresses: 10.50.0.0/22, 10.60.0.1-5 and 203.0.113.1, in namespaces this
# script creates.
if [ -z "${PACTO_MNTNS:-}" ]; then
	PACTO_MNTNS=1 exec unshare --mount --propagation private sh "$0" "$@"
fi
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

alliance_host lheld

cleanup() {
	kill_namespace "$NS"
	umount "$STATE" 2>/dev/null
	finish
}
trap cleanup EXIT

SHORT=10.60.0.1   # alpha reports it for 60 s
LONG=10.60.0.2    # alpha reports it for 2 h
BOTH=10.60.0.4    # sanctioned by hand with room, and again while the ledger is full; lifted
LIFTED=10.60.0.5  # sanctioned by hand while the ledger is full; lifted
HOUR=3600

start() {
	mkdir -p "$STATE" && mount -t tmpfs -o size=1m,mode=0750 pacto-test "$STATE" || return 1
	start_alliance_host
}
fill() { dd if=/dev/zero of="$STATE/filler" bs=4k >/dev/null 2>&1; sync; }
ledger_errors() { ctl status --json | jq '.ledger.errors'; }
held() { ctl status --json | jq '.ledger.held'; }
received() { ctl allies --json | jq '.link.received'; }
# left_s ADDRESS: the seconds left to its kernel element (nothing when absent).
left_s() {
	in_ns nft -j list set inet pacto v4 | jq --arg a "$1" '[.. | objects | select(.val? == $a) | .expires][0] // empty'
}
# dropped_for ADDRESS MIN MAX: ADDRESS is dropped, for MIN to MAX seconds more.
dropped_for() { l=$(left_s "$1") && [ -n "$l" ] && [ "$l" -ge "$2" ] && [ "$l" -le "$3" ]; }
# about_an_hour ADDRESS: dropped to about the end of its manual sanction.
about_an_hour() { dropped_for "$1" $((HOUR - 300)) $HOUR; }
# in_ledger ADDRESS ORIGIN-PREFIX: the ledger lists a sanction of ADDRESS
# in force, from an origin starting so (not one pactod holds, unrecorded).
in_ledger() {
	ctl sanctions --json | jq -e --arg a "$1" --arg o "$2" \
		'[.sanctions[] | select(.address == $a and (.origin | startswith($o)) and .held != true)] | length > 0' >/dev/null
}
# listed FILTER: how many of pacto sanctions --json's sanctions FILTER selects.
listed() { ctl sanctions --json | jq "[.sanctions[] | select($1)] | length"; }
received_more_than() { [ "$(received)" -gt "$1" ]; }
# report ADDRESS SEQ DURATION: alpha's report; waits until it arrives and
# its round is undone (one more "delivered again" in the log).
report() {
	before=$(received) undone=$(grep -c "will be delivered again" "$SCRATCH/pactod.log")
	publish_as alpha --seq "$2" --address "$1" --duration "$3" >/dev/null &&
		wait_for 10 received_more_than "$before" && sleep 1 &&
		[ "$(grep -c "will be delivered again" "$SCRATCH/pactod.log")" -gt "$undone" ]
}

check "a treaty of alpha and bravo" make_treaty alpha bravo -- rate_per_min=100000 burst=100000
if ! check "bravo's pactod (state on a 1 MiB tmpfs) and a nats-server start in a namespace" start; then
	exit 0
fi
publish_as alpha --seq 1 --address 203.0.113.1 >/dev/null
check "with room, alpha's report is applied and recorded" wait_sanctioned "$STATE" 203.0.113.1
ctl sanction "$BOTH" --for 1h >/dev/null
check "with room, pacto sanction $BOTH is recorded" wait_sanctioned "$STATE" "$BOTH"
sleep 5.5   # the cursor save of the next tick commits before the disk fills

# Reports fill the ledger's free pages until its writes fail.
fill
for k in 0 1 2 3; do
	publish_as alpha --seq $((100 + 1000 * k)) --address "10.50.$k.0" --count 200 >/dev/null ||
		echo "# allyprobe failed"
done
wait_for 20 received_more_than 800
check "disk full: ledger writes fail ($(ledger_errors) errors)" [ "$(ledger_errors)" -gt 0 ]

ctl sanction "$SHORT" --for 1h >/dev/null
ctl sanction "$LONG" --for 1h >/dev/null
both_for_hour() { about_an_hour "$SHORT" && about_an_hour "$LONG"; }
check "pacto sanction $SHORT and $LONG --for 1h are held by the recorder (ledger.held $(held))" [ "$(held)" -ge 2 ]
check "and dropped for an hour ($(left_s $SHORT), $(left_s $LONG) s left)" both_for_hour
held_listed() {
	[ "$(listed ".held == true and (.address == \"$SHORT\" or .address == \"$LONG\") and (.origin | startswith(\"manual\"))")" = 2 ] &&
		ctl sanctions | grep -q "^$SHORT .*held: not recorded yet" && ! in_ledger "$SHORT" manual
}
check "pacto sanctions lists both, marked held (not recorded yet), the ledger neither" held_listed

check "alpha's report of $SHORT for 60 s arrives, its round fails and is undone" report "$SHORT" 5000 60
check "$SHORT is still dropped for about an hour ($(left_s $SHORT) s left)" about_an_hour "$SHORT"
check "alpha's report of $LONG for 2 h arrives, its round fails and is undone" report "$LONG" 5001 7200
check "$LONG is dropped for about an hour again, the held sanction's end ($(left_s $LONG) s left)" about_an_hour "$LONG"

# nft's own change, not pactod's: the check every 5 s puts back what is
# missing, the held sanctions too.
in_ns nft delete element inet pacto v4 "{ $SHORT }"
gone() { ! in_set "$1"; }
check "$SHORT is deleted by hand from the set while held" gone "$SHORT"
check "$SHORT deleted by hand while held is added again to its end" wait_for 12 about_an_hour "$SHORT"

# pacto lift of a held sanction (the ledger has nothing to lift), and of
# an address with a recorded and a held one while another process holds
# the ledger's write lock (pactod waits 250 ms for it): the lift's own
# write fails, and the lift is held too. Both lifts hold all the same.
ctl sanction "$LIFTED" --for 1h >/dev/null
ctl sanction "$BOTH" --for 2h >/dev/null
held_lifted() { about_an_hour "$LIFTED" && dropped_for "$BOTH" $((2 * HOUR - 300)) $((2 * HOUR)); }
check "pacto sanction $LIFTED --for 1h and $BOTH --for 2h are held and dropped" held_lifted
lift() { ctl lift "$1" >>"$SCRATCH/lift.out" 2>&1; }
check "pacto lift $LIFTED (held) succeeds" lift "$LIFTED"
(echo "BEGIN EXCLUSIVE;"; sleep 3; echo "ROLLBACK;") | sqlite3 "$STATE/ledger.db" >/dev/null 2>&1 &
lock_pid=$!
sleep 0.5
check "pacto lift $BOTH (recorded and held) succeeds, the ledger locked by another process" lift "$BOTH"
check "the lift is held (ledger.lifts_held $(ctl status --json | jq .ledger.lifts_held))" \
	[ "$(ctl status --json | jq .ledger.lifts_held)" = 1 ]
status_says_lift_held() { ctl status | grep -q '^ledger: 1 lifts done but not recorded yet'; }
check "pacto status says so" status_says_lift_held
lifted_unlisted() { [ "$(listed ".address == \"$LIFTED\" or .address == \"$BOTH\"")" = 0 ]; }
check "pacto sanctions lists neither $LIFTED nor $BOTH in force" lifted_unlisted
lift_held_listed() {
	ctl sanctions --all --json | jq -e --arg b "$BOTH" \
		'(.lifts_held | map(.address) == [$b]) and
		 ([.sanctions[] | select(.address == $b and .held != true and .lifted.by != null)] | length == 1)' >/dev/null
}
check "pacto sanctions --all: the lift of $BOTH held, its recorded sanction shown lifted" lift_held_listed
wait "$lock_pid"
lifted_gone() { ! in_set "$LIFTED" && ! in_set "$BOTH"; }
check "$LIFTED and $BOTH are not dropped any more" lifted_gone
in_ns nft delete element inet pacto v4 "{ $SHORT }"
check "a change by hand: the element repair runs again (puts $SHORT back)" wait_for 12 about_an_hour "$SHORT"
check "and does not put back the lifted $LIFTED and $BOTH" lifted_gone

# The table deleted by hand: pactod restores it, the held sanctions in it.
restores() { ctl status --json | jq '.counters.table_restores'; }
restores_before=$(restores)
in_ns nft delete table inet pacto
restored() { [ "$(restores)" -gt "$restores_before" ] && in_set 203.0.113.1; }
check "the table deleted with nft is restored from the ledger" wait_for 12 restored
check "with the held $SHORT and $LONG, to their end ($(left_s $SHORT), $(left_s $LONG) s left)" both_for_hour
check "without the lifted $LIFTED and $BOTH" lifted_gone

# pacto reload: the new engine knows the held sanctions, so their
# address's failures, read after it, do not sanction it again; and not
# the lifted ones, whose failures count again.
sanctions() { ctl status --json | jq '.counters.sanctions'; }
lines_read() { ctl status --json | jq '.engine.lines'; }
sanctioned_times() { grep -c "sanction $1 for" "$SCRATCH/pactod.log"; }
check "pacto reload" sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE reload >/dev/null"
sanctions_before=$(sanctions) lines_before=$(lines_read) short_before=$(sanctioned_times "$SHORT")
sshd_failures "$SCRATCH/auth.log" bravo "$SHORT" 6
sshd_failures "$SCRATCH/auth.log" bravo "$BOTH" 6
read_12() { [ "$(lines_read)" -ge $((lines_before + 12)) ]; }
check "after the reload, 6 failures of $SHORT and 6 of the lifted $BOTH are read" wait_for 5 read_12
check "the lifted $BOTH's failures count again: dropped anew" wait_for 5 in_set "$BOTH"
check "$SHORT is not sanctioned again: it is in force ($(sanctions) sanctions, $sanctions_before before)" \
	[ "$(sanctions)" = $((sanctions_before + 1)) -a "$(sanctioned_times "$SHORT")" = "$short_before" ]

rm -f "$STATE/filler"
none_held() { [ "$(held)" = 0 ]; }
check "space back: the held sanctions are recorded late" wait_for 20 none_held
nothing_held_listed() {
	ctl sanctions --json | jq -e '([.sanctions[] | select(.held == true)] | length == 0) and .lifts_held == []' >/dev/null
}
check "pacto sanctions lists nothing held any more" nothing_held_listed
manual_recorded() { in_ledger "$SHORT" manual && in_ledger "$LONG" manual; }
check "the ledger lists the manual sanctions" manual_recorded
check "and the kernel still drops both to their end ($(left_s $SHORT), $(left_s $LONG) s left)" both_for_hour
ally_recorded() { in_ledger "$SHORT" ally:alpha && in_ledger "$LONG" ally:alpha; }
check "alpha's reports, delivered again, are recorded" wait_for 60 ally_recorded
check "$SHORT's drop is not cut ($(left_s $SHORT) s left)" about_an_hour "$SHORT"
check "$LONG is dropped for alpha's 2 h ($(left_s $LONG) s left)" dropped_for "$LONG" $((2 * HOUR - 300)) $((2 * HOUR))
# The lifts as the ledger records them once it takes writes: every
# sanction of $LIFTED and $BOTH lifted by hand, none in force.
lifted_by_hand() {
	ctl why "$1" --json | jq -e --argjson n "$2" \
		'[.history[] | select(.lifted.by // "" | startswith("manual"))] | length == $n' >/dev/null
}
lifts_recorded() { lifted_by_hand "$LIFTED" 1 && lifted_by_hand "$BOTH" 2; }
check "the ledger records $LIFTED's held sanction and $BOTH's two as lifted by hand" wait_for 10 lifts_recorded
check "no lift waits" [ "$(ctl status --json | jq .ledger.lifts_held)" = 0 ]
only_anew() { ! in_ledger "$LIFTED" "" && in_ledger "$BOTH" local && [ "$(in_force_count "$BOTH")" = 1 ]; }
in_force_count() { ctl sanctions --json | jq --arg a "$1" '[.sanctions[] | select(.address == $a)] | length'; }
check "in force in the ledger: none of $LIFTED's, only $BOTH's new local one" only_anew
check "$LIFTED is not dropped" sh -c "! ip netns exec $NS nft get element inet pacto v4 '{ $LIFTED }' >/dev/null 2>&1"
check "pactod's log holds no sanitizer report" no_sanitizer_report "$SCRATCH/pactod.log"
