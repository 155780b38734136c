# test_pactod_sshd.sh: pactod against a real OpenSSH server, no synthetic
# line: sshd runs in a defender namespace and logs through an rsyslogd of
# this test into the file pactod follows; a real ssh client in an attacker
# namespace fails passwords; pactod drops it; pacto why shows sshd's lines.
# /dev/log belongs to the machine: when none exists the test's rsyslogd
# serves it for the test's duration and removes it; when one exists, sshd
# runs in a private mount namespace with the test's socket bound over it.
. "$PACTO_TOP/tests/integration/lib.sh"

DEF="pacto-sdef-$$"
ATT="pacto-satt-$$"
STATE="$SCRATCH/state"
LOG="$SCRATCH/auth.log"
SOCK="$SCRATCH/devlog"
OWN_DEVLOG=

cleanup_sshd() {
	[ -f "$SCRATCH/rsyslog.pid" ] && kill "$(cat "$SCRATCH/rsyslog.pid")" 2>/dev/null
	kill_namespace "$DEF"
	kill_namespace "$ATT"
	[ -n "$OWN_DEVLOG" ] && rm -f /dev/log
	finish
}
trap cleanup_sshd EXIT

for tool in /usr/sbin/sshd /usr/bin/sshpass /usr/sbin/rsyslogd /usr/bin/ssh /usr/bin/ssh-keygen; do
	if [ ! -x "$tool" ]; then
		not_ok "$tool is missing (scripts/deps installs openssh-server, openssh-client, sshpass, rsyslog)"
		exit 0
	fi
done

# rsyslogd: sshd's auth messages into $LOG, in rsyslog's default RFC 3339 format.
if [ -e /dev/log ]; then LISTEN="$SOCK"; else LISTEN=/dev/log; OWN_DEVLOG=1; fi
cat >"$SCRATCH/rsyslog.conf" <<CONF
global(workDirectory="$SCRATCH")
module(load="imuxsock" SysSock.Name="$LISTEN")
auth,authpriv.* action(type="omfile" file="$LOG")
CONF
: >"$LOG"
rsyslogd -f "$SCRATCH/rsyslog.conf" -i "$SCRATCH/rsyslog.pid"
for i in $(seq 50); do [ -S "$LISTEN" ] && break; sleep 0.1; done

ip netns add "$DEF" && ip netns add "$ATT" &&
ip link add "sd$$" type veth peer name "sa$$" &&
ip link set "sd$$" netns "$DEF" && ip link set "sa$$" netns "$ATT" &&
ip -n "$DEF" addr add 192.0.2.1/24 dev "sd$$" && ip -n "$ATT" addr add 192.0.2.2/24 dev "sa$$" &&
ip -n "$DEF" link set "sd$$" up && ip -n "$ATT" link set "sa$$" up && ip -n "$DEF" link set lo up ||
	{ not_ok "network namespaces could not be set up"; exit 0; }

# sshd with its own key, port and pid file; passwords on, keys off.
ssh-keygen -q -t ed25519 -N '' -f "$SCRATCH/host_key"
cat >"$SCRATCH/sshd_config" <<CONF
Port 2222
ListenAddress 192.0.2.1
HostKey $SCRATCH/host_key
PidFile $SCRATCH/sshd.pid
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
UsePAM no
MaxAuthTries 6
LogLevel INFO
SyslogFacility AUTH
CONF
mkdir -p /run/sshd
if [ -n "$OWN_DEVLOG" ]; then
	ip netns exec "$DEF" /usr/sbin/sshd -f "$SCRATCH/sshd_config" -D &
else
	unshare --mount sh -c "mount --bind '$SOCK' /dev/log && exec ip netns exec '$DEF' /usr/sbin/sshd -f '$SCRATCH/sshd_config' -D" &
fi
ip netns exec "$DEF" "$BUILD/pactod" --foreground --state-dir "$STATE" --watch "$LOG" >>"$SCRATCH/pactod.log" 2>&1 &
# Ready when sshd says so and pactod answers. (Not by connecting: a probe
# that closes during the banner exchange is a failure sshd logs.)
for i in $(seq 50); do
	[ -S "$STATE/pacto.sock" ] && grep -q 'Server listening on 192.0.2.1 port 2222' "$LOG" && break
	sleep 0.1
done
check "sshd and pactod are up" grep -q 'Server listening on 192.0.2.1 port 2222' "$LOG"

# A real client: five connections, each one wrong password for a user that
# does not exist (sshpass gives up after the first refusal).
for i in 1 2 3 4 5; do
	ip netns exec "$ATT" sshpass -p wrong-password ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o PreferredAuthentications=password -o ConnectTimeout=3 -p 2222 nosuchuser@192.0.2.1 true >/dev/null 2>&1
done
check "sshd logged its own 'Failed password' lines through syslog" \
	sh -c "[ \$(grep -c 'sshd\[[0-9]*\]: Failed password for invalid user nosuchuser from 192.0.2.2 port' '$LOG') -ge 5 ]"
check "pactod sanctions the real attacker" wait_sanctioned "$STATE" 192.0.2.2
check "whose next connection to sshd is dropped" sh -c "! ip netns exec $ATT $BUILD/netprobe connect 192.0.2.1 2222 '' 1000"
check "pacto why shows sshd's own lines as evidence" \
	sh -c "$BUILD/pacto --state-dir $STATE why 192.0.2.2 | grep -q 'sshd\[[0-9]*\]: Failed password for invalid user nosuchuser from 192.0.2.2'"
