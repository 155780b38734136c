# test_restore_netns.sh: pactod's cold start puts the ledger's active
# sanctions back: into nftables (counted in the kernel's set) and into the
# engine (an address restored is not sanctioned again by its new failures),
# over several chunks of the two-thread restore (src/daemon/restore.c);
# expired and lifted sanctions stay out, and an address the firewall must
# refuse (loopback, written into the ledger by hand) is skipped and named.
# pactod runs in a network namespace of its own; the ledger holds 20,000
# sanctions of 20.0.0.0 upward from build/ledger_fill.
. "$PACTO_TOP/tests/integration/lib.sh"

NS="pacto-restore-$$"
STATE="$SCRATCH/state"
LOG="$SCRATCH/auth.log"
N=20000
trap 'kill_namespace "$NS"; finish' EXIT

ctl() { "$BUILD/pacto" --state-dir "$STATE" "$@"; }
in_ns() { ip netns exec "$NS" "$@"; }
elements() { in_ns nft -j list set inet pacto v4 | jq '[.nftables[] | select(.set) | .set.elem // [] | length] | add'; }
# fail_lines ADDRESS N: N failed passwords from ADDRESS, as rsyslog writes them.
fail_lines() {
	for i in $(seq "$2"); do
		echo "$(date -u '+%Y-%m-%dT%H:%M:%S.000000+00:00') host sshd[$((7000 + i))]: Failed password for root from $1 port $((40000 + i)) ssh2"
	done >>"$LOG"
}

mkdir -p "$STATE"
: >"$LOG"
if ! ip netns add "$NS" || ! in_ns ip link set lo up; then
	not_ok "a network namespace could not be made (root and iproute2 are required)"
	exit 0
fi
check "ledger_fill writes $N active sanctions" sh -c "'$BUILD/ledger_fill' '$STATE/ledger.db' $N >/dev/null"
# By hand: loopback (the firewall refuses it), one expired, one lifted.
now=$(($(date +%s) * 1000000))
row() { echo "INSERT INTO sanction (family, prefix, net, scenario, origin, reason, attempts, first_seen_us,
	last_seen_us, created_us, expires_us, offence, lifted_us, lifted_by) VALUES (4, 32, X'$1', 'sshd', 'local',
	'', 5, $now, $now, $now, $2, 1, $3, $4);"; }
check "three more rows by hand: loopback, expired, lifted" sqlite3 "$STATE/ledger.db" \
	"$(row 7f000001000000000000000000000000 $((now + 3600000000)) NULL NULL)
	 $(row c6336401000000000000000000000000 $((now - 1000000)) NULL NULL)
	 $(row c6336402000000000000000000000000 $((now + 3600000000)) $now "'operator'")"

in_ns "$BUILD/pactod" --foreground --state-dir "$STATE" --watch "$LOG" >"$SCRATCH/pactod.log" 2>&1 &
ready() { ctl status >/dev/null; }
check "pactod starts on the ledger" wait_for 60 ready
check "it says $N were restored, some skipped" grep -q "firewall: $N sanctions restored from the ledger (some skipped)" "$SCRATCH/pactod.log"
check "and names the loopback address it refused" grep -q "restore: 127\.0\.0\.1.* refused: reserved network" "$SCRATCH/pactod.log"
got=$(elements)
check "the kernel's set holds exactly the $N ($got)" [ "$got" = "$N" ]
check "not the expired nor the lifted one" sh -c "! ip netns exec $NS nft list set inet pacto v4 | grep -qE '198\.51\.100\.[12]\b'"

fail_lines 20.0.50.5 6
fail_lines 198.51.100.9 5
check "a new attacker is sanctioned: its lines are read" wait_for 10 sh -c "[ \$($BUILD/pacto --state-dir $STATE status --json | jq .engine.sanctions) -eq 1 ]"
check "a restored one is not sanctioned again: the engine knows it" \
	sh -c "[ \"\$($BUILD/pacto --state-dir $STATE status --json | jq -c '[.engine.lines, .engine.sanctions]')\" = '[11,1]' ]"
