# test_alliance_overlap.sh: an ally's sanction over a shorter one of this
# host's own, then the ally's lift (or expulsion): the kernel element goes
# back to the local sanction's end, not the ally's. One member (bravo) runs
# pactod with real nftables in its own network namespace, with a
# nats-server on that namespace's loopback; allyprobe publishes as alpha.
#  - 203.0.113.77: local for 15 s, alpha for 3600 s, alpha lifts: the
#    element expires within 15 s, then leaves the kernel, and the address,
#    counted again (the engine too went back to the local end), is
#    sanctioned anew from bravo's log;
#  - 203.0.113.78: local for 60 s, alpha for 3600 s, alpha expelled by a
#    new treaty: the element expires within 60 s;
#  - 203.0.113.79 and .80: alpha's alone, lifted and expelled: gone;
#  - 203.0.113.81: alpha for 3600 s, then bravo by hand for 60 s: the
#    element keeps alpha's end (an add sets the timeout anew, shorter
#    too); alpha lifts: back to bravo's 60 s. 203.0.113.82: bravo for
#    3600 s, then for 60 s: the longer end holds;
#  - 203.0.113.84: bravo for 60 s and alpha for 3600 s, then `pacto lift`:
#    pacto(8) says a lift ends what is in force ("its failures count again
#    from zero"): both rows lifted in the ledger, the element gone, and
#    failures counted again, sanctioned anew for the rule's time only;
#  - 203.0.113.85: alpha for 3600 s, `pacto lift`, then charlie reports it
#    for 600 s: dropped for charlie's 600 s (alpha's vote, lifted by hand,
#    counts no more; kept, it made charlie's report "unchanged, already in
#    force" while nothing was dropped).
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

alliance_host overlap

# report MEMBER SEQ ADDRESS [ARGS...]: one report of MEMBER's; alpha and
# charlie SEQ ADDRESS [ARGS...]: one of theirs.
report() {
	member=$1 seq=$2 addr=$3
	shift 3
	publish_as "$member" --seq "$seq" --address "$addr" "$@"
}
alpha() { report alpha "$@"; }
charlie() { report charlie "$@"; }
listed() { ctl sanctions --json | jq -e --arg a "$1" '[.sanctions[].address] | index($a) != null' >/dev/null; }
# rows ADDRESS N: N sanctions of ADDRESS in force.
rows() { ctl sanctions --json | jq -e --arg a "$1" --argjson n "$2" '[.sanctions[] | select(.address == $a)] | length == $n' >/dev/null; }
# lifted_by_hand ADDRESS N: N rows of ADDRESS in the ledger, all lifted by hand.
lifted_by_hand() {
	ctl sanctions --all --json | jq -e --arg a "$1" --argjson n "$2" \
		'[.sanctions[] | select(.address == $a)] | length == $n and all((.lifted.by // "") | startswith("manual"))' >/dev/null
}
# by_hand ADDRESS SECONDS: bravo's own sanction, not reported.
by_hand() { ctl sanction "$1" --for "$2" --local-only >/dev/null; }

# expel_alpha: bravo and charlie sign a treaty without alpha; bravo reloads it.
expel_alpha() {
	treaty_without "$SCRATCH/amended.json" alpha bravo charlie &&
	cp "$SCRATCH/amended.json" "$TREATY" && ctl reload | grep -q '2 sanctions lifted'
}

# attack ADDRESS: six failed passwords from ADDRESS in bravo's log.
attack() { sshd_failures "$SCRATCH/auth.log" bravo "$1" 6; }

check "a treaty of alpha, bravo and charlie" make_treaty alpha bravo charlie
if ! check "bravo's pactod and a nats-server start in a namespace" start_alliance_host; then
	exit 0
fi

sanction_locally() {
	ctl sanction 203.0.113.77 --for 15 --local-only >/dev/null &&
	ctl sanction 203.0.113.78 --for 60 --local-only >/dev/null
}
report_all() {
	alpha 1 203.0.113.77 --duration 3600 && alpha 2 203.0.113.78 --duration 3600 &&
	alpha 3 203.0.113.79 --duration 3600 && alpha 4 203.0.113.80 --duration 3600
}
stretched() {
	expires_within 203.0.113.77 3000 3600 && expires_within 203.0.113.78 3000 3600 &&
	in_set 203.0.113.79 && in_set 203.0.113.80
}
local_ends() { expires_within 203.0.113.77 1 15 && expires_within 203.0.113.78 40 60; }
alpha_lifts() { alpha 5 203.0.113.77 --lift && alpha 6 203.0.113.79 --lift; }
gone() { ! in_set "$1"; }
not_listed() { ! listed "$1"; }

check "bravo sanctions 203.0.113.77 for 15 s and 203.0.113.78 for 60 s, locally" sanction_locally
check "their elements expire within 15 s and 60 s" local_ends
check "alpha reports the two, and 203.0.113.79 and .80, for 3600 s" report_all
check "alpha's reports stretch both elements to about an hour; .79 and .80 are in force" wait_for 5 stretched

check "alpha lifts 203.0.113.77 and 203.0.113.79" alpha_lifts
check "the lift sets 203.0.113.77's element back to the local sanction's end (within 15 s), not alpha's" \
	wait_for 5 expires_within 203.0.113.77 1 15
check "and the local sanction is still listed" listed 203.0.113.77
check "203.0.113.79, alpha's alone, is dropped no more" wait_for 5 gone 203.0.113.79

check "203.0.113.77 leaves the kernel when its local sanction ends" wait_for 20 gone 203.0.113.77
check "and is listed no more" not_listed 203.0.113.77
attack 203.0.113.77
check "its failures count again: bravo sanctions it anew from its log" wait_sanctioned "$STATE" 203.0.113.77
check "and drops it" wait_for 5 in_set 203.0.113.77

# A shorter sanction of this host's own over a longer one in force.
check "alpha reports 203.0.113.81 for 3600 s" alpha 7 203.0.113.81 --duration 3600
check "its element expires in about an hour" wait_for 5 expires_within 203.0.113.81 3000 3600
check "bravo sanctions 203.0.113.81 for 60 s by hand" by_hand 203.0.113.81 60
check "the element still expires in about an hour (alpha's sanction is in force), not in 60 s" \
	expires_within 203.0.113.81 3000 3600
check "both sanctions of 203.0.113.81 are listed" rows 203.0.113.81 2
check "alpha lifts 203.0.113.81" alpha 8 203.0.113.81 --lift
check "the element goes back to bravo's 60 s" wait_for 5 expires_within 203.0.113.81 1 60
longer_then_shorter() { by_hand 203.0.113.82 3600 && by_hand 203.0.113.82 60; }
check "bravo sanctions 203.0.113.82 for 3600 s, then for 60 s, by hand" longer_then_shorter
check "the element keeps the longer end" expires_within 203.0.113.82 3000 3600

# pacto lift of an address both bravo and alpha sanction.
both_sanction() { by_hand 203.0.113.84 60 && alpha 9 203.0.113.84 --duration 3600; }
check "bravo sanctions 203.0.113.84 for 60 s by hand, alpha reports it for 3600 s" both_sanction
check "its element expires in about an hour" wait_for 5 expires_within 203.0.113.84 3000 3600
lift_both() { ctl lift 203.0.113.84 --json | jq -e '.lifted == 2' >/dev/null; }
check "pacto lift 203.0.113.84 lifts both sanctions" lift_both
check "the ledger records both as lifted by hand, alpha's too" lifted_by_hand 203.0.113.84 2
check "the element is removed (the ledger holds nothing for it)" gone 203.0.113.84
check "and nothing is listed for it" not_listed 203.0.113.84
attack 203.0.113.84
check "its failures count again: bravo sanctions it anew from its log" wait_sanctioned "$STATE" 203.0.113.84
check "for the rule's time, not up to alpha's lifted hour" wait_for 5 expires_within 203.0.113.84 1 2999

# A report after a lift by hand counts on its own.
check "alpha reports 203.0.113.85 for 3600 s" alpha 10 203.0.113.85 --duration 3600
check "it is dropped" wait_for 5 in_set 203.0.113.85
lift_85() { ctl lift 203.0.113.85 >/dev/null; }
check "pacto lift 203.0.113.85" lift_85
check "it is dropped no more" wait_for 5 gone 203.0.113.85
check "charlie reports 203.0.113.85 for 600 s" charlie 1 203.0.113.85 --duration 600
check "it is dropped again, for charlie's 600 s (alpha's vote went with the lift)" \
	wait_for 5 expires_within 203.0.113.85 1 600
check "and listed" listed 203.0.113.85

# After the engine check: a reload makes the engine anew from the ledger,
# which would hide an engine left at alpha's end. 203.0.113.78's local
# sanction still has about 40 s to run.
check "alpha is expelled: bravo reloads a treaty without it, 2 sanctions lifted" expel_alpha
check "the expulsion sets 203.0.113.78's element back to the local sanction's end (within 60 s)" \
	wait_for 5 expires_within 203.0.113.78 1 60
check "and the local sanction is still listed" listed 203.0.113.78
check "203.0.113.80, alpha's alone, is dropped no more" wait_for 5 gone 203.0.113.80

check "pactod still answers" sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE status >/dev/null"
check "no sanitizer report in pactod's log" no_sanitizer_report "$SCRATCH/pactod.log"
