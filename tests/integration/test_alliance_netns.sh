# test_alliance_netns.sh: three allies, A (alpha), B (bravo) and C
# (charlie), each in its own network namespace with pactod (real nftables)
# and a TCP service, joined by a bridge to a nats-server with JetStream and
# to an aggressor's namespace. The aggressor attacks only A; its packets to
# B and C are dropped afterwards, and `pacto why` on B says A reported it.
# A's lift opens B and C again. B stopped during an attack catches up when
# it returns; nats-server stopped while A detects delivers A's report when
# it is back (A's outbox); alpha expelled by a new treaty: what rested only
# on its word is lifted on B. Addresses: 192.0.2.0/24, inside namespaces
# this script creates and removes.
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

LAN="pacto-lan-$$"
NATS_NS="$LAN"
ATT="pacto-aatt-$$"
PORT=2222
NATS_PORT=4222
NATS_URL="nats://192.0.2.254:$NATS_PORT"
PROBE="$BUILD/netprobe"
NATS_DOWN_S=${PACTO_NATS_DOWN_S:-30}

# Member names, their namespaces (member_ns) and addresses.
ip_of() { case $1 in alpha) echo 192.0.2.1 ;; bravo) echo 192.0.2.2 ;; charlie) echo 192.0.2.3 ;; esac; }

cleanup() {
	for m in alpha bravo charlie; do kill_namespace "$(member_ns $m)"; done
	kill_namespace "$ATT"
	kill_namespace "$LAN"
	finish
}
trap cleanup EXIT

# member_ctl MEMBER PACTO-ARGS...: pacto on MEMBER's pactod.
member_ctl() { m=$1; shift; in_netns "$(member_ns "$m")" "$BUILD/pacto" --state-dir "$SCRATCH/$m" "$@"; }
# reaches MEMBER [SOURCE]: the aggressor's connection to MEMBER's service works.
reaches() { in_netns "$ATT" "$PROBE" connect "$(ip_of "$1")" "$PORT" "${2:-}" 1000; }
dropped() { ! reaches "$@"; }

# setup_network: the LAN's bridge (nats-server's address), each member and
# the aggressor (four addresses) plugged into it.
setup_network() {
	lan_create "$LAN" 192.0.2.254 || return 1
	for m in alpha bravo charlie; do
		ip netns add "$(member_ns $m)" && lan_plug "$LAN" "$(member_ns $m)" "$(ip_of $m)" || return 1
	done
	ip netns add "$ATT" && lan_plug "$LAN" "$ATT" 192.0.2.66 192.0.2.67 192.0.2.68 192.0.2.69
}

# start_nats: the nats-server on the LAN's bridge, until it accepts.
start_nats() {
	nats_start "$NATS_NS" 192.0.2.254 "$NATS_PORT" && nats_ready "$NATS_NS" 192.0.2.254 "$NATS_PORT" 10
}

# signed_treaty: the three members' treaty, charlie protecting 198.51.100.0/24.
signed_treaty() {
	make_treaty alpha bravo "charlie --protect 198.51.100.0/24" && $PACTO treaty verify --treaty "$TREATY" >/dev/null
}

# start_member NAME: pactod in NAME's namespace, with its own copy of the treaty.
start_member() {
	m=$1
	[ -f "$SCRATCH/$m.treaty" ] || cp "$TREATY" "$SCRATCH/$m.treaty"
	touch "$SCRATCH/$m.log"
	# B also serves its metrics (test_metrics.sh tests the listener itself).
	metrics=
	[ "$m" = bravo ] && metrics="--metrics=127.0.0.1:9467"
	in_netns "$(member_ns "$m")" "$BUILD/pactod" --foreground --state-dir "$SCRATCH/$m" --watch "$SCRATCH/$m.log" \
		--treaty "$SCRATCH/$m.treaty" --key "$SCRATCH/$m.key" --nats "$NATS_URL" $metrics >>"$SCRATCH/$m.pactod.log" 2>&1 &
	for i in $(seq 50); do member_ctl "$m" status >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

stop_member() {
	for pid in $(ip netns pids "$(member_ns "$1")"); do
		[ "$(cat /proc/"$pid"/comm 2>/dev/null)" = pactod ] && kill "$pid" && while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	done
	return 0
}

# attack MEMBER ADDRESS: five failed passwords from ADDRESS in MEMBER's log.
attack() { sshd_failures "$SCRATCH/$1.log" "$1" "$2" 5; }

if ! setup_network; then
	not_ok "network namespaces could not be set up (root and iproute2 are required)"
	exit 0
fi
check "three members sign the treaty" signed_treaty
check "nats-server with JetStream starts in the LAN namespace" start_nats
for m in alpha bravo charlie; do
	in_netns "$(member_ns $m)" "$PROBE" listen "$PORT" 2>/dev/null &
	check "pactod $m starts in the alliance" start_member $m
done
check "pacto allies on B lists the three members, the link ready" \
	wait_for 10 sh -c "ip netns exec $(member_ns bravo) $BUILD/pacto --state-dir $SCRATCH/bravo allies --json | jq -e '(.members | length) == 3 and .link.ready' >/dev/null"
for m in alpha bravo charlie; do
	check "the aggressor reaches $m before anything happens" reaches $m
done

attack alpha 192.0.2.66
check "A sanctions 192.0.2.66 from its own log" wait_sanctioned "$SCRATCH/alpha" 192.0.2.66
check "B drops 192.0.2.66 on A's report" wait_for 5 dropped bravo
check "C drops 192.0.2.66 on A's report" wait_for 5 dropped charlie
check "the aggressor's other address still reaches B" reaches bravo 192.0.2.69
check "pacto why on B says alpha reported it" \
	sh -c "ip netns exec $(member_ns bravo) $BUILD/pacto --state-dir $SCRATCH/bravo why 192.0.2.66 --json | jq -e '[.history[] | select(.origin == \"ally:alpha\")] | length == 1' >/dev/null"
check "and lists alpha's report as applied" \
	sh -c "ip netns exec $(member_ns bravo) $BUILD/pacto --state-dir $SCRATCH/bravo why 192.0.2.66 | grep -q 'of alpha: sanction sshd for 600s: applied'"
ip netns exec "$(member_ns bravo)" curl -s --max-time 5 http://127.0.0.1:9467/metrics >"$SCRATCH/bravo.metrics"
# metric SAMPLE: its value in B's scrape.
metric() { awk -v s="$1" '$1 == s { print $2 }' "$SCRATCH/bravo.metrics"; }
check "B's metrics count the sanction under origin ally:alpha" [ "$(metric 'pacto_sanctions_total{scenario="sshd",origin="ally:alpha"}')" = 1 ]
check "B's propagation histogram has alpha's report, within 5 s" \
	sh -c "[ '$(metric pacto_propagation_seconds_count)' = 1 ] && [ '$(metric 'pacto_propagation_seconds_bucket{le="5"}')' = 1 ]"
check "B's metrics give alpha's lag and accepted reports, the link up" \
	sh -c "[ -n '$(metric 'pacto_ally_lag_seconds{member="alpha"}')' ] && [ '$(metric 'pacto_ally_reports_accepted_total{member="alpha"}')' = 1 ] && [ '$(metric pacto_alliance_link_up)' = 1 ]"
check "pacto allies on C counts alpha's report accepted" \
	sh -c "ip netns exec $(member_ns charlie) $BUILD/pacto --state-dir $SCRATCH/charlie allies --json | jq -e '.members[] | select(.id == \"alpha\") | .accepted == 1 and .last_seq == 1' >/dev/null"

check "A lifts 192.0.2.66 by hand" sh -c "ip netns exec $(member_ns alpha) $BUILD/pacto --state-dir $SCRATCH/alpha lift 192.0.2.66 >/dev/null"
check "A's lift reaches B: the aggressor gets through again" wait_for 5 reaches bravo
check "and C" wait_for 5 reaches charlie

# B is down while A is attacked; when B returns it catches up.
stop_member bravo
attack alpha 192.0.2.67
check "A sanctions 192.0.2.67 while B is down" wait_sanctioned "$SCRATCH/alpha" 192.0.2.67
check "C drops 192.0.2.67" wait_for 5 dropped charlie 192.0.2.67
check "B restarts" start_member bravo
check "B catches up on what it missed and drops 192.0.2.67" wait_for 10 dropped bravo 192.0.2.67

# nats-server down while A detects: A's outbox keeps the report.
nats_stop
attack alpha 192.0.2.68
check "A sanctions 192.0.2.68 with the broker down" wait_sanctioned "$SCRATCH/alpha" 192.0.2.68
check "A's outbox holds the report" \
	sh -c "ip netns exec $(member_ns alpha) $BUILD/pacto --state-dir $SCRATCH/alpha allies --json | jq -e '.outbox_pending >= 1' >/dev/null"
sleep "$NATS_DOWN_S"
check "B still lets 192.0.2.68 through: the report has not arrived" reaches bravo 192.0.2.68
check "nats-server restarts on the same store after ${NATS_DOWN_S}s" start_nats
check "A's outbox delivers: B drops 192.0.2.68" wait_for 15 dropped bravo 192.0.2.68
check "and C" wait_for 5 dropped charlie 192.0.2.68
check "A's outbox is empty again" wait_for 5 sh -c \
	"ip netns exec $(member_ns alpha) $BUILD/pacto --state-dir $SCRATCH/alpha allies --json | jq -e '.outbox_pending == 0' >/dev/null"

# Expulsion: bravo and charlie amend the treaty without alpha; on reload,
# what rested only on alpha's word is lifted.
amended() {
	treaty_without "$SCRATCH/amended.json" alpha bravo charlie &&
	$PACTO treaty verify --treaty "$SCRATCH/amended.json" >/dev/null
}
check "the treaty is amended without alpha and signed by the two left" amended
cp "$SCRATCH/amended.json" "$SCRATCH/bravo.treaty"
check "B reloads the amended treaty" sh -c "ip netns exec $(member_ns bravo) $BUILD/pacto --state-dir $SCRATCH/bravo reload | grep -q 'lifted'"
check "what only alpha reported is lifted on B: 192.0.2.67 gets through" wait_for 5 reaches bravo 192.0.2.67
check "the lift is recorded as an expulsion" \
	sh -c "ip netns exec $(member_ns bravo) $BUILD/pacto --state-dir $SCRATCH/bravo why 192.0.2.67 | grep -q 'left the alliance'"
check "C, not reloaded, still drops 192.0.2.67" dropped charlie 192.0.2.67
for m in alpha bravo charlie; do stop_member $m; done
nats_stop
check "every pactod stopped cleanly" no_sanitizer_report "$SCRATCH"/*.pactod.log
