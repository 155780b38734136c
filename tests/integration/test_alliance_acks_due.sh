# test_alliance_acks_due.sh: the broker acknowledges more of bravo's
# published batches than the 1,024 pactod once kept while its ledger
# refused every commit, and none is lost. bravo's outbox holds 34,000
# reports owed (one sanction, copied into its ledger while it is stopped,
# its link down: 1,063 batches of 32); its state directory is a 16 MiB tmpfs in a
# mount namespace of this test's own, which a file fills, and a read
# transaction of the script's own keeps SQLite's WAL from starting over
# (as test_alliance_ledger_full.sh), so every commit fails while the
# batches are published and acknowledged. Once space is back every report
# is marked acknowledged: none owed. Before, the acks of the oldest
# batches past 1,024 were dropped ("acknowledged, not marked in the
# ledger"): their reports stayed owed and were published again at the
# next start. In namespaces this script creates.
if [ -z "${PACTO_MNTNS:-}" ]; then
	PACTO_MNTNS=1 exec unshare --mount --propagation private sh "$0" "$@"
fi
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

REPORTS=34000

alliance_host acks

cleanup() {
	kill_namespace "$NS"
	umount "$STATE" 2>/dev/null
	finish
}
trap cleanup EXIT

outbox_pending() { ctl allies --json | jq '.outbox_pending'; }
link_acked() { ctl allies --json | jq '.link.acked'; }   # messages, of up to 32 reports
ledger_errors() { ctl status --json | jq '.ledger.errors'; }
fill() { dd if=/dev/zero of="$STATE/filler" bs=4k >/dev/null 2>&1; sync; }

start() {
	mkdir -p "$STATE" && mount -t tmpfs -o size=16m,mode=0750 pacto-test "$STATE" || return 1
	start_alliance_host
}

# stop_bravo: bravo's pactod stops (the server is down: its link stays
# down when pactod starts again, so nothing is published yet).
stop_bravo() {
	pid=$(host_pactod_pid)
	[ -n "$pid" ] && kill "$pid" || return 1
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

# owe_reports: bravo's own report of 10.70.0.1, then $REPORTS - 1 copies
# of it, owed in its outbox.
owe_reports() {
	sqlite3 "$STATE/ledger.db" "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < $REPORTS)
		INSERT INTO outbox (time_us, action, family, prefix, net, scenario, duration_s, attempts,
			first_seen_us, last_seen_us, lines)
		SELECT time_us, action, family, prefix, net, scenario, duration_s, attempts, first_seen_us,
			last_seen_us, lines FROM outbox, n WHERE seq = (SELECT min(seq) FROM outbox);
		SELECT count(*) FROM outbox WHERE acked_us IS NULL" | grep -qx "$REPORTS"
}

start_bravo() {
	in_ns "$BUILD/pactod" --foreground --state-dir "$STATE" --watch "$SCRATCH/auth.log" --treaty "$TREATY" \
		--key "$SCRATCH/bravo.key" --nats "$URL" >>"$SCRATCH/pactod.log" 2>&1 &
	wait_for 15 sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE allies --json >/dev/null"
}

check "a treaty of alpha and bravo" make_treaty alpha bravo
if ! check "bravo's pactod (state on a 16 MiB tmpfs) and a nats-server start in a namespace" start; then
	exit 0
fi
nats_stop
check "bravo's own sanction of 10.70.0.1 waits in the outbox (link down)" \
	sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE sanction 10.70.0.1 --for 1h >/dev/null &&
		[ \$(ip netns exec $NS $BUILD/pacto --state-dir $STATE allies --json | jq .outbox_pending) = 1 ]"
check "bravo's pactod stops" stop_bravo
check "$REPORTS reports owed in bravo's outbox" owe_reports
check "bravo's pactod starts, its link down" start_bravo
check "it owes them all ($(outbox_pending))" [ "$(outbox_pending)" = "$REPORTS" ]

hold_wal 25 "UPDATE outbox SET attempts = attempts + 1 WHERE seq IN (SELECT seq FROM outbox LIMIT 400);" \
	"UPDATE outbox SET attempts = attempts - 1 WHERE seq IN (SELECT seq FROM outbox LIMIT 400);"
sleep 1
fill
errors_before=$(ledger_errors)
nats_start "$NS" 127.0.0.1 4222
BATCHES=$(( (REPORTS + 31) / 32 ))
all_acked() { [ "$(link_acked)" -ge "$BATCHES" ]; }
wait_for 20 all_acked
check "the link back, the broker acknowledges every batch ($(link_acked) of $BATCHES)" all_acked
failed_more() { [ "$(ledger_errors)" -gt "$errors_before" ]; }
check "meanwhile the ledger refused commits ($(ledger_errors) errors)" failed_more
check "none marked yet ($(outbox_pending) owed)" [ "$(outbox_pending)" = "$REPORTS" ]
wait "$reader"
rm -f "$STATE/filler"
none_pending() { [ "$(outbox_pending)" = 0 ]; }
wait_for 20 none_pending
check "space back: every acknowledged report is marked ($(outbox_pending) owed)" none_pending
check "no ack was dropped" sh -c "! grep -q 'acknowledged, not marked in the ledger' $SCRATCH/pactod.log"
check "pactod's log holds no sanitizer report" no_sanitizer_report "$SCRATCH/pactod.log"
