# test_sanctions_page.sh: pactod's sanctions page in Debian's headless
# Chromium. Two members of an alliance (alpha, bravo) and a nats-server run
# in one network namespace with real nftables; alpha serves the page. An
# aggressor's failures (one with a <script> in the user name) sanction it on
# alpha, bravo reports another address, and a sanction by hand carries an
# <img onerror> in its reason. The page must show each sanction with its
# origin, the evidence as text (no markup from logs runs or renders),
# bravo in the allies, a timeline, and make no request beyond its own
# listener. A screenshot is saved (scratch dir, BUILD/sanctions-page.png,
# and PACTO_SCREENSHOT when set: scripts/test-browser --docs).
# Run by scripts/test-browser (Chromium is big: not part of make check).
. "$PACTO_TOP/tests/integration/lib.sh"

NS="pacto-page-$$"
PORT=9467
PAGE="http://127.0.0.1:$PORT/"
TREATY="$SCRATCH/treaty.json"
CHROMIUM=${CHROMIUM:-chromium}

cleanup_page() {
	kill_namespace "$NS"
	finish
}
trap cleanup_page EXIT

in_ns() { ip netns exec "$NS" "$@"; }
ctl() { m=$1; shift; in_ns "$BUILD/pacto" --state-dir "$SCRATCH/$m" "$@"; }

make_treaty() {
	for m in alpha bravo; do
		$PACTO keygen --out "$SCRATCH/$m.key" >"$SCRATCH/$m.pub" 2>/dev/null || return 1
	done
	$PACTO treaty init --treaty "$TREATY" --name west >/dev/null &&
	$PACTO treaty add-member --treaty "$TREATY" --id alpha --key "$(cat "$SCRATCH/alpha.pub")" >/dev/null &&
	$PACTO treaty add-member --treaty "$TREATY" --id bravo --key "$(cat "$SCRATCH/bravo.pub")" >/dev/null &&
	$PACTO treaty sign --treaty "$TREATY" --key "$SCRATCH/alpha.key" >/dev/null &&
	$PACTO treaty sign --treaty "$TREATY" --key "$SCRATCH/bravo.key" >/dev/null
}

# start MEMBER [ARGS...]: pactod for MEMBER, its log in the scratch dir.
start() {
	m=$1
	shift
	: >"$SCRATCH/$m.log"
	in_ns "$BUILD/pactod" --foreground --state-dir "$SCRATCH/$m" --watch "$SCRATCH/$m.log" --treaty "$TREATY" \
		--key "$SCRATCH/$m.key" --nats nats://127.0.0.1:4222 "$@" >>"$SCRATCH/$m.pactod.log" 2>&1 &
	for i in $(seq 100); do
		ctl "$m" allies --json 2>/dev/null | jq -e '.link.ready' >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# The lines of a password-guessing aggressor, as rsyslog writes them.
attack() {
	for i in 1 2 3 4; do
		echo "$(date -u '+%Y-%m-%dT%H:%M:%S.%6N+00:00') alpha sshd[$((7000 + i))]: Failed password for root from $1 port $((40000 + i)) ssh2"
	done >>"$SCRATCH/alpha.log"
	echo "$(date -u '+%Y-%m-%dT%H:%M:%S.%6N+00:00') alpha sshd[7005]: Failed password for invalid user <script>document.title='pwned'</script> from $1 port 40005 ssh2" >>"$SCRATCH/alpha.log"
}

# browse ARGS...: headless Chromium on the page in the namespace (its
# loopback is pactod's); the fetches finish within the virtual time.
browse() {
	in_ns "$CHROMIUM" --headless --disable-gpu --no-sandbox --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$SCRATCH/chromium" \
		--virtual-time-budget=4000 --window-size=1280,1000 "$@" 2>>"$SCRATCH/chromium.log"
}

if ! ip netns add "$NS" || ! in_ns ip link set lo up; then
	not_ok "a network namespace could not be set up (root and iproute2 are required)"
	exit 0
fi
check "two members sign the treaty" make_treaty
in_ns nats-server -js -sd "$SCRATCH/nats" -a 127.0.0.1 -p 4222 >>"$SCRATCH/nats.log" 2>&1 &
check "alpha starts, serving its page on 127.0.0.1:$PORT" start alpha --metrics "127.0.0.1:$PORT"
check "bravo starts" start bravo

attack 192.0.2.2
check "alpha sanctions 192.0.2.2 from its log" wait_sanctioned "$SCRATCH/alpha" 192.0.2.2
ctl bravo sanction 203.0.113.7 --reason "port scan" >/dev/null
check "bravo's report of 203.0.113.7 is applied on alpha" wait_sanctioned "$SCRATCH/alpha" 203.0.113.7
ctl alpha sanction 198.51.100.9 --local-only --reason "<img src=x onerror=\"document.title='pwned'\">" >/dev/null
check "a sanction by hand on alpha" wait_sanctioned "$SCRATCH/alpha" 198.51.100.9

URL="$PAGE#why=192.0.2.2,198.51.100.9"
browse --log-net-log="$SCRATCH/netlog.json" --dump-dom "$URL" >"$SCRATCH/dom.html"
dom() { grep -q "$1" "$SCRATCH/dom.html"; }
# row ADDRESS ORIGIN: the sanctions table has a row of ADDRESS with ORIGIN.
row() { grep -o "<tr><td class=\"addr\">$1</td>.*" "$SCRATCH/dom.html" | head -c 400 | grep -q "badge [a-z]*\">$2</span>"; }

check "Chromium loaded the page and its script ran to the end" dom 'data-loaded="yes"'
check "the page shows 192.0.2.2, detected here (local)" row 192.0.2.2 local
check "the page shows 203.0.113.7 on bravo's word (ally:bravo)" row 203.0.113.7 ally:bravo
check "the page shows 198.51.100.9, by hand" row 198.51.100.9 "manual (uid 0)"
check "192.0.2.2's evidence is shown: its five log lines" \
	[ "$(grep -o 'Failed password for [^<]* from 192.0.2.2 port 4000[1-5]' "$SCRATCH/dom.html" | sort -u | wc -l)" -eq 5 ]
check "the <script> from the log is shown as text" \
	dom "invalid user &lt;script&gt;document.title='pwned'&lt;/script&gt; from 192.0.2.2 port 40005"
check "and did not run: the page's script is the only one, the title unchanged" \
	sh -c "[ \"\$(grep -o '<script' $SCRATCH/dom.html | wc -l)\" -eq 1 ] && grep -q '<title>pacto: sanctions</title>' $SCRATCH/dom.html"
check "the <img onerror> reason is shown as text, no image made" \
	sh -c "grep -q 'reason: &lt;img src=x onerror=\"document.title=.pwned.\"&gt;' $SCRATCH/dom.html && ! grep -q '<img' $SCRATCH/dom.html"
check "the allies table shows bravo: weight 1, its last report, lag, 1 accepted" \
	dom '<tr><td class="mono">bravo</td><td>1</td><td>[0-9: -]*Z</td><td>[0-9]* ms</td><td>1</td><td>none</td></tr>'
check "the alliance line says the link is ready" dom 'Alliance west (treaty v[0-9]*), this host: alpha, quorum [0-9]*; link ready'
check "the timeline draws bars for the sanctions" \
	[ "$(grep -o '<svg id="timeline".*</svg>' "$SCRATCH/dom.html" | grep -o '<rect ' | wc -l)" -ge 2 ]

# Every request the page made went to its own listener. Chromium's own
# background checks (no page as initiator) are not the page's doing.
jq -r --arg o "http://127.0.0.1:$PORT" '.events[] | select(.params.initiator? == $o) | .params.url' \
	"$SCRATCH/netlog.json" 2>/dev/null | sort -u >"$SCRATCH/requests"
check "the page made its requests (status, sanctions, allies, why)" [ "$(wc -l <"$SCRATCH/requests")" -ge 4 ]
check "every request the page made stayed on its listener" sh -c "! grep -v '^http://127.0.0.1:$PORT/' $SCRATCH/requests"
check "no request of the page's origin went anywhere else" \
	sh -c "! jq -r '.events[] | .params.initiator? // empty' $SCRATCH/netlog.json | sort -u | grep -v -e '^not an origin\$' -e '^http://127.0.0.1:$PORT\$' | grep -q ."

browse --screenshot="$SCRATCH/sanctions-page.png" "$PAGE#why=192.0.2.2" >/dev/null
check "a screenshot of the page is saved" sh -c "[ \"\$(head -c 4 $SCRATCH/sanctions-page.png | od -An -c | tr -d ' ')\" = '211PNG' ] && [ \$(wc -c <$SCRATCH/sanctions-page.png) -gt 20000 ]"
cp "$SCRATCH/sanctions-page.png" "$BUILD/sanctions-page.png" 2>/dev/null
[ -n "${PACTO_SCREENSHOT:-}" ] && cp "$SCRATCH/sanctions-page.png" "$PACTO_SCREENSHOT"
exit 0
