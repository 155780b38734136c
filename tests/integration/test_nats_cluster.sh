#!/bin/sh
# test_nats_cluster.sh: the alliance transport on a 3-server NATS cluster
# (loopback, cluster routes, one store directory and two free ports per
# server), stream with 3 replicas. A publisher with an outbox publishes
# continuously; when a quarter is acknowledged, the stream leader is killed
# with SIGKILL. Checks: every report ends acknowledged, and a consumer that
# ran throughout receives every one of them (nothing acknowledged is lost).
# Every server is killed and its store removed at the end.
. "$(dirname "$0")/lib.sh"

PROBE="$BUILD/natsprobe"
N=2000
if ! command -v nats-server >/dev/null; then
	echo "ok - # SKIP nats-server is not installed"
	exit 0
fi

PIDS=""
stop_servers() {
	for pid in $PIDS; do kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
}
trap 'stop_servers; finish' EXIT

set -- $("$PROBE" ports 6)
CLIENT1=$1 CLIENT2=$2 CLIENT3=$3 ROUTE1=$4 ROUTE2=$5 ROUTE3=$6
URLS="nats://127.0.0.1:$CLIENT1,nats://127.0.0.1:$CLIENT2,nats://127.0.0.1:$CLIENT3"

# start_server NAME CLIENT_PORT ROUTE_PORT: writes its config, starts it, records its pid.
start_server() {
	mkdir -p "$SCRATCH/$1"
	cat >"$SCRATCH/$1.conf" <<EOF
server_name: $1
listen: 127.0.0.1:$2
jetstream { store_dir: "$SCRATCH/$1" }
cluster {
  name: pacto-test
  listen: 127.0.0.1:$3
  routes: [nats-route://127.0.0.1:$ROUTE1, nats-route://127.0.0.1:$ROUTE2, nats-route://127.0.0.1:$ROUTE3]
}
EOF
	nats-server -c "$SCRATCH/$1.conf" >"$SCRATCH/$1.log" 2>&1 &
	PIDS="$PIDS $!"
	eval "PID_$1=$!"
}
start_server n1 "$CLIENT1" "$ROUTE1"
start_server n2 "$CLIENT2" "$ROUTE2"
start_server n3 "$CLIENT3" "$ROUTE3"

# Both create the stream (R3) and their durables as soon as the cluster has a
# JetStream leader; until then they retry in the background.
"$PROBE" sub -u "$URLS" -a cluster -m B -n $N -R 3 -t 90 >"$SCRATCH/sub.out" 2>&1 &
SUB=$!
"$PROBE" pub -u "$URLS" -a cluster -m A -n $N -r 400 -R 3 -t 90 -p "$SCRATCH/progress" >"$SCRATCH/pub.out" 2>&1 &
PUB=$!

# wait_progress COUNT: until the publisher has COUNT acks (60 s at most).
wait_progress() {
	for i in $(seq 600); do
		[ "$(cat "$SCRATCH/progress" 2>/dev/null || echo 0)" -ge "$1" ] && return 0
		kill -0 $PUB 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
check "publishing into the 3-replica stream started" wait_progress $((N / 4))

leader=$("$PROBE" leader -u "$URLS" -a cluster 2>"$SCRATCH/leader.err")
case "$leader" in
n1|n2|n3)
	eval "victim=\$PID_$leader"
	kill -9 "$victim"
	ok "killed the stream leader ($leader) with SIGKILL at $(cat "$SCRATCH/progress") of $N acks"
	;;
*)
	not_ok "no stream leader found: $(cat "$SCRATCH/leader.err")"
	;;
esac

wait $PUB
pub_rc=$?
wait $SUB
sub_rc=$?
sed 's/^/# /' "$SCRATCH/pub.out" "$SCRATCH/sub.out"
check "every report was acknowledged in the end (outbox re-publishing)" [ $pub_rc -eq 0 ]
check "the consumer received every acknowledged report after the kill" [ $sub_rc -eq 0 ]
if [ $pub_rc -ne 0 ] || [ $sub_rc -ne 0 ]; then
	for n in n1 n2 n3; do tail -n 5 "$SCRATCH/$n.log" | sed "s/^/# $n: /"; done
fi
