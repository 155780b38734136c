# test_ledger_retention.sh: pactod prunes its ledger at start (pacto.conf
# ledger_retention, ledger_max_refusals), in dry-run mode (no firewall, no
# namespace). The ledger is filled by hand (sqlite3) with rows a month old:
# an ended sanction with its evidence (goes), a sanction made a month ago
# and still in force for a day with its evidence and a report about it
# (stays: `pacto why` still explains it), old refusals (go) and more recent
# refusals than the cap (the oldest go). One log line says what was pruned;
# a second start, with nothing left to prune, says nothing; the metrics
# (on loopback) count the rows. Addresses: 192.0.2.0/24, 198.51.100.0/24
# (ledger rows only).
. "$PACTO_TOP/tests/integration/lib.sh"

STATE="$SCRATCH/state"
LOG="$SCRATCH/auth.log"
CONF="$SCRATCH/pacto.conf"
DB="$STATE/ledger.db"
trap 'stop_pactod; finish' EXIT

ctl() { "$PACTO" --state-dir "$STATE" "$@"; }
count() { sqlite3 "$DB" "SELECT count(*) FROM $1"; }

: >"$LOG"
PORT=$((20000 + $$ % 20000))
printf 'journal: no\nledger_retention: 7d\nledger_max_refusals: 100\nmetrics_listen: 127.0.0.1:%s\n' "$PORT" >"$CONF"
check "pactod starts and stops, leaving a new ledger" start_dry_pactod
stop_pactod
[ -f "$DB" ] || { not_ok "no ledger at $DB"; exit 0; }

now=$(($(date +%s) * 1000000))
day=86400000000
sanction() {   # sanction ID NET_HEX CREATED EXPIRES
	echo "INSERT INTO sanction (id, family, prefix, net, scenario, origin, reason, attempts, first_seen_us,
	      last_seen_us, created_us, expires_us, offence) VALUES ($1, 4, 32, X'$2', 'sshd', 'local', '5 failures',
	      5, $3, $3, $3, $4, 1);
	      INSERT INTO evidence VALUES ($1, 0, CAST('Failed password for root from a month ago' AS BLOB), 41);
	      INSERT INTO evidence VALUES ($1, 1, CAST('Failed password for admin from a month ago' AS BLOB), 42);"
}
report() {   # report RECEIVED NET_HEX VERDICT
	echo "INSERT INTO report_in (received_us, member, seq, time_us, action, family, prefix, net, scenario,
	      duration_s, verdict, reason) VALUES ($1, 'bravo', 1, $1, 1, 4, 32, X'$2', 'sshd', 600, '$3', '');"
}
{
	echo "BEGIN; INSERT OR IGNORE INTO prefix_len VALUES (4, 32);"
	sanction 1 c0000201000000000000000000000000 $((now - 30 * day)) $((now - 29 * day))
	sanction 2 c0000202000000000000000000000000 $((now - 30 * day)) $((now + day))
	report $((now - 30 * day)) c0000202000000000000000000000000 pending
	for i in $(seq 300); do report $((now - 20 * day + i)) c6336401000000000000000000000000 refused; done
	for i in $(seq 250); do report $((now - 3600000000 + i)) c6336402000000000000000000000000 refused; done
	echo "COMMIT;"
} >"$SCRATCH/fill.sql"
check "a month of rows written by hand" sqlite3 "$DB" ".read $SCRATCH/fill.sql"

check "pactod starts on the filled ledger" start_dry_pactod
check "one line says what the pass pruned" wait_for 5 grep -q \
	'ledger: pruned 453 rows: 300 reports received, 150 refusals past the cap, 0 outbox reports, 1 sanctions with 2 evidence lines and 0 supports' \
	"$SCRATCH/pactod.log"
check "the ended sanction and its evidence are gone" \
	test "$(count sanction) $(count evidence)" = "1 2"
check "the sanction in force made a month ago is still in force" \
	sh -c "'$BUILD/pacto' --state-dir '$STATE' sanctions --json | jq -e '.sanctions[] | select(.address == \"192.0.2.2\")' >/dev/null"
check "pacto why still shows its evidence" sh -c "'$BUILD/pacto' --state-dir '$STATE' why 192.0.2.2 | grep -q 'Failed password for admin from a month ago'"
check "the report about it stays, the old refusals went" \
	test "$(sqlite3 "$DB" "SELECT verdict, count(*) FROM report_in GROUP BY verdict ORDER BY verdict" | tr '\n' ' ')" = \
	"pending|1 refused|100 "
check "the refusals kept are the newest" \
	test "$(sqlite3 "$DB" "SELECT min(id) FROM report_in WHERE verdict = 'refused'")" = \
	"$(sqlite3 "$DB" "SELECT id FROM report_in WHERE verdict = 'refused' ORDER BY id DESC LIMIT 1 OFFSET 99")"
check "the metrics count the rows pruned" sh -c "curl -s --max-time 5 http://127.0.0.1:$PORT/metrics |
	grep -qx 'pacto_ledger_pruned_rows_total 453'"
check "pactod answers after the pass: pacto status" sh -c "'$BUILD/pacto' --state-dir '$STATE' status >/dev/null"
stop_pactod

check "a second start prunes nothing" start_dry_pactod
sleep 1
stop_pactod
check "and logs no second 'pruned' line" test "$(grep -c 'ledger: pruned' "$SCRATCH/pactod.log")" = 1
check "no prune error was logged" sh -c "! grep -q 'prune:' '$SCRATCH/pactod.log'"
