#!/bin/sh
# test_alliance_republish.sh: a report whose publish fails while a later
# one is stored reaches the allies all the same. Two members in dry run on
# the loopback (no namespace, no firewall), one nats-server: natsprobe
# limits the stream's messages to LIMIT bytes, then alpha detects two
# attackers in one read of its log, each reported in a message of its own
# and both handed to the broker before either ack: the first, with long
# evidence lines, is over the limit and refused; the second, short, is
# stored and bravo applies it. The limit is then lifted: the first report,
# published again, must be applied by bravo too. Before, it went again
# under its old sequence number, below the second's, and bravo refused it
# as a replay: lost for the alliance. Then the same with a restart of alpha
# between the failed publish and its retry.
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

BIG=192.0.2.10      # reported with long evidence lines: refused by the stream
SMALL=192.0.2.20    # reported with short ones: stored
LIMIT=1400          # bytes: between the two messages (evidence lines of 250 bytes, of 90)
PORT=$("$BUILD/natsprobe" ports 1)
URL="nats://127.0.0.1:$PORT"
ALPHA_PID= BRAVO_PID=
cleanup() {
	for pid in $ALPHA_PID $BRAVO_PID; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
	nats_stop
	finish
}
trap cleanup EXIT

# member NAME: NAME's pactod in dry run, watching $SCRATCH/NAME.log, its
# state in $SCRATCH/NAME, its log $SCRATCH/NAME.pactod.log.
member() {
	mkdir -p "$SCRATCH/$1"
	: >"$SCRATCH/$1.log"
	"$BUILD/pactod" --foreground --dry-run --config "$CONF" --state-dir "$SCRATCH/$1" --watch "$SCRATCH/$1.log" \
		--treaty "$TREATY" --key "$SCRATCH/$1.key" --nats "$URL" >"$SCRATCH/$1.pactod.log" 2>&1 &
}
as() { STATE="$SCRATCH/$1"; }
not() { ! "$@"; }
# failures FILE ADDRESS USER: five failed passwords for USER from ADDRESS.
failures() {
	for i in 1 2 3 4 5; do
		echo "$(date -u '+%Y-%m-%dT%H:%M:%S.000000+00:00') alpha sshd[$((8000 + i))]: Failed password for $3 from $2 port $((41000 + i)) ssh2"
	done >>"$1"
}
alpha_stat() { as alpha; ctl allies --json | jq -e "$1" >/dev/null; }
# from_alpha JQ: bravo's view of alpha (pacto allies) satisfies JQ.
from_alpha() { as bravo; ctl allies --json | jq -e ".members[] | select(.id == \"alpha\") | $1" >/dev/null; }
applied() {
	as bravo
	ctl why "$1" --json | jq -e '.reports[] | select(.member == "alpha" and .verdict == "applied")' >/dev/null
}

CONF="$SCRATCH/pacto.conf"
printf 'journal: no\nrules: [%s]\n' "$TOP/rules/sshd.yaml" >"$CONF"
nats_start "" 127.0.0.1 "$PORT"
check "nats-server starts" nats_ready "" 127.0.0.1 "$PORT" 10
check "the stream takes messages of at most $LIMIT bytes" "$BUILD/natsprobe" limit -u "$URL" -a west -s $LIMIT
check "a treaty of alpha and bravo" make_treaty alpha bravo
member alpha
ALPHA_PID=$!
member bravo
BRAVO_PID=$!
as alpha
check "alpha's link is ready" wait_for 20 link_ready
as bravo
check "bravo's link is ready" wait_for 20 link_ready

# One append, one read: both sanctions are published in the same turn of
# alpha's loop, before it takes any ack.
LONGUSER=$(printf 'u%.0s' $(seq 200))
failures "$SCRATCH/burst" $BIG "$LONGUSER"
failures "$SCRATCH/burst" $SMALL root
cat "$SCRATCH/burst" >>"$SCRATCH/alpha.log"
check "alpha's publish of $BIG is refused by the stream" wait_for 15 alpha_stat '.link.failed >= 1'
check "bravo applies $SMALL, stored" wait_for 15 applied $SMALL
check "bravo has not got $BIG yet" not applied $BIG
check "the stream takes messages of 66048 bytes again" "$BUILD/natsprobe" limit -u "$URL" -a west -s 66048
check "bravo applies $BIG too (it was refused as a replay)" wait_for 20 applied $BIG
check "alpha's outbox is empty" wait_for 10 alpha_stat '.outbox_pending == 0'
check "bravo refused nothing of alpha's as a replay" from_alpha '(.refused.replay // 0) == 0'

# Again, but alpha stops before its retry succeeds (what it knew of the
# failed publish went with it), and starts again once the stream takes the
# message. At start, a report not acknowledged below an acknowledged one
# goes again above every number given: bravo takes it under a number above
# SMALL2's. Before, it went under its old number, below SMALL2's, which an
# ally refuses as a replay when that is more than its window below, or
# when it runs a pacto of before the window.
BIG2=192.0.2.11 SMALL2=192.0.2.21
highest() { as bravo; ctl why "$1" --json | jq '[.reports[] | select(.member == "alpha") | .seq] | max // 0'; }
failed_before=$(as alpha; ctl allies --json | jq '.link.failed')
check "the stream takes messages of at most $LIMIT bytes again" "$BUILD/natsprobe" limit -u "$URL" -a west -s $LIMIT
: >"$SCRATCH/burst"
failures "$SCRATCH/burst" $BIG2 "$LONGUSER"
failures "$SCRATCH/burst" $SMALL2 root
cat "$SCRATCH/burst" >>"$SCRATCH/alpha.log"
check "alpha's publish of $BIG2 is refused by the stream" wait_for 15 alpha_stat ".link.failed > $failed_before"
check "bravo applies $SMALL2, stored" wait_for 15 applied $SMALL2
kill "$ALPHA_PID" && wait "$ALPHA_PID"
ALPHA_PID=
mv "$SCRATCH/alpha.pactod.log" "$SCRATCH/alpha.pactod.log.1"
sleep 1   # bravo takes what alpha published last
small2=$(highest $SMALL2)
check "alpha stops with $BIG2 not published (bravo took $SMALL2 up to number $small2)" not applied $BIG2
check "the stream takes messages of 66048 bytes again" "$BUILD/natsprobe" limit -u "$URL" -a west -s 66048
member alpha
ALPHA_PID=$!
as alpha
check "alpha's link is ready again" wait_for 20 link_ready
check "bravo applies $BIG2" wait_for 20 applied $BIG2
check "under a number above $SMALL2's ($(highest $BIG2) > $small2)" [ "$(highest $BIG2)" -gt "$small2" ]
check "alpha's outbox is empty again" wait_for 10 alpha_stat '.outbox_pending == 0'
check "bravo refused nothing of alpha's as a replay" from_alpha '(.refused.replay // 0) == 0'
check "no sanitizer report" no_sanitizer_report "$SCRATCH/alpha.pactod.log.1" "$SCRATCH/alpha.pactod.log" \
	"$SCRATCH/bravo.pactod.log"
