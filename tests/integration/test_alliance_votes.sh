# test_alliance_votes.sh: a reporter's lift withdraws its vote for good,
# even when the sanction stays (the others still reach the quorum). bravo
# runs pactod with real nftables in its own network namespace, with a
# nats-server on that namespace's loopback; allyprobe publishes as alpha,
# charlie, delta and echo (quorum 2, weights 1). For each address alpha,
# charlie and delta report it (in force), then alpha lifts it: it stays
# (charlie and delta), alpha's support row ends (pacto why), and then:
#  - 203.0.113.10: echo, who never reported it, lifts it (refused,
#    not_reporter), then charlie lifts it: lifted (delta alone is below
#    the quorum). Before, echo's lift put alpha's withdrawn vote back
#    from the ledger first, and the address stayed dropped;
#  - 203.0.113.20: alpha's lift comes again (a replay, refused), then
#    charlie lifts it: lifted (the replay put alpha's vote back too);
#  - 203.0.113.30: bravo's pactod restarts (the votes of the sanctions in
#    force come back from the ledger), then charlie lifts it: lifted
#    (alpha's vote came back at the restart);
#  - 203.0.113.40: an amendment removes delta; bravo reloads it: lifted,
#    charlie alone is below the quorum (the re-check counted alpha's vote
#    and kept it);
#  - 203.0.113.50: alpha, charlie and delta report it, echo's lift is
#    refused: it stays, and after the amendment too (alpha and charlie).
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

alliance_host votes

# report MEMBER SEQ ADDRESS [ARGS...]: one report of MEMBER's, 3600 s unless ARGS say.
report() {
	member=$1 seq=$2 addr=$3
	shift 3
	publish_as "$member" --seq "$seq" --address "$addr" --duration 3600 "$@" >/dev/null
}
lift() { report "$@" --lift; }
gone() { ! in_set "$1"; }
# in_force_by_three ADDRESS FIRST-SEQ: alpha, charlie and delta report it
# with sequence number FIRST-SEQ each; it is dropped.
in_force_by_three() {
	for m in alpha charlie delta; do
		report "$m" "$2" "$1" || return 1
	done
	wait_for 10 in_set "$1"
}
# verdict ADDRESS MEMBER SEQ VERDICT [REASON]: pacto why lists MEMBER's
# report SEQ about ADDRESS with VERDICT (and REASON).
verdict() {
	ctl why "$1" --json | jq -e --arg m "$2" --argjson s "$3" --arg v "$4" --arg r "${5:-}" \
		'[.reports[] | select(.member == $m and .seq == $s and .verdict == $v and
		 ($r == "" or .reason == $r))] | length == 1' >/dev/null
}
# support_ended ADDRESS MEMBER: MEMBER's support of the sanction of
# ADDRESS in force ends within a minute of its report (it asked for an hour).
support_ended() {
	ctl why "$1" --json | jq -e --arg m "$2" \
		'[.reports[] | select(.member == $m and .action == "sanction" and .verdict == "applied")] |
		 length == 1 and .[0].duration_s < 60' >/dev/null
}
# withdrawn ADDRESS SEQ: alpha's lift SEQ of ADDRESS was taken, the sanction
# stays: still in the kernel, the lift unchanged, alpha's support ended.
withdrawn() {
	wait_for 5 verdict "$1" alpha "$2" unchanged && in_set "$1" && support_ended "$1" alpha
}
# expel_delta: alpha, bravo, charlie and echo sign a treaty without delta;
# bravo reloads it and says one sanction lifted.
expel_delta() {
	treaty_without "$SCRATCH/amended.json" delta alpha bravo charlie echo &&
	cp "$SCRATCH/amended.json" "$TREATY" && ctl reload >"$SCRATCH/reload.out" 2>&1 &&
	grep -q ', 1 sanction lifted' "$SCRATCH/reload.out"
}

check "a treaty of alpha, bravo, charlie, delta and echo, quorum 2" \
	make_treaty alpha bravo charlie delta echo -- quorum=2
if ! check "bravo's pactod and a nats-server start in a namespace" start_alliance_host; then
	exit 0
fi

check "203.0.113.10: alpha, charlie and delta report it: dropped" in_force_by_three 203.0.113.10 1
lift alpha 2 203.0.113.10
check "203.0.113.10: alpha lifts: it stays (unchanged), alpha's support ends" withdrawn 203.0.113.10 2
lift echo 1 203.0.113.10
check "203.0.113.10: echo's lift refused, not_reporter" wait_for 5 verdict 203.0.113.10 echo 1 refused not_reporter
lift charlie 2 203.0.113.10
check "203.0.113.10: charlie lifts: lifted (delta alone is below the quorum)" wait_for 5 gone 203.0.113.10
check "203.0.113.10: charlie's lift applied" verdict 203.0.113.10 charlie 2 applied

check "203.0.113.20: alpha, charlie and delta report it: dropped" in_force_by_three 203.0.113.20 3
lift alpha 4 203.0.113.20
check "203.0.113.20: alpha lifts: it stays, alpha's support ends" withdrawn 203.0.113.20 4
lift alpha 4 203.0.113.20
check "203.0.113.20: alpha's lift again: refused, replay" wait_for 5 verdict 203.0.113.20 alpha 4 refused replay
lift charlie 4 203.0.113.20
check "203.0.113.20: charlie lifts: lifted" wait_for 5 gone 203.0.113.20

check "203.0.113.30: alpha, charlie and delta report it: dropped" in_force_by_three 203.0.113.30 5
lift alpha 6 203.0.113.30
check "203.0.113.30: alpha lifts: it stays, alpha's support ends" withdrawn 203.0.113.30 6
check "203.0.113.40: alpha, charlie and delta report it: dropped" in_force_by_three 203.0.113.40 7
lift alpha 8 203.0.113.40
check "203.0.113.40: alpha lifts: it stays, alpha's support ends" withdrawn 203.0.113.40 8
check "203.0.113.50: alpha, charlie and delta report it: dropped" in_force_by_three 203.0.113.50 9
lift echo 2 203.0.113.50
check "203.0.113.50: echo's lift refused, not_reporter" wait_for 5 verdict 203.0.113.50 echo 2 refused not_reporter

check "bravo's pactod restarts" restart_alliance_host
check "203.0.113.30 and .40 still dropped after the restart" sh -c "$(command -v ip) netns exec $NS nft get element inet pacto v4 '{ 203.0.113.30, 203.0.113.40 }' >/dev/null"
lift charlie 10 203.0.113.30
check "203.0.113.30: charlie lifts after the restart: lifted" wait_for 5 gone 203.0.113.30
check "203.0.113.30: charlie's lift applied" verdict 203.0.113.30 charlie 10 applied

check "an amendment without delta, reloaded: one sanction lifted" expel_delta
check "203.0.113.40: lifted by the reload (charlie alone is below the quorum)" wait_for 5 gone 203.0.113.40
check "203.0.113.50 (alpha and charlie still report it): stays" in_set 203.0.113.50
check "no sanitizer report from pactod" no_sanitizer_report "$SCRATCH/pactod.log"
