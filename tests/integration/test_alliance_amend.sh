# test_alliance_amend.sh: a treaty amendment re-checks the allies'
# sanctions in force. bravo runs pactod with real nftables in its own
# network namespace, with a nats-server on that namespace's loopback;
# allyprobe publishes as alpha, charlie and delta (quorum 1, each report
# for 3600 s). Then one amendment: echo joins protecting 203.0.113.8/29,
# widest_v4 28, max_duration 10m, charlie's key replaced, delta removed;
# bravo reloads it:
#  - 203.0.113.10 (alpha): now protected by echo: lifted;
#  - 198.51.100.0/24 (alpha): wider than widest_v4 28: lifted;
#  - 203.0.113.20 (alpha): cut to 600 s from its report;
#  - 203.0.113.21 (alpha, 300 s): shorter than the new max: as it was;
#  - 203.0.113.30 (charlie's old key): lifted;
#  - 203.0.113.40 (delta): its reporter left: lifted;
#  - 203.0.113.50: bravo's own for 3600 s: not an ally's, as it was.
# Each lift and cut names the amendment in the ledger (pacto why), the
# kernel follows, one summary line is logged, and charlie's new key is
# taken. Before the fix only delta's sanction was lifted.
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

NS="pacto-amend-$$"
URL=nats://127.0.0.1:4222
STATE="$SCRATCH/bravo"

cleanup() {
	kill_namespace "$NS"
	finish
}
trap cleanup EXIT

in_ns() { ip netns exec "$NS" "$@"; }
ctl() { in_ns "$BUILD/pacto" --state-dir "$STATE" "$@"; }
# report MEMBER KEY SEQ ADDRESS [ARGS...]: one report of MEMBER's, signed by KEY.
report() {
	member=$1 key=$2 seq=$3 addr=$4
	shift 4
	in_ns "$BUILD/allyprobe" --nats "$URL" --alliance west --member "$member" --key "$SCRATCH/$key" \
		--version "$(jq '.treaty.version' "$TREATY")" --seq "$seq" --address "$addr" "$@" >/dev/null
}
# in_set ADDRESS[/PREFIX]: in the kernel, in set v4 (an address) or v4_PREFIX.
in_set() {
	case $1 in
	*/*) in_ns nft get element inet pacto "v4_${1#*/}" "{ ${1%/*} }" >/dev/null 2>&1 ;;
	*) in_ns nft get element inet pacto v4 "{ $1 }" >/dev/null 2>&1 ;;
	esac
}
gone() { ! in_set "$1"; }
# lifted_by ADDRESS TEXT: its ally sanction is lifted, the lift's words contain TEXT.
lifted_by() {
	ctl why "$1" --json | jq -e --arg t "$2" \
		'[.history[] | select(.origin | startswith("ally:"))] | length == 1 and (.[0].lifted.by // "" | contains($t))' \
		>/dev/null
}
# cut_in_ledger ADDRESS TEXT LOW HIGH: in force, its reason contains TEXT,
# LOW <= remaining_s <= HIGH.
cut_in_ledger() {
	ctl sanctions --json | jq -e --arg a "$1" --arg t "$2" --argjson lo "$3" --argjson hi "$4" \
		'[.sanctions[] | select(.address == $a)] | length == 1 and (.[0].reason | contains($t)) and
		 .[0].remaining_s >= $lo and .[0].remaining_s <= $hi' >/dev/null
}
listed() { ctl sanctions --json | jq -e --arg a "$1" '[.sanctions[].address] | index($a) != null' >/dev/null; }

# amend: the amendment, signed by alpha, bravo, charlie's new key and echo.
amend() {
	A="$SCRATCH/amended.json"
	cp "$TREATY" "$A" &&
	$PACTO treaty add-member --treaty "$A" --id echo --key "$(cat "$SCRATCH/echo.pub")" \
		--protect 203.0.113.8/29 >/dev/null &&
	$PACTO treaty set --treaty "$A" widest_v4 28 >/dev/null &&
	$PACTO treaty set --treaty "$A" max_duration 10m >/dev/null &&
	$PACTO treaty set-key --treaty "$A" --id charlie --key "$(cat "$SCRATCH/charlie2.pub")" >/dev/null &&
	$PACTO treaty remove-member --treaty "$A" --id delta >/dev/null || return 1
	for m in alpha bravo charlie2 echo; do
		$PACTO treaty sign --treaty "$A" --key "$SCRATCH/$m.key" >/dev/null || return 1
	done
	cp "$A" "$TREATY"
}

start() {
	ip netns add "$NS" && in_ns ip link set lo up || return 1
	in_ns nats-server -js -sd "$SCRATCH/nats" -a 127.0.0.1 -p 4222 >>"$SCRATCH/nats.log" 2>&1 &
	in_ns "$BUILD/pactod" --foreground --state-dir "$STATE" --watch "$SCRATCH/auth.log" --treaty "$TREATY" \
		--key "$SCRATCH/bravo.key" --nats "$URL" >>"$SCRATCH/pactod.log" 2>&1 &
	for i in $(seq 100); do
		ctl allies --json 2>/dev/null | jq -e '.link.ready' >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

touch "$SCRATCH/auth.log"
check "a treaty of alpha, bravo, charlie and delta" make_treaty alpha bravo charlie delta
check "keys for echo and charlie's next" make_keys echo charlie2
if ! check "bravo's pactod and a nats-server start in a namespace" start; then
	exit 0
fi

report alpha alpha.key 1 203.0.113.10 --duration 3600
report alpha alpha.key 2 198.51.100.0/24 --duration 3600
report alpha alpha.key 3 203.0.113.20 --duration 3600
report alpha alpha.key 4 203.0.113.21 --duration 300
report charlie charlie.key 1 203.0.113.30 --duration 3600
report delta delta.key 1 203.0.113.40 --duration 3600
ctl sanction 203.0.113.50 --for 3600 --local-only >/dev/null
all_in() {
	for e in 203.0.113.10 198.51.100.0/24 203.0.113.20 203.0.113.21 203.0.113.30 203.0.113.40 203.0.113.50; do
		in_set "$e" || return 1
	done
}
check "the allies' six sanctions and bravo's own are in the kernel" wait_for 10 all_in

check "the amendment: echo protects 203.0.113.8/29, widest_v4 28, max 10m, charlie's new key, delta out" amend
V=$(jq .treaty.version "$TREATY")
ctl reload >"$SCRATCH/reload.out" 2>&1
check "reload says 4 lifted, 1 shortened, of 6 re-checked" \
	grep -q "treaty version $V taken, 4 sanctions lifted, 1 shortened (6 allies' sanctions in force re-checked)" \
	"$SCRATCH/reload.out"
check "pactod logs the counts" grep -q "4 sanctions lifted, 1 shortened" "$SCRATCH/pactod.log"

check "203.0.113.10, newly protected: out of the kernel" wait_for 5 gone 203.0.113.10
check "pacto why 203.0.113.10: lifted, protected by echo" lifted_by 203.0.113.10 "treaty version $V: protected by echo"
check "198.51.100.0/24, wider than widest_v4 28: out of the kernel" wait_for 5 gone 198.51.100.0/24
check "pacto why 198.51.100.0/24: lifted, wider than widest_v4 28" lifted_by 198.51.100.0/24 "widest_v4 28"
check "203.0.113.20: cut to 600 s in the kernel" expires_within 203.0.113.20 570 600
check "203.0.113.20: cut in the ledger, the reason names max_duration_s" \
	cut_in_ledger 203.0.113.20 "cut short, treaty version $V: max_duration_s 600" 570 600
check "203.0.113.21 (300 s): as it was" expires_within 203.0.113.21 250 300
check "203.0.113.30, charlie's old key: out of the kernel" wait_for 5 gone 203.0.113.30
check "pacto why 203.0.113.30: lifted, a reporter's key was replaced" lifted_by 203.0.113.30 "key was replaced"
check "203.0.113.40, delta's: out of the kernel" wait_for 5 gone 203.0.113.40
check "pacto why 203.0.113.40: lifted, its reporters left the alliance" lifted_by 203.0.113.40 \
	"its reporters left the alliance"
check "bravo's own 203.0.113.50: untouched (3600 s)" expires_within 203.0.113.50 3500 3600

report charlie charlie2.key 2 203.0.113.31 --duration 3600
check "charlie's new key is taken (203.0.113.31 for the new max, 600 s)" wait_for 10 expires_within 203.0.113.31 570 600
report charlie charlie.key 3 203.0.113.32 --duration 3600
check "charlie's old key is refused (bad_signature)" wait_for 10 sh -c \
	"ip netns exec $NS $BUILD/pacto --state-dir $STATE allies --json | jq -e '.members[] | select(.id == \"charlie\") | .refused.bad_signature == 1' >/dev/null"
check "203.0.113.32 is not dropped" gone 203.0.113.32

ctl reload >"$SCRATCH/reload2.out" 2>&1
check "reloaded again unchanged: nothing more lifted nor shortened" grep -q '0 sanctions lifted, 0 shortened' \
	"$SCRATCH/reload2.out"
