#!/bin/sh
# test_nats_oversized.sh: pactod's memory when the alliance's stream was
# created by someone else without a message size limit and holds messages
# of 1 MB, which no member sends (a member's largest is 64 KiB): pactod
# warns at start about the stream, naming the command that sets the limit,
# drops each of them when received, unread, and logs them (1st, 2nd, 4th...),
# and its peak memory stays far below their total (it held up to 1024 of
# them: 213 MB measured in review). Dry run on the loopback, a nats-server
# of its own; natsprobe creates the stream and publishes with nats.c, as an
# operator with the nats CLI would.
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

N=64          # messages of 1 MB: a power of two, so the last is logged
STATE="$SCRATCH/state"
CONF="$SCRATCH/pacto.conf"
PORT=$("$BUILD/natsprobe" ports 1)
trap 'stop_dry_member; nats_stop; finish' EXIT
nats_start "" 127.0.0.1 "$PORT"
check "nats-server starts" nats_ready "" 127.0.0.1 "$PORT" 10
check "a stream without size limit, $N messages of 1 MB in it" \
	"$BUILD/natsprobe" fill -u "nats://127.0.0.1:$PORT" -a west -m mallory -n $N -s 1000000
check "a treaty of one member" make_treaty alpha
MPORT=$("$BUILD/natsprobe" ports 1)
printf 'journal: no\nrules: [%s]\nmetrics_listen: 127.0.0.1:%s\n' "$TOP/rules/sshd.yaml" "$MPORT" >"$CONF"
: >"$SCRATCH/auth.log"
start_dry_member "nats://127.0.0.1:$PORT"
check "the link becomes ready" wait_for 20 link_ready
check "pactod warns that the stream takes messages of any size, saying how to limit it" \
	grep -q "alliance west: stream PACTO_west takes messages of any size.*run: nats stream edit PACTO_west --max-msg-size=66048" \
	"$SCRATCH/pactod.log"
check "each message of 1 MB is dropped when received, the $N-th logged" \
	wait_for 60 grep -q "alliance west: message of 1000000 bytes from mallory (stream seq $N) dropped: over the 66048-byte limit ($N so far)" \
	"$SCRATCH/pactod.log"
check "pactod still answers, its link ready" link_ready
PEAK=$(peak_kb $PACTOD_PID)
echo "# pactod peak resident memory: $PEAK kB"
case "$BUILD" in
*-san) echo "ok - # SKIP peak memory under the sanitizers (their own allocator and quarantine)" ;;
*) check "pactod's peak memory stays under 40 MB (the $N MB were held at once)" [ "$PEAK" -lt 40000 ] ;;
esac
check "none of them is left to deliver, nor delivered and awaiting an ack (they were terminated)" \
	[ "$("$BUILD/natsprobe" pending -u "nats://127.0.0.1:$PORT" -a west -m alpha)" = "0 0" ]
# The drops are counted where an operator looks: pacto allies (JSON and
# text) and /metrics.
oversized_json() { ctl allies --json | jq -e --argjson n "$N" '.link.oversized == $n' >/dev/null; }
oversized_text() { ctl allies | grep -qx "messages over the stream's size limit dropped unread: $N"; }
oversized_metric() {
	curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" | grep -qx "pacto_alliance_oversized_messages_total $N"
}
check "pacto allies --json counts the $N dropped (link.oversized)" oversized_json
check "pacto allies says so" oversized_text
check "/metrics: pacto_alliance_oversized_messages_total $N" oversized_metric
