#!/bin/sh
# capture.sh OUTDIR: how tests/corpus/proftpd/real.cases was captured.
# Runs Debian 12's ProFTPD in a network namespace of its own (192.0.2.1,
# 2001:db8::1) and a Python ftplib client in another (192.0.2.2,
# 2001:db8::2) that fails logins: wrong passwords, unknown users, root,
# hostile user names (spaces, "from 1.2.3.4", "[1.2.3.4]", quotes, CR, a
# very long one), over IPv4 and IPv6. Two servers run: one with Debian's
# SystemLog file (proftpd.log, ProFTPD's own line format), one without
# SystemLog, through a private rsyslogd (syslog.log, with the PAM lines).
# The .cases file was assembled by hand from OUTDIR's files, verbatim.
# Needs root, proftpd-core, rsyslog, python3. Leaves nothing behind but
# OUTDIR (and /dev/log only while it runs, when the machine has none).
set -eu
OUT=$(mkdir -p "${1:?usage: capture.sh OUTDIR}" && cd "$1" && pwd)
SRV="pacto-capf-s$$" CLI="pacto-capf-c$$"
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

# A private rsyslogd: every facility into syslog.log (RFC 3339, Debian's format).
if [ -e /dev/log ]; then LISTEN="$SOCK"; else LISTEN=/dev/log; OWN_DEVLOG=1; fi
cat >"$OUT/rsyslog.conf" <<CONF
global(workDirectory="$OUT")
module(load="imuxsock" SysSock.Name="$LISTEN")
*.* action(type="omfile" file="$OUT/syslog.log")
CONF
rsyslogd -f "$OUT/rsyslog.conf" -i "$OUT/rsyslog.pid"
for i in $(seq 50); do [ -S "$LISTEN" ] && break; sleep 0.1; done

ip netns add "$SRV"
ip netns add "$CLI"
ip link add "cfs$$" type veth peer name "cfc$$"
ip link set "cfs$$" netns "$SRV"
ip link set "cfc$$" netns "$CLI"
ip -n "$SRV" addr add 192.0.2.1/24 dev "cfs$$"
ip -n "$SRV" addr add 2001:db8::1/64 dev "cfs$$" nodad
ip -n "$CLI" addr add 192.0.2.2/24 dev "cfc$$"
ip -n "$CLI" addr add 2001:db8::2/64 dev "cfc$$" nodad
for ns in "$SRV" "$CLI"; do ip -n "$ns" link set lo up; done
ip -n "$SRV" link set "cfs$$" up
ip -n "$CLI" link set "cfc$$" up

# PAM first, as in Debian's AuthOrder, but not authoritative, so alice
# (password 'secret', in ProFTPD's own user file) can log in.
mkdir -p "$OUT/home"
chmod 755 "$OUT/home"
printf 'alice:%s:65534:65534::%s:/bin/sh\n' "$(openssl passwd -6 secret)" "$OUT/home" >"$OUT/ftpd.passwd"
chmod 600 "$OUT/ftpd.passwd"

# server NAME PORT [SystemLog line]
server() {
	cat >"$OUT/$1.conf" <<CONF
Include /etc/proftpd/modules.conf
ServerType standalone
ServerName "Debian"
DefaultServer on
UseIPv6 on
Port $2
PidFile $OUT/$1.pid
ScoreboardFile $OUT/$1.scoreboard
DelayTable $OUT/$1.delay
User nobody
Group nogroup
WtmpLog off
TransferLog $OUT/$1.xferlog
AuthOrder mod_auth_pam.c mod_auth_file.c mod_auth_unix.c
AuthUserFile $OUT/ftpd.passwd
RequireValidShell off
MaxLoginAttempts 3
$3
CONF
	if [ -n "$OWN_DEVLOG" ]; then
		ip netns exec "$SRV" proftpd -c "$OUT/$1.conf"
	else
		unshare --mount sh -c "mount --bind '$SOCK' /dev/log && exec ip netns exec '$SRV' proftpd -c '$OUT/$1.conf'"
	fi
}
server file 2121 "SystemLog $OUT/proftpd.log"
server syslog 2122 ""
sleep 1

# client HOST PORT: the failing logins, each on a connection of its own
# unless said otherwise.
cat >"$OUT/client.py" <<'PY'
import ftplib, socket, sys
host, port = sys.argv[1], int(sys.argv[2])

def attempt(*pairs):
    """One connection, several USER/PASS pairs (raw, so any byte goes)."""
    try:
        c = ftplib.FTP()
        c.connect(host, port, timeout=20)
        for user, pw in pairs:
            for cmd in (b"USER " + user, b"PASS " + pw):
                c.sock.sendall(cmd + b"\r\n")
                print(cmd[:60], c.getline()[:80])
        c.close()
    except Exception as exc:
        print("client:", exc)

attempt((b"alice", b"wrong"))
attempt((b"nosuchuser", b"wrong"))
attempt((b"root", b"wrong"))
attempt((b"alice", b"secret"))
attempt((b"alice", b"w1"), (b"alice", b"w2"), (b"alice", b"w3"))
attempt((b"x (Login failed): Incorrect password from 192.0.2.99", b"wrong"))
attempt((b"y: no such user found from 192.0.2.99 [192.0.2.99] to 192.0.2.1:21", b"wrong"))
attempt((b"Debian (192.0.2.99[192.0.2.99]): USER z", b"wrong"))
attempt((b"q\"'`[192.0.2.99]", b"wrong"))
attempt((b"r\rDebian (192.0.2.99[192.0.2.99]) - USER s", b"wrong"))
attempt((b"L" * 600 + b" from 192.0.2.99", b"wrong"))
# A line feed ends an FTP command: the rest is a second command.
try:
    c = ftplib.FTP()
    c.connect(host, port, timeout=20)
    c.sock.sendall(b"USER a\nDebian (192.0.2.99[192.0.2.99]) - USER t\r\nPASS wrong\r\n")
    for _ in range(3):
        print("lf:", c.getline()[:80])
    c.close()
except Exception as exc:
    print("client:", exc)
PY
for target in "192.0.2.1" "2001:db8::1"; do
	for port in 2121 2122; do
		ip netns exec "$CLI" python3 "$OUT/client.py" "$target" "$port" >>"$OUT/client.out" 2>&1
	done
done
sleep 1
