#!/usr/bin/env bash
# shellcheck disable=SC2119 # e2e_up takes optional arguments, not the script's
# test_drain.sh - backend changes never break established connections.
#
# Service VIP4:80 -> b1..b3:8080 (fnat). /slow serves a 1 MB random file at
# 200 KB/s (nginx limit_rate), so a download lasts ~5 s. Checks:
#  (a) while a download runs, another backend is removed (service.upsert without
#      it): the download completes intact (curl exit 0, size and sha256), and new
#      connections avoid the removed backend;
#  (b) while a download runs, its own backend is set "draining": the download
#      completes intact, and 20 new connections during the drain never reach it;
#  (c) a backend set "down" gets no new connection;
#  (d) every backend draining: new connections are still served (Kubernetes
#      falls back to terminating endpoints when no ready one is left).
E2E_NAME=drain
export TOPO_BIGFILE_BYTES=1
# shellcheck source=tests/e2e/lib.sh disable=SC2034
source "$(dirname "$0")/lib.sh"

SIZE=1000000
e2e_up
head -c $SIZE /dev/urandom > "$TOPO_DIR/big.bin"
SUM=$(sha256sum < "$TOPO_DIR/big.bin" | cut -d' ' -f1)
for i in 1 2 3; do cp "$TOPO_DIR/big.bin" "$TOPO_DIR/b$i/www/big.bin"; done
upsert web4 "$VIP4" 80 tcp 8080 "" 1 2 3
log "service web4 $VIP4:80 -> b1,b2,b3:8080; /slow = $SIZE random bytes at 200 KB/s"
wait_answer "$VIP4" 80

bname() { echo "b$((${1##*.} - 10))"; } # 198.19.0.1N -> bN

# start_download TAG LOCALPORT: background curl of /slow; sets DL_PID.
start_download() {
	ip netns exec "$TOPO_NS_C" curl -sS -m 30 --local-port "$2" -o "$TOPO_DIR/dl-$1" -w '%{http_code} %{size_download}' \
		"$(url "$VIP4" 80 /slow)" > "$TOPO_DIR/dl-$1.out" 2>&1 &
	DL_PID=$!
	e2e_bg $DL_PID
}

# backend_of LOCALPORT: the backend conns.list names for the client's port (bN).
backend_of() {
	local b=""
	for _ in $(seq 1 20); do
		b=$(ctl '{"op":"conns.list"}' |
			json "' '.join(c['backend'] for c in r['connections'] if c['client_port'] == $1)")
		[ -n "$b" ] && break
		sleep 0.1
	done
	[ -n "$b" ] || fail "no tracked connection from client port $1 (curl: $(cat "$TOPO_DIR"/dl-*.out 2>/dev/null); client neighbours: $(ip -n "$TOPO_NS_C" neigh | tr '\n' ';'))"
	bname "$b"
}

# finish_download TAG: wait (bounded) and check the result.
finish_download() {
	local rc=0
	for _ in $(seq 1 300); do kill -0 "$DL_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$DL_PID" || rc=$?
	check "download $1: curl exit status 0 (got $rc; $(cat "$TOPO_DIR/dl-$1.out"))" [ "$rc" = 0 ]
	check "download $1: HTTP 200, $SIZE bytes" [ "$(cat "$TOPO_DIR/dl-$1.out")" = "200 $SIZE" ]
	check "download $1: content intact (sha256)" \
		[ "$(sha256sum < "$TOPO_DIR/dl-$1" | cut -d' ' -f1)" = "$SUM" ]
}

# avoid LABEL N BACKEND: N new connections, all answered, none by BACKEND.
avoid() {
	local ids
	ids=$(many_ids "$2" "$VIP4" 80)
	log "$1: $(sort <<<"$ids" | uniq -c | tr -s ' \n' ' ')"
	check "$1: all $2 new connections answered" [ "$(count ERR <<<"$ids")" = 0 ]
	check "$1: none reached $3" [ "$(count "$3" <<<"$ids")" = 0 ]
}

# (a) remove another backend during a download
start_download a 40001
D=$(backend_of 40001)
log "(a) download from client port 40001 is served by $D"
O=b$(((${D#b} % 3) + 1))
keep=()
for i in 1 2 3; do [ "b$i" = "$O" ] || keep+=("$i"); done
upsert web4 "$VIP4" 80 tcp 8080 "" "${keep[@]}"
log "(a) removed $O (backends now ${keep[*]})"
avoid "(a) after removing $O" 10 "$O"
check "(a) download still running after the change" kill -0 "$DL_PID"
finish_download a
check "(a) no established flow was re-picked (ct_repick 0)" [ "$(stat_global ct_repick)" = 0 ]

# (b) drain the download's own backend
upsert web4 "$VIP4" 80 tcp 8080 "" 1 2 3
start_download b 40002
D=$(backend_of 40002)
log "(b) download from client port 40002 is served by $D"
words=()
for i in 1 2 3; do if [ "b$i" = "$D" ]; then words+=("$i=draining"); else words+=("$i"); fi; done
upsert web4 "$VIP4" 80 tcp 8080 "" "${words[@]}"
log "(b) $D set draining"
avoid "(b) while $D drains" 20 "$D"
check "(b) download still running after 20 new connections" kill -0 "$DL_PID"
finish_download b
state=$(stats | json "[b['state'] for s in r['services'] for b in s['backends'] if b['address'].endswith('.1${D#b}')][0]")
check "(b) dp reports $D as draining ($state)" [ "$state" = draining ]

# (c) a backend down
words=()
for i in 1 2 3; do if [ "b$i" = "$D" ]; then words+=("$i=down"); else words+=("$i"); fi; done
upsert web4 "$VIP4" 80 tcp 8080 "" "${words[@]}"
log "(c) $D set down"
avoid "(c) while $D is down" 30 "$D"

# (d) every backend draining: still served
upsert web4 "$VIP4" 80 tcp 8080 "" 1=draining 2=draining 3=draining
ids=$(many_ids 10 "$VIP4" 80)
log "(d) all draining: $(sort <<<"$ids" | uniq -c | tr -s ' \n' ' ')"
check "(d) all backends draining: new connections still answered" [ "$(count ERR <<<"$ids")" = 0 ]

log "drops: $(e2e_drops)"
check "edgelb-dp still running" e2e_dp_alive
