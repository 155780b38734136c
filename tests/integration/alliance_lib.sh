# alliance_lib.sh: shared by the integration scripts that build an alliance
# (test_alliance_*.sh, test_nats_oversized.sh), sourced after lib.sh: the
# treaty, the nats-server, the namespaces and the pactod of an alliance
# member. Conventions every function here relies on: the alliance is named
# west; a member's key pair is $SCRATCH/MEMBER.key and $SCRATCH/MEMBER.pub;
# the treaty is $TREATY; a member's log is $SCRATCH/auth.log and its
# pactod logs to $SCRATCH/pactod.log.
TREATY="$SCRATCH/treaty.json"
NATS_PID=

# ---- Keys and treaty --------------------------------------------------------

# make_keys NAME...: a key pair for each NAME (a member, or a stranger such
# as mallory who signs what no treaty lists).
make_keys() {
	for key_name in "$@"; do
		$PACTO keygen --out "$SCRATCH/$key_name.key" >"$SCRATCH/$key_name.pub" 2>/dev/null || return 1
	done
}

# make_treaty MEMBER... [-- SETTING=VALUE...]: keys for every MEMBER, then
# $TREATY: alliance west with the members in that order, the settings
# (pacto treaty set: quorum=2, rate_per_min=6...), signed by every member.
# A MEMBER word may carry options of pacto treaty add-member after its id:
#   make_treaty "alpha --weight 2" bravo "charlie --protect 198.51.100.0/24" -- quorum=2
make_treaty() {
	for treaty_word in "$@"; do
		[ "$treaty_word" = -- ] && break
		make_keys "${treaty_word%% *}" || return 1
	done
	$PACTO treaty init --treaty "$TREATY" --name west >/dev/null || return 1
	treaty_settings=
	for treaty_word in "$@"; do
		if [ "$treaty_word" = -- ]; then
			treaty_settings=1
		elif [ -n "$treaty_settings" ]; then
			$PACTO treaty set --treaty "$TREATY" "${treaty_word%%=*}" "${treaty_word#*=}" >/dev/null || return 1
		else
			# Unquoted on purpose: the id, then its add-member options.
			# shellcheck disable=SC2086
			treaty_add_member $treaty_word || return 1
		fi
	done
	for treaty_word in "$@"; do
		[ "$treaty_word" = -- ] && break
		$PACTO treaty sign --treaty "$TREATY" --key "$SCRATCH/${treaty_word%% *}.key" >/dev/null || return 1
	done
}

# treaty_add_member MEMBER [ADD-MEMBER OPTION...]: adds MEMBER, with its
# public key, to $TREATY.
treaty_add_member() {
	treaty_member=$1
	shift
	$PACTO treaty add-member --treaty "$TREATY" --id "$treaty_member" \
		--key "$(cat "$SCRATCH/$treaty_member.pub")" "$@" >/dev/null
}

# treaty_without OUT MEMBER SIGNER...: OUT is $TREATY amended without
# MEMBER (an expulsion), signed by each SIGNER.
treaty_without() {
	cp "$TREATY" "$1" && $PACTO treaty remove-member --treaty "$1" --id "$2" >/dev/null || return 1
	treaty_out=$1
	shift 2
	for treaty_signer in "$@"; do
		$PACTO treaty sign --treaty "$treaty_out" --key "$SCRATCH/$treaty_signer.key" >/dev/null || return 1
	done
}

# ---- Namespaces ---------------------------------------------------------------

# in_netns NAMESPACE COMMAND...: COMMAND in that network namespace, or in
# the script's own when NAMESPACE is "". In the background, $! is the
# subshell running this function, not COMMAND.
in_netns() {
	if [ -n "$1" ]; then ip netns exec "$@"; else shift; "$@"; fi
}

# member_ns MEMBER: the name of MEMBER's network namespace (one per run).
member_ns() { echo "pacto-$1-$$"; }

# lan_create NAMESPACE ADDRESS: a namespace with a bridge br0 holding
# ADDRESS/24 (where the nats-server of a multi-host alliance listens).
lan_create() {
	ip netns add "$1" && in_netns "$1" ip link add br0 type bridge && in_netns "$1" ip link set br0 up &&
	in_netns "$1" ip addr add "$2/24" dev br0 && in_netns "$1" ip link set lo up
}

# lan_plug LAN NAMESPACE ADDRESS...: a veth from NAMESPACE (made before)
# to LAN's bridge, with the ADDRESSes (/24) on NAMESPACE's side; loopback
# up. The veth is named after the first address's last byte.
lan_plug() {
	lan=$1 plug_ns=$2
	shift 2
	n=$(( $(echo "$1" | cut -d. -f4) ))
	ip link add "pl$n-$$" type veth peer name "pb$n-$$" &&
	ip link set "pl$n-$$" netns "$plug_ns" && ip link set "pb$n-$$" netns "$lan" &&
	in_netns "$lan" ip link set "pb$n-$$" master br0 && in_netns "$lan" ip link set "pb$n-$$" up || return 1
	for plug_address in "$@"; do
		in_netns "$plug_ns" ip addr add "$plug_address/24" dev "pl$n-$$" || return 1
	done
	in_netns "$plug_ns" ip link set "pl$n-$$" up && in_netns "$plug_ns" ip link set lo up
}

# ---- nats-server ----------------------------------------------------------------

# nats_start NAMESPACE ADDRESS PORT: a nats-server with JetStream listening
# on ADDRESS:PORT in NAMESPACE ("": the script's own), its store
# $SCRATCH/nats (a restart finds the stream again), its log appended to
# $SCRATCH/nats.log. NATS_PID is its pid. Does not wait: see nats_ready.
# Not through in_netns: a function in the background is a subshell, and $!
# must be nats-server itself (ip netns exec execs it) for nats_stop.
nats_start() {
	if [ -n "$1" ]; then
		ip netns exec "$1" nats-server -js -sd "$SCRATCH/nats" -a "$2" -p "$3" >>"$SCRATCH/nats.log" 2>&1 &
	else
		nats-server -js -sd "$SCRATCH/nats" -a "$2" -p "$3" >>"$SCRATCH/nats.log" 2>&1 &
	fi
	NATS_PID=$!
}

# nats_ready NAMESPACE ADDRESS PORT SECONDS: waits up to SECONDS for the
# server to accept a connection (0), or fails (1).
nats_ready() {
	wait_for "$4" in_netns "$1" "$BUILD/netprobe" connect "$2" "$3" "" 200
}

# nats_stop: stops the server nats_start started, and waits for its end.
nats_stop() {
	[ -n "$NATS_PID" ] && kill "$NATS_PID" 2>/dev/null && wait "$NATS_PID" 2>/dev/null
	NATS_PID=
	return 0
}

# ---- A member's pactod ----------------------------------------------------------

# ctl PACTO-ARGS...: pacto on the member's state directory $STATE, in its
# namespace $NS when the script has one (alliance_host).
ctl() {
	if [ -n "${NS:-}" ]; then
		ip netns exec "$NS" "$BUILD/pacto" --state-dir "$STATE" "$@"
	else
		$PACTO --state-dir "$STATE" "$@"
	fi
}

# link_ready: pactod answers and its link is ready (0); it answers but the
# link is not ready (1); it does not answer (pacto's exit code). Leaves
# pacto allies --json in $SCRATCH/allies.json.
link_ready() {
	ctl allies --json >"$SCRATCH/allies.json" && jq -e '.link.ready' "$SCRATCH/allies.json" >/dev/null
}

# start_dry_member NATS_URL: alpha's pactod on the loopback, in dry run (no
# namespace, no firewall), with config $CONF and state $STATE, alpha's key,
# $TREATY and the NATS server at NATS_URL. PACTOD_PID is its pid; its log
# ($SCRATCH/pactod.log) is started anew. Does not wait.
start_dry_member() {
	"$BUILD/pactod" --foreground --dry-run --config "$CONF" --state-dir "$STATE" --watch "$SCRATCH/auth.log" \
		--treaty "$TREATY" --key "$SCRATCH/alpha.key" --nats "$1" >"$SCRATCH/pactod.log" 2>&1 &
	PACTOD_PID=$!
}

# stop_dry_member: stops the pactod of start_dry_member, and waits for it.
stop_dry_member() {
	[ -n "${PACTOD_PID:-}" ] && kill "$PACTOD_PID" 2>/dev/null && wait "$PACTOD_PID" 2>/dev/null
	PACTOD_PID=
	return 0
}

# peak_kb PID: the process's peak resident memory (VmHWM), in kB.
peak_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# no_sanitizer_report FILE...: no sanitizer report (ASan, UBSan, LSan) in
# the pactod logs FILE... (pactod runs in the background: its exit code
# cannot tell).
no_sanitizer_report() { ! grep -q 'Sanitizer\|runtime error' "$@"; }

# sshd_failures FILE HOST ADDRESS N: N failed passwords from ADDRESS
# appended to FILE, as HOST's rsyslog writes them (now, RFC 3339).
sshd_failures() {
	for i in $(seq "$4"); do
		echo "$(date -u '+%Y-%m-%dT%H:%M:%S.000000+00:00') $2 sshd[$((8000 + i))]: Failed password for root from $3 port $((41000 + i)) ssh2"
	done >>"$1"
}

# ---- One host: bravo's pactod and the nats-server in one namespace --------------
# The set-up of most alliance scripts: bravo runs pactod with real nftables
# in a network namespace of its own, a nats-server on that namespace's
# loopback; allyprobe publishes there as the other members.

# alliance_host NAME: names the namespace pacto-NAME-$$ ($NS), bravo's
# state $SCRATCH/bravo ($STATE), the server $URL; creates the watched log;
# removes the namespace and its processes on exit (a script with more to
# undo sets its own trap and calls alliance_host_cleanup).
alliance_host() {
	NS="pacto-$1-$$"
	STATE="$SCRATCH/bravo"
	URL=nats://127.0.0.1:4222
	touch "$SCRATCH/auth.log"
	trap alliance_host_cleanup EXIT
}
alliance_host_cleanup() {
	kill_namespace "$NS"
	finish
}

# in_ns COMMAND...: COMMAND in bravo's namespace.
in_ns() { ip netns exec "$NS" "$@"; }

# start_alliance_host [PACTOD-OPTION...]: makes the namespace (loopback up),
# starts the nats-server and bravo's pactod there (bravo's key, $TREATY,
# the extra options, such as --metrics 127.0.0.1:9467), and waits up to
# 15 s for the link to be ready.
start_alliance_host() {
	ip netns add "$NS" && in_ns ip link set lo up || return 1
	nats_start "$NS" 127.0.0.1 4222
	in_ns "$BUILD/pactod" --foreground --state-dir "$STATE" --watch "$SCRATCH/auth.log" --treaty "$TREATY" \
		--key "$SCRATCH/bravo.key" --nats "$URL" "$@" >>"$SCRATCH/pactod.log" 2>&1 &
	wait_for 15 link_ready
}

# host_pactod_pid: the pid of the pactod in bravo's namespace.
host_pactod_pid() {
	for pid in $(ip netns pids "$NS"); do
		[ "$(cat /proc/"$pid"/comm 2>/dev/null)" = pactod ] && echo "$pid"
	done
}

# restart_alliance_host [PACTOD-OPTION...]: bravo's pactod stops (the
# kernel keeps its set), starts again as start_alliance_host starts it,
# and its link is ready within 15 s.
restart_alliance_host() {
	pid=$(host_pactod_pid)
	[ -n "$pid" ] && kill "$pid" || return 1
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	in_ns "$BUILD/pactod" --foreground --state-dir "$STATE" --watch "$SCRATCH/auth.log" --treaty "$TREATY" \
		--key "$SCRATCH/bravo.key" --nats "$URL" "$@" >>"$SCRATCH/pactod.log" 2>&1 &
	wait_for 15 link_ready
}

# allyprobe ALLYPROBE-ARGS...: allyprobe on bravo's namespace's server, for
# alliance west; the caller says as whom, with which key (forgeries too).
allyprobe() { in_ns "$BUILD/allyprobe" --nats "$URL" --alliance west "$@"; }

# publish_as MEMBER ALLYPROBE-ARGS...: MEMBER's report(s), signed with its
# key, under $TREATY's version (--seq, --address... in the arguments).
publish_as() {
	publisher=$1
	shift
	allyprobe --member "$publisher" --key "$SCRATCH/$publisher.key" --version "$(jq '.treaty.version' "$TREATY")" "$@"
}

# in_set ADDRESS: ADDRESS is an element of bravo's set v4 (dropped).
in_set() { in_ns nft get element inet pacto v4 "{ $1 }" >/dev/null 2>&1; }
# expires ADDRESS: the seconds left on its element in set v4 (nft writes
# "expires 59m58s988ms"); nothing when it is not there.
expires() {
	in_ns nft get element inet pacto v4 "{ $1 }" 2>/dev/null | sed -n 's/.* expires \([0-9dhms]*\).*/\1/p' |
		awk '{ s = 0; t = $0
			while (match(t, /^[0-9]+(ms|d|h|m|s)/)) {
				n = substr(t, 1, RLENGTH) + 0; u = substr(t, 1, RLENGTH); sub(/^[0-9]+/, "", u)
				t = substr(t, RLENGTH + 1)
				s += u == "d" ? n * 86400 : u == "h" ? n * 3600 : u == "m" ? n * 60 : u == "s" ? n : 0
			}
			print s }'
}
# expires_within ADDRESS LOW HIGH: its element is there, LOW <= expiry <= HIGH.
expires_within() {
	e=$(expires "$1")
	[ -n "$e" ] && [ "$e" -ge "$2" ] && [ "$e" -le "$3" ]
}

# hold_wal SECONDS DO UNDO: 30 commits of DO, each undone by a commit of
# UNDO (SQL of the script's own), grow the ledger's WAL past what pactod's
# commits reuse; a read transaction then holds it for SECONDS, so a full
# disk refuses pactod's next commits. In the background: its pid in $reader.
hold_wal() {
	(i=0; while [ $i -lt 30 ]; do
		echo "$2"
		echo "$3"
		i=$((i + 1))
	done
	echo "BEGIN; SELECT count(*) FROM sanction;"; sleep "$1"; echo "COMMIT;") | sqlite3 "$STATE/ledger.db" >/dev/null 2>&1 &
	reader=$!
}
