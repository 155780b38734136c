# test_metrics.sh: pactod's HTTP listener (--metrics): Prometheus metrics
# that move with a real attack, the sanctions page's JSON with the evidence
# as data, and the listener's limits: GET only, no action reachable, Host
# guard (DNS rebinding), oversized requests refused, idle clients that do
# not stall the loop. pactod runs in a network namespace with real
# nftables; curl talks to it over that namespace's loopback.
. "$PACTO_TOP/tests/integration/lib.sh"

NS="pacto-met-$$"
STATE="$SCRATCH/state"
LOG="$SCRATCH/auth.log"
PORT=9467
URL="http://127.0.0.1:$PORT"

cleanup_metrics() {
	kill_namespace "$NS"
	finish
}
trap cleanup_metrics EXIT

in_ns() { ip netns exec "$NS" "$@"; }
ctl() { in_ns "$BUILD/pacto" --state-dir "$STATE" "$@"; }
get() { in_ns curl -s --max-time 5 "$@"; }
# code [CURL ARGS...] PATH: the HTTP status of a request.
code() { in_ns curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$@"; }
scrape() { get "$URL/metrics" >"$SCRATCH/metrics"; }
# value SAMPLE: the value of one sample (name with its labels, as written).
value() { awk -v s="$1" '$1 == s { print $2 }' "$SCRATCH/metrics"; }
is() { [ "$(value "$1")" = "$2" ]; }
jqf() { jq -e "$@" >/dev/null; }

start_pactod() {
	in_ns "$BUILD/pactod" --foreground --state-dir "$STATE" --watch "$LOG" --metrics "127.0.0.1:$PORT" \
		>>"$SCRATCH/pactod.log" 2>&1 &
	for i in $(seq 50); do ctl status >/dev/null 2>&1 && [ "$(code "$URL/metrics")" = 200 ] && return 0; sleep 0.1; done
	return 1
}

# Every sample's family has its HELP and TYPE lines (a histogram's
# _bucket, _sum and _count belong to the histogram).
families_declared() {
	awk '/^# TYPE / { type[$3] = $4; next } /^# HELP / { help[$3] = 1; next }
	     /^pacto_/ { n = $1; sub(/\{.*/, "", n); f = n; sub(/_(bucket|sum|count)$/, "", f)
			 if (!((n in type) || (f in type && type[f] == "histogram")) || !((n in help) || (f in help))) bad++; seen++ }
	     END { exit !(seen > 40 && !bad) }' "$SCRATCH/metrics"
}

# /api/why.json?address=%FF: refused (400) with the byte written \xff (an
# address that is not UTF-8 used to vanish from the request: "an address
# is needed").
why_of_a_byte() {
	[ "$(in_ns curl -s --max-time 5 -o "$SCRATCH/byte.json" -w '%{http_code}' "$URL/api/why.json?address=%FF")" = 400 ] &&
		jq -e --arg want "'\\xff' is not an address or prefix" '.ok == false and .error == $want' \
			"$SCRATCH/byte.json" >/dev/null
}

fail_lines() {
	for i in 1 2 3 4; do
		echo "$(date -u '+%Y-%m-%dT%H:%M:%S.%6N+00:00') def sshd[$((7000 + i))]: Failed password for root from $1 port $((40000 + i)) ssh2"
	done >>"$LOG"
	echo "$(date -u '+%Y-%m-%dT%H:%M:%S.%6N+00:00') def sshd[7005]: Failed password for invalid user <script>alert(1)</script> from $1 port 40005 ssh2" >>"$LOG"
}

if ! ip netns add "$NS" || ! in_ns ip link set lo up; then
	not_ok "a network namespace could not be set up (root and iproute2 are required)"
	exit 0
fi
: >"$LOG"
check "pactod starts with --metrics 127.0.0.1:$PORT" start_pactod
scrape
check "/metrics declares HELP and TYPE for every family" families_declared
check "before any attack: no line read, no sanction, no reaction" \
	sh -c "[ '$(value pacto_lines_read_total)' = 0 ] && [ '$(value pacto_reaction_seconds_count)' = 0 ] && ! grep -q '^pacto_sanctions_total{' $SCRATCH/metrics"
check "the ledger is empty and its size is given" sh -c "[ '$(value pacto_ledger_rows)' = 0 ] && [ '$(value pacto_ledger_bytes)' -gt 0 ]"

fail_lines 192.0.2.2
check "five failures sanction 192.0.2.2" wait_sanctioned "$STATE" 192.0.2.2
scrape
check "lines read and matched moved to 5" sh -c "[ '$(value pacto_lines_read_total)' = 5 ] && [ '$(value pacto_lines_matched_total)' = 5 ]"
check "pacto_sanctions_total{scenario=sshd,origin=local} is 1" is 'pacto_sanctions_total{scenario="sshd",origin="local"}' 1
# The ledger's rows are counted on a thread of pactod's own, within a second or so.
ledger_counted() { scrape && is pacto_sanctions_active "$1" && is pacto_ledger_rows "$2"; }
check "one sanction active, one ledger row" wait_for 10 ledger_counted 1 1
check "the reaction histogram counted it, in its +Inf bucket too" \
	sh -c "[ '$(value pacto_reaction_seconds_count)' = 1 ] && [ '$(value 'pacto_reaction_seconds_bucket{le="+Inf"}')' = 1 ]"
check "the line's file has its own line count" is "pacto_source_lines_total{source=\"$LOG\"}" 5
check "eviction counters are there (nothing evicted)" is 'pacto_evictions_total{table="sources"}' 0

ctl sanction 198.51.100.0/24 >/dev/null
scrape
check "a sanction by hand counts as origin=manual" is 'pacto_sanctions_total{scenario="manual",origin="manual"}' 1

# The page's JSON: the control commands' answers, evidence as data.
get "$URL/api/sanctions.json" >"$SCRATCH/sanctions.json"
check "/api/sanctions.json lists 192.0.2.2, local" \
	jqf '.ok and ([.result.sanctions[] | select(.address == "192.0.2.2" and .origin == "local")] | length == 1)' "$SCRATCH/sanctions.json"
get "$URL/api/why.json?address=192.0.2.2" >"$SCRATCH/why.json"
check "/api/why.json gives the five evidence lines, the <script> one as it was written" \
	jqf '(.result.history[0].evidence | length == 5) and (.result.history[0].evidence[4] | contains("invalid user <script>alert(1)</script> from 192.0.2.2"))' "$SCRATCH/why.json"
check "/api/why.json with a malformed address: 400, ok false" \
	sh -c "[ \"\$(ip netns exec $NS curl -s -o $SCRATCH/bad.json -w '%{http_code}' '$URL/api/why.json?address=192.0.2.2%3Cb%3E')\" = 400 ] && jq -e '.ok == false' $SCRATCH/bad.json >/dev/null"
check "/api/why.json with an address that is not UTF-8: 400, and it says why" why_of_a_byte
check "/api/allies.json without a treaty: alliance null" \
	sh -c "ip netns exec $NS curl -s $URL/api/allies.json | jq -e '.ok and .result.alliance == null' >/dev/null"
check "/api/status.json is pacto status" sh -c "ip netns exec $NS curl -s $URL/api/status.json | jq -e '.result.engine.lines == 5' >/dev/null"

# Read-only: no method but GET, no command that acts.
check "POST /metrics is refused (405)" [ "$(code -X POST -d x "$URL/metrics")" = 405 ]
check "DELETE / is refused (405)" [ "$(code -X DELETE "$URL/")" = 405 ]
check "/api/lift.json does not exist (404)" [ "$(code "$URL/api/lift.json?address=192.0.2.2")" = 404 ]
check "/api/sanction.json does not exist (404)" [ "$(code "$URL/api/sanction.json?address=192.0.2.9")" = 404 ]
check "and 192.0.2.2 is still sanctioned" wait_sanctioned "$STATE" 192.0.2.2

# DNS rebinding: a page fetched under a foreign host name is refused.
check "the page under Host: evil.example is refused (403)" [ "$(code -H 'Host: evil.example:9467' "$URL/")" = 403 ]
check "the JSON under Host: evil.example is refused (403)" [ "$(code -H 'Host: evil.example' "$URL/api/why.json?address=192.0.2.2")" = 403 ]
check "under Host: localhost it is served" [ "$(code -H "Host: localhost:$PORT" "$URL/")" = 200 ]
check "/metrics is served whatever the Host (scrapers use names)" [ "$(code -H 'Host: metrics.example' "$URL/metrics")" = 200 ]

# The page: self-contained, its own script only.
in_ns curl -s -D "$SCRATCH/headers" -o "$SCRATCH/page.html" "$URL/"
check "the page's policy runs only its own script (by hash), loads from nowhere else" \
	sh -c "grep -i '^content-security-policy:' $SCRATCH/headers | grep \"default-src 'none'; script-src 'sha256-\" | grep -q \"connect-src 'self'\" && ! grep -qi 'unsafe' $SCRATCH/headers"
check "the page names no URL but the SVG namespace" \
	sh -c "! grep -o 'https\?://[^\"]*' $SCRATCH/page.html | grep -qv '^http://www.w3.org/2000/svg$'"

# Limits: a request larger than the per-connection memory is refused, and
# idle connections up to the limit do not stall the loop.
big=$(head -c 40000 /dev/zero | tr '\0' a)
check "a 40 KB header is refused" sh -c "[ \"\$(ip netns exec $NS curl -s -o /dev/null -w '%{http_code}' -H 'X-Big: $big' $URL/metrics)\" != 200 ]"
in_ns sh -c "exec 3<>/dev/tcp/127.0.0.1/$PORT 4<>/dev/tcp/127.0.0.1/$PORT 5<>/dev/tcp/127.0.0.1/$PORT 6<>/dev/tcp/127.0.0.1/$PORT 7<>/dev/tcp/127.0.0.1/$PORT; printf 'GET /metr' >&3; sleep 3" 2>/dev/null &
IDLE=$!
sleep 0.3
check "with idle and half-sent requests open, pacto status answers" sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE status >/dev/null"
fail_lines 192.0.2.3
check "and a new attack is sanctioned" wait_sanctioned "$STATE" 192.0.2.3
check "and /metrics answers" [ "$(code "$URL/metrics")" = 200 ]
kill "$IDLE" 2>/dev/null
wait "$IDLE" 2>/dev/null

scrape
check "pacto_http_requests_total counts the refusals" sh -c "[ '$(value 'pacto_http_requests_total{code="405"}')' = 2 ] && [ '$(value 'pacto_http_requests_total{code="403"}')' = 2 ]"

# A second pactod cannot take the same port: it says so and stops.
check "a second pactod on the same port refuses to start, saying why" \
	sh -c "! ip netns exec $NS $BUILD/pactod --foreground --state-dir $SCRATCH/other --watch $LOG --metrics 127.0.0.1:$PORT >$SCRATCH/second.log 2>&1; grep -q 'cannot listen on 127.0.0.1:$PORT' $SCRATCH/second.log"
check "--metrics with a host name is refused" \
	sh -c "! ip netns exec $NS $BUILD/pactod --foreground --state-dir $SCRATCH/other --watch $LOG --metrics localhost:$PORT >$SCRATCH/third.log 2>&1; grep -q 'not ADDR:PORT' $SCRATCH/third.log"
