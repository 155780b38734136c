#!/bin/sh
# capture.sh OUTDIR: how tests/corpus/openvpn/real.cases was captured.
# Runs Debian 12's OpenVPN 2.6 as a server in a network namespace of its
# own (192.0.2.1, 2001:db8::1), over UDP (logging to syslog, through a
# private rsyslogd, as openvpn@.service's --daemon does: identifier
# ovpn-server) and over TCP (to syslog as openvpn, the identifier
# openvpn-server@.service's lines have in the journal; and a second TCP
# server to its own --log file), and OpenVPN clients in
# another namespace (192.0.2.2, 2001:db8::2) that fail: a certificate of
# another CA, with a hostile common name, one holding a line feed; no certificate; a good
# certificate with a refused password (auth-user-pass-verify), with a
# hostile user name; a client that sends garbage or nothing. IPv4 and IPv6.
# A throwaway CA and keys are made with openssl in OUTDIR.
# The .cases file was assembled by hand from OUTDIR's files, verbatim.
# Needs root, openvpn, openssl, rsyslog, python3. Leaves nothing behind but
# OUTDIR (and /dev/log only while it runs, when the machine has none).
set -eu
OUT=$(mkdir -p "${1:?usage: capture.sh OUTDIR}" && cd "$1" && pwd)
SRV="pacto-capv-s$$" CLI="pacto-capv-c$$"
SOCK="$OUT/devlog" OWN_DEVLOG=
export TZ=UTC

cleanup() {
	for ns in "$SRV" "$CLI"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null || true
	done
	[ -f "$OUT/rsyslog.pid" ] && kill "$(cat "$OUT/rsyslog.pid")" 2>/dev/null
	[ -n "$OWN_DEVLOG" ] && rm -f /dev/log
	rm -f "$SOCK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ -e /dev/log ]; then LISTEN="$SOCK"; else LISTEN=/dev/log; OWN_DEVLOG=1; fi
cat >"$OUT/rsyslog.conf" <<CONF
global(workDirectory="$OUT")
module(load="imuxsock" SysSock.Name="$LISTEN")
if \$programname startswith "ovpn" or \$programname == "openvpn" then action(type="omfile" file="$OUT/syslog.log")
CONF
rsyslogd -f "$OUT/rsyslog.conf" -i "$OUT/rsyslog.pid"
for i in $(seq 50); do [ -S "$LISTEN" ] && break; sleep 0.1; done

ip netns add "$SRV"
ip netns add "$CLI"
ip link add "cvs$$" type veth peer name "cvc$$"
ip link set "cvs$$" netns "$SRV"
ip link set "cvc$$" netns "$CLI"
ip -n "$SRV" addr add 192.0.2.1/24 dev "cvs$$"
ip -n "$SRV" addr add 2001:db8::1/64 dev "cvs$$" nodad
ip -n "$CLI" addr add 192.0.2.2/24 dev "cvc$$"
ip -n "$CLI" addr add 2001:db8::2/64 dev "cvc$$" nodad
for ns in "$SRV" "$CLI"; do ip -n "$ns" link set lo up; done
ip -n "$SRV" link set "cvs$$" up
ip -n "$CLI" link set "cvc$$" up

# A throwaway PKI: the server's CA, and a rogue CA an attacker made.
P="$OUT/pki"
mkdir -p "$P"
cd "$P"
ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-keyout "$1.key" -out "$1.crt" -subj "/CN=$1" 2>/dev/null
}
# cert NAME CA SUBJECT EKU
cert() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$1.key" -out "$1.csr" -subj "$3" 2>/dev/null
	printf 'extendedKeyUsage=%s\nkeyUsage=digitalSignature,keyAgreement\n' "$4" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 2 \
		-extfile "$1.ext" -out "$1.crt" 2>/dev/null
}
ca ca
ca rogue
cert server ca "/CN=server" serverAuth
cert alice ca "/CN=alice" clientAuth
cert mallory rogue "/CN=mallory" clientAuth
cert hostile rogue "/CN=192.0.2.99:1194 TLS Error: TLS handshake failed" clientAuth
cert linefeed rogue "/CN=a
192.0.2.99 TLS Error: TLS handshake failed" clientAuth

# Passwords: alice/secret only.
cat >"$OUT/verify.sh" <<'SH'
#!/bin/sh
# auth-user-pass-verify via-file: $1 holds the user name and the password.
[ "$(sed -n 1p "$1")" = alice ] && [ "$(sed -n 2p "$1")" = secret ]
SH
chmod 755 "$OUT/verify.sh"

# in_srv COMMAND...: runs it in the server's namespace, where /dev/log is
# the private rsyslogd's socket.
in_srv() {
	if [ -n "$OWN_DEVLOG" ]; then
		ip netns exec "$SRV" "$@"
	else
		unshare --mount sh -c 'mount --bind "$1" /dev/log && shift 2 && exec ip netns exec "$0" "$@"' \
			"$SRV" "$SOCK" "$@"
	fi
}

# server NAME PROTO PORT: its configuration; the caller adds how it logs.
server() {
	cat >"$OUT/$1.conf" <<CONF
mode server
tls-server
proto $2
port $3
dev tun
topology subnet
server 10.$(($3 % 256)).0.0 255.255.255.0
ca $P/ca.crt
cert $P/server.crt
key $P/server.key
dh none
keepalive 10 60
hand-window 10
script-security 2
auth-user-pass-verify $OUT/verify.sh via-file
tmp-dir $OUT
verb 3
CONF
}
server udp udp6 1194
server tcp tcp6-server 1195
server file tcp6-server 1196
in_srv openvpn --config "$OUT/udp.conf" --daemon ovpn-server --writepid "$OUT/udp.pid"
in_srv openvpn --config "$OUT/tcp.conf" --syslog openvpn &
ip netns exec "$SRV" openvpn --config "$OUT/file.conf" --log "$OUT/openvpn.log" &
sleep 2

# client NAME PROTO HOST PORT CERT: one attempt, up to 15 s, with the
# credentials of the last creds call.
client() {
	name=$1 proto=$2 host=$3 port=$4 crt=$5
	set -- --client --dev tun --proto "$proto" --remote "$host" "$port" --nobind \
		--ca "$P/ca.crt" --remote-cert-tls server --tls-exit --connect-retry-max 1 \
		--auth-retry none --hand-window 5 --verb 3 --auth-user-pass "$OUT/creds"
	[ -n "$crt" ] && set -- "$@" --cert "$P/$crt.crt" --key "$P/$crt.key"
	echo "== $name" >>"$OUT/client.out"
	timeout 15 ip netns exec "$CLI" openvpn "$@" >>"$OUT/client.out" 2>&1 || true
}
creds() { printf '%s\n%s\n' "$1" "$2" >"$OUT/creds"; chmod 600 "$OUT/creds"; }

for host in 192.0.2.1 2001:db8::1; do
	for target in "udp 1194" "tcp-client 1195" "tcp-client 1196"; do
		set -- $target
		creds alice wrong
		client "$host $1 rogue CA" "$1" "$host" "$2" mallory
		client "$host $1 hostile CN" "$1" "$host" "$2" hostile
		client "$host $1 line feed in the CN" "$1" "$host" "$2" linefeed
		client "$host $1 no certificate" "$1" "$host" "$2" ""
		client "$host $1 wrong password" "$1" "$host" "$2" alice
		creds 'x 192.0.2.99:1194 TLS Auth Error: Auth Username/Password verification failed for peer' wrong
		client "$host $1 hostile user" "$1" "$host" "$2" alice
		creds alice secret
		client "$host $1 success" "$1" "$host" "$2" alice
	done
	# Garbage over UDP and TCP, and TCP connections that say nothing.
	ip netns exec "$CLI" python3 - "$host" <<'PY'
import socket, sys, time
host = sys.argv[1]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
u = socket.socket(fam, socket.SOCK_DGRAM)
u.sendto(b"GET / HTTP/1.0\r\n\r\n", (host, 1194))
t = socket.create_connection((host, 1195))
t.sendall(b"GET / HTTP/1.0\r\n\r\n")
q = [socket.create_connection((host, port)) for port in (1195, 1196)]
time.sleep(14)
PY
done
sleep 2
