# test_enforce_netns.sh: the enforcer against the real kernel. Two network
# namespaces joined by a veth pair; a listener in the defender; connections
# from the attacker's addresses. enforce_probe (built here) drives the
# enforcer API inside the defender namespace, so no table of the host is
# ever touched. Addresses come only from 192.0.2.0/24 and 2001:db8::/64.
# Needs root, ip (iproute2), nft (nftables), cc and libnftables-dev.
# Prints the single-element add+commit latency and the bulk rate as "# ".
. "$PACTO_TOP/tests/integration/lib.sh"
cd "$SCRATCH" || exit 1

DEF=pacto-def-$$
ATT=pacto-att-$$
PORT=8080
SPID=
LPID=

skip() {
	echo "ok - enforcer in network namespaces # SKIP $*"
	exit 0
}
[ "$(id -u)" -eq 0 ] || skip "needs root"
for tool in ip nft cc pkg-config; do
	command -v "$tool" >/dev/null || skip "needs $tool"
done

# ---- The probe ----------------------------------------------------------------
SAN=
case "$BUILD" in *-san) SAN="-fsanitize=address -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" ;; esac
# shellcheck disable=SC2046,SC2086
if ! cc -std=c17 -D_GNU_SOURCE -g $SAN -I"$TOP/src" "$TOP/tests/integration/enforce_probe.c" \
	"$BUILD/libpacto.a" $(pkg-config --libs libpcre2-8 yaml-0.1 jansson sqlite3 libnftables libnftnl libmnl) \
	-o probe 2>cc.err; then
	not_ok "enforce_probe builds"
	sed 's/^/# /' cc.err
	exit 1
fi

# sanitized PROGRAM ARGS: runs it and turns a sanitizer exit (86) into a report.
sanitized() {
	"$@"
	rc=$?
	[ "$rc" -eq 86 ] && echo "enforce_probe $*" >>"$SCRATCH/sanitizer-reports"
	return "$rc"
}

# ---- Namespaces -------------------------------------------------------------------
cleanup() {
	exec 3>&- 4<&-
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null
	[ -n "$LPID" ] && kill "$LPID" 2>/dev/null
	ip netns del "$DEF" 2>/dev/null
	ip netns del "$ATT" 2>/dev/null
	finish
}
trap cleanup EXIT
trap '' PIPE  # a dead probe makes writes fail, not the script die

in_def() { ip netns exec "$DEF" "$@"; }
in_att() { ip netns exec "$ATT" "$@"; }
mac() { ip -n "$1" -br link show dev "$2" | awk '{print $3}'; }

# Table names only, from the terse listing: "nft list tables" would read
# every set element of the host's tables (seconds with large sets).
host_tables() { nft -t list ruleset 2>&1 | grep '^table'; }
host_tables_before=$(host_tables)
ip netns add "$DEF" 2>/dev/null && ip netns add "$ATT" 2>/dev/null || skip "cannot create network namespaces"
ip -n "$DEF" link add pd0 type veth peer name pa0 netns "$ATT"
ip -n "$DEF" link set lo up
ip -n "$ATT" link set lo up
ip -n "$DEF" addr add 192.0.2.1/24 dev pd0
ip -n "$DEF" addr add 2001:db8::1/64 dev pd0 nodad
for a in 192.0.2.2/24 192.0.2.3/24; do ip -n "$ATT" addr add "$a" dev pa0; done
for a in 2001:db8::a:2/64 2001:db8::b:2/64; do ip -n "$ATT" addr add "$a" dev pa0 nodad; done
ip -n "$DEF" link set pd0 up
ip -n "$ATT" link set pa0 up
# Static neighbours: a dropped address must not leave neighbour discovery
# failed behind it, or "connects again" would measure NDP retries.
mdef=$(mac "$DEF" pd0)
matt=$(mac "$ATT" pa0)
for a in 192.0.2.2 192.0.2.3 2001:db8::a:2 2001:db8::b:2; do
	ip -n "$DEF" neigh replace "$a" lladdr "$matt" dev pd0 nud permanent
done
for a in 192.0.2.1 2001:db8::1; do
	ip -n "$ATT" neigh replace "$a" lladdr "$mdef" dev pa0 nud permanent
done

# A table of someone else's, which must come out unchanged.
in_def nft -f - <<'EOF'
table inet decoy {
	set keep { type ipv4_addr; elements = { 192.0.2.200, 192.0.2.201 } }
	chain c { type filter hook input priority 0; policy accept; ip saddr @keep accept; }
}
EOF
in_def nft list table inet decoy >decoy.before

# Started directly (not through a shell function), so that $! is the
# listener itself: "ip netns exec" execs it in place.
ip netns exec "$DEF" ./probe listen "$PORT" >listen.out 2>&1 &
LPID=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do grep -qs ready listen.out && break; sleep 0.2; done

# ---- The enforcer, one long-lived process like pactod ------------------------------
mkfifo cmd.in cmd.out
ip netns exec "$DEF" ./probe serve <cmd.in >cmd.out 2>serve.err &
SPID=$!
exec 3>cmd.in 4<cmd.out

# ask COMMAND...: sends one command, leaves the reply line in $reply.
ask() {
	echo "$*" >&3
	read -r reply <&4 || reply="err the probe is gone"
}
# queue add|remove ...: queues an operation; only a refusal is reported.
queue() {
	ask "$@"
	case "$reply" in ok*) ;; *) not_ok "$* ($reply)" ;; esac
}
# asks DESCRIPTION COMMAND...: ok when the reply starts with "ok".
asks() {
	what=$1
	shift
	ask "$@"
	case "$reply" in ok*) ok "$what" ;; *) not_ok "$what ($reply)"; sed 's/^/# /' serve.err ;; esac
}
# connects SRC DST [MS]: a TCP connection from SRC reaches the listener.
connects() {
	sanitized in_att ./probe connect "$1" "$2" "$PORT" "${3:-3000}"
}
# reaches SRC DST / blocked SRC DST [WHAT]: the checks, with a short timeout for drops.
reaches() { check "$1 connects to $2" connects "$1" "$2"; }
blocked() {
	what=${3:-$1 is dropped}
	if connects "$1" "$2" 500; then not_ok "$what"; else ok "$what"; fi
}
commit() {
	asks "commit: $*" commit
}

reaches 192.0.2.2 192.0.2.1
reaches 2001:db8::a:2 2001:db8::1

asks "reset creates table inet pacto" reset
ask present
check "the new table is present" [ "$reply" = "ok 1" ]
in_def nft list chain inet pacto input >chain.txt
check "chain input: filter hook input, priority filter - 10, policy accept, drops @v4 and @v6" sh -c \
	"grep -q 'type filter hook input priority filter - 10; policy accept;' chain.txt &&
	 grep -q 'ip saddr @v4 drop' chain.txt && grep -q 'ip6 saddr @v6 drop' chain.txt"
check "chain forward exists with hook forward" sh -c \
	"ip netns exec $DEF nft list chain inet pacto forward | grep -q 'hook forward priority filter - 10'"

ask add 127.0.0.1 60
case "$reply" in err*) ok "the enforcer refuses to queue loopback ($reply)" ;; *) not_ok "loopback refused ($reply)" ;; esac
ask add 198.51.0.0/16 60
case "$reply" in err*) ok "the enforcer refuses a /16, wider than the default /24" ;; *) not_ok "/16 refused ($reply)" ;; esac

# IPv4: one address; a second address of the attacker is not sanctioned.
queue add 192.0.2.2 60
commit "sanction 192.0.2.2"
blocked 192.0.2.2 192.0.2.1
reaches 192.0.2.3 192.0.2.1
reaches 2001:db8::a:2 2001:db8::1
queue remove 192.0.2.2
commit "lift 192.0.2.2"
reaches 192.0.2.2 192.0.2.1

# IPv6 prefixes: a /112 holds ::a:2 and not ::b:2; the /64 holds both.
queue add 2001:db8::a:0/112 60
commit "sanction 2001:db8::a:0/112"
blocked 2001:db8::a:2 2001:db8::1
reaches 2001:db8::b:2 2001:db8::1
queue add 2001:db8::/64 60
commit "sanction 2001:db8::/64"
blocked 2001:db8::b:2 2001:db8::1
reaches 192.0.2.3 192.0.2.1
queue remove 2001:db8::/64
queue remove 2001:db8::a:0/112
commit "lift both prefixes"
reaches 2001:db8::a:2 2001:db8::1
reaches 2001:db8::b:2 2001:db8::1
# Again, now that the /112 set exists: the element alone goes over netlink.
queue add 2001:db8::a:0/112 60
commit "sanction 2001:db8::a:0/112 again, into its existing set"
blocked 2001:db8::a:2 2001:db8::1 "a prefix element sent over netlink drops 2001:db8::a:2"
reaches 2001:db8::b:2 2001:db8::1
queue remove 2001:db8::a:0/112
commit "lift 2001:db8::a:0/112 again"
reaches 2001:db8::a:2 2001:db8::1

# A netlink batch the kernel refuses (one element's set is missing): the
# error is reported, naming the set, and nothing of it applies.
ask badbatch
case "$reply" in
"ok "*"v6_100"*) ok "a refused netlink batch is reported (${reply#ok })" ;;
*) not_ok "a refused netlink batch is reported ($reply)" ;;
esac
reaches 192.0.2.3 192.0.2.1

# Idempotence: removing a missing element and re-adding an existing one
# never fail a batch.
queue remove 192.0.2.2
queue add 192.0.2.3 60
commit "a batch that removes an address never added"
blocked 192.0.2.3 192.0.2.1
queue add 192.0.2.3 60
commit "a batch that adds an address already there"
queue remove 192.0.2.3
commit "lift 192.0.2.3"
reaches 192.0.2.3 192.0.2.1
# The portable form (for kernels that keep the old timeout on re-add; this
# kernel's is probed, and plain adds are used if it renews): each applied
# twice, on a missing and on an existing element.
sanitized ./probe render add 192.0.2.3 60 >portable-add.nft
sanitized ./probe render remove 192.0.2.3 >portable-remove.nft
check "portable add, applied twice, succeeds both times" sh -c \
	"ip netns exec $DEF nft -f portable-add.nft && ip netns exec $DEF nft -f portable-add.nft"
blocked 192.0.2.3 192.0.2.1 "portable add: 192.0.2.3 is dropped"
check "portable remove, applied twice, succeeds both times" sh -c \
	"ip netns exec $DEF nft -f portable-remove.nft && ip netns exec $DEF nft -f portable-remove.nft"
reaches 192.0.2.3 192.0.2.1
# The same portable sequence over netlink, on a missing then an existing element.
asks "netlink portable add of a missing element" portable add 192.0.2.3 60
asks "netlink portable add of an existing element" portable add 192.0.2.3 60
blocked 192.0.2.3 192.0.2.1 "netlink portable add: 192.0.2.3 is dropped"
asks "netlink portable remove of an existing element" portable remove 192.0.2.3
asks "netlink portable remove of a missing element" portable remove 192.0.2.3
reaches 192.0.2.3 192.0.2.1
# The kernel facts behind that design, checked on this kernel.
check "kernel: deleting a missing element fails the transaction" sh -c \
	"! ip netns exec $DEF nft delete element inet pacto v4 '{ 192.0.2.250 }' 2>/dev/null"
check "kernel: add then delete of a missing element in one transaction succeeds" sh -c \
	"printf 'add element inet pacto v4 { 192.0.2.250 }\ndelete element inet pacto v4 { 192.0.2.250 }\n' |
	 ip netns exec $DEF nft -f -"

# Timeouts: the kernel ends a 2 s sanction by itself; re-adding sets the new
# timeout, longer or shorter.
queue add 192.0.2.2 2
queue add 192.0.2.3 2
queue add 2001:db8::a:2 60
commit "sanctions of 2 s and 60 s"
queue add 192.0.2.3 60
queue add 2001:db8::a:2 2
commit "re-add 192.0.2.3 for 60 s and 2001:db8::a:2 for 2 s"
blocked 192.0.2.2 192.0.2.1
sleep 3
check "the kernel expired 192.0.2.2 after 2 s: 192.0.2.2 connects" connects 192.0.2.2 192.0.2.1
blocked 192.0.2.3 192.0.2.1 "re-adding with a longer timeout renewed it: 192.0.2.3 still dropped"
check "re-adding with a shorter timeout shortened it: 2001:db8::a:2 connects" connects 2001:db8::a:2 2001:db8::1
queue remove 192.0.2.3
commit "lift 192.0.2.3"

# The table deleted, then altered, by an administrator.
in_def nft delete table inet pacto
ask present
check "a deleted table is noticed" [ "$reply" = "ok 0" ]
queue add 192.0.2.2 60
ask commit
case "$reply" in "err ENOENT"*) ok "a commit into a deleted table says ENOENT" ;; *) not_ok "commit into a deleted table says ENOENT ($reply)" ;; esac
asks "reset after the deletion" reset
ask present
check "the table is back" [ "$reply" = "ok 1" ]
queue add 192.0.2.2 60
commit "sanction 192.0.2.2 in the new table"
blocked 192.0.2.2 192.0.2.1
in_def nft flush chain inet pacto input
ask present
check "a table whose rules were flushed is noticed" [ "$reply" = "ok 0" ]
asks "reset after the flush" reset
ask present
check "the table is as we left it after the reset" [ "$reply" = "ok 1" ]
reaches 192.0.2.2 192.0.2.1

# Latency and bulk rate: printed, not asserted.
ask bench 1000
case "$reply" in
ok*) set -- $reply; ok "1000 single-element add+commit"
	echo "# add+commit of one element, 1000 commits: p50 $2 us, p99 $3 us, mean $4 us" ;;
*) not_ok "1000 single-element add+commit ($reply)" ;;
esac
ask bulk 100000
case "$reply" in
ok*) set -- $reply; ok "100000 elements added in one enforce_commit, then removed"
	echo "# bulk: 100000 adds in $2 s ($3/s), 100000 removes in $4 s ($5/s), transactions of 4096"
	echo "# enforce_table_present with 100000 elements loaded: $6 us" ;;
*) not_ok "bulk load ($reply)" ;;
esac
ask stats
echo "# $reply"
case "$reply" in *" failed=0 "*) ok "no operation failed" ;; *) not_ok "no operation failed" ;; esac

ask quit
exec 3>&- 4<&-
wait "$SPID"
rc=$?
SPID=
[ "$rc" -eq 86 ] && echo "enforce_probe serve" >>"$SCRATCH/sanitizer-reports"
check "the probe exits cleanly (status $rc)" [ "$rc" -eq 0 ]
grep -q 'renews its timeout\|keeps its timeout' serve.err && sed -n 's/^enforce_probe: /# /p' serve.err | head -3

in_def nft list table inet decoy >decoy.after
check "table inet decoy is unchanged" cmp -s decoy.before decoy.after
check "the defender holds only tables decoy and pacto" \
	[ "$(in_def nft list tables | tr '\n' ' ')" = "table inet decoy table inet pacto " ]
check "the host's tables are untouched" [ "$(host_tables)" = "$host_tables_before" ]
