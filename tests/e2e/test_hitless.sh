#!/usr/bin/env bash
# shellcheck disable=SC2119 # e2e_up takes optional arguments, not the script's
# test_hitless.sh - restarting edgelb-dp keeps every established connection
# (persistent state regions, docs/architecture.md "Where state lives").
#
# 30 long downloads (a 16 MB random file, 200 KB/s each from nginx) through an
# fnat VIP. While they run:
#  - edgelb-dp is stopped (SIGTERM) and started again 5 times in a row with the
#    same config (services from the config file);
#  - once more with a relinked binary (a different file, the same layout).
# Every download must end complete and byte for byte equal to the file (curl exit
# 0, sha256). The gap (SIGTERM -> first packet forwarded by the new process) is
# logged for docs/performance.md. After each restart the test waits until every
# download has received data again (TCP's retransmission timer backs off during
# a gap: restarts closer together than that are a different test, of nginx's
# send_timeout and curl's patience). Then:
#  - with edgelb-cp (standalone) as the source of the services instead of the file:
#    10 downloads, 2 dp restarts, the cp resyncs, 10 of 10 intact;
#  - an incompatible layout (conntrack capacity changed) starts empty and says so.
E2E_NAME=hitless
E2E_NO_START=1
export TOPO_BIGFILE_BYTES=1000 # replaced below by one random file on every backend
# shellcheck source=tests/e2e/lib.sh disable=SC2034
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/lib/cp.sh
source "$E2E_SRC/scripts/lib/cp.sh"

N=${HITLESS_DOWNLOADS:-30}
SIZE=16000000
# HITLESS_WORKERS=2: two workers (lcores 1 and 2 share CPU 1), one table each.
WORKERS=${HITLESS_WORKERS:-1}
LCORES="0,1"
[ "$WORKERS" = 2 ] && LCORES="--lcores 0@0,1@1,2@1"
e2e_up "$WORKERS"
# State a failed earlier run left (lib.sh removes it on exit).
rm -f /dev/hugepages/edgelb-"$TOPO"-dp-* /dev/shm/edgelb-"$TOPO"-dp-*
head -c $SIZE /dev/urandom > "$TOPO_DIR/big.bin"
for i in 1 2 3; do cp "$TOPO_DIR/big.bin" "$TOPO_DIR/b$i/www/big.bin"; done
WANT=$(sha256sum < "$TOPO_DIR/big.bin")
# HITLESS_STATE=/dev/hugepages: the state on hugetlbfs whatever EAL runs with
# (the default "auto" follows EAL: /dev/shm under --no-huge). lib.sh removes the
# files from /dev/hugepages and /dev/shm at the end.
if [ -n "${HITLESS_STATE:-}" ]; then
	sed -i "s|^dp: {|dp: {\n  state = \"$HITLESS_STATE\";|" "$E2E_CONF"
fi
BASE_CONF=$(cat "$E2E_CONF")
cat >> "$E2E_CONF" <<CONF
services = (
  { name = "web4"; vip = "$VIP4"; port = 80; protocol = "tcp"; mode = "fnat";
    backends = ( { address = "$(topo_b4 1)"; port = 8080; }, { address = "$(topo_b4 2)"; port = 8080; },
                 { address = "$(topo_b4 3)"; port = 8080; } ); }
);
CONF

# Packets the running dp forwarded (either direction); 0 when it does not answer.
fwd_packets() {
	local rep n=0
	rep=$(topo_ctl '{"op":"stats.get"}' 2>/dev/null) || true
	while [[ $rep =~ \"(fwd|rev)_packets\":([0-9]+)(.*) ]]; do
		n=$((n + BASH_REMATCH[2]))
		rep=${BASH_REMATCH[3]}
	done
	echo "$n"
}

# restart LABEL: SIGTERM, wait for the exit, start again ($EDGELB_BUILD's binary),
# log the gap until the new process forwards its first packet.
GAPS=()
restart() {
	local pid t0 t1 ms t_stop t_up
	pid=$(cat "$TOPO_DIR/dp.pid")
	sizes
	t0=${EPOCHREALTIME/./}
	kill -TERM "$pid"
	for _ in $(seq 1 1000); do kill -0 "$pid" 2>/dev/null || break; sleep 0.01; done
	kill -0 "$pid" 2>/dev/null && fail "$1: edgelb-dp (pid $pid) did not stop on SIGTERM"
	t_stop=${EPOCHREALTIME/./}
	cp "$TOPO_DIR/dp.log" "$TOPO_DIR/dp.log.$pid"
	topo_dp_start "$E2E_CONF" "$LCORES" || fail "$1: edgelb-dp did not start again"
	t_up=${EPOCHREALTIME/./}
	until [ "$(fwd_packets)" -gt 0 ]; do
		[ $((${EPOCHREALTIME/./} - t0)) -lt 30000000 ] || fail "$1: nothing forwarded 30 s after SIGTERM"
		sleep 0.005
	done
	t1=${EPOCHREALTIME/./}
	ms=$(((t1 - t0) / 1000))
	GAPS+=("$ms")
	check "$1: the new process kept the connections ($(grep -o 'worker 0: [0-9]* connections kept' "$TOPO_DIR/dp.log"))" \
		grep -q 'connections kept' "$TOPO_DIR/dp.log"
	log "$1: stopped in $(((t_stop - t0) / 1000)) ms, started (control socket) after $(((t_up - t0) / 1000)) ms, first packet forwarded after $ms ms"
}

# progressing: wait until every running download received data since sizes were
# taken (the TCP flows recovered from the gap); logs how long that took.
progressing() {
	local t0 i n stuck
	t0=${EPOCHREALTIME/./}
	while :; do
		stuck=0
		for i in "${!DL_FILES[@]}"; do
			kill -0 "${DL_PIDS[$i]}" 2>/dev/null || continue
			n=$(stat -c %s "${DL_FILES[$i]}" 2>/dev/null || echo 0)
			[ "$n" -gt "${DL_SIZES[$i]}" ] || stuck=$((stuck + 1))
		done
		[ "$stuck" = 0 ] && break
		[ $((${EPOCHREALTIME/./} - t0)) -lt 60000000 ] || fail "$1: $stuck downloads received nothing for 60 s"
		sleep 0.2
	done
	log "$1: every download received data again $(((${EPOCHREALTIME/./} - t0) / 1000)) ms after the first forwarded packet"
}

sizes() {
	local i
	DL_SIZES=()
	for i in "${!DL_FILES[@]}"; do DL_SIZES[i]=$(stat -c %s "${DL_FILES[$i]}" 2>/dev/null || echo 0); done
}

# downloads N TAG: start N downloads in the background (pids in DL_PIDS).
DL_PIDS=()
DL_FILES=()
DL_SIZES=()
downloads() {
	local i
	DL_PIDS=()
	DL_FILES=()
	for i in $(seq 1 "$1"); do
		in_c curl -s -m 400 -o "$TOPO_DIR/dl-$2-$i" "$(url "$VIP4" 80 /slow)" &
		DL_PIDS+=("$!")
		DL_FILES+=("$TOPO_DIR/dl-$2-$i")
		e2e_bg "$!"
	done
}

# intact N TAG: wait for the downloads, count the complete and equal ones (in
# $good: wait needs this shell, not a $(...) subshell).
intact() {
	local i rc
	good=0
	for i in $(seq 1 "$1"); do
		rc=0
		wait "${DL_PIDS[$((i - 1))]}" || rc=$?
		if [ "$rc" = 0 ] && [ "$(sha256sum < "$TOPO_DIR/dl-$2-$i")" = "$WANT" ]; then
			good=$((good + 1))
		else
			log "download $2-$i: curl exit $rc, $(stat -c %s "$TOPO_DIR/dl-$2-$i" 2>/dev/null || echo 0) bytes"
		fi
	done
}

# Still running: the restarts happened in the middle of the downloads.
running() { local p n=0; for p in "${DL_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done; echo $n; }

topo_dp_start "$E2E_CONF" "$LCORES" || fail "edgelb-dp did not start"
wait_answer "$VIP4" 80
grep -q 'starts empty: new file' "$TOPO_DIR/dp.log" || fail "first start: no new state file in the log"
log "first start: $(grep -o 'persistent state in [^:]*' "$TOPO_DIR/dp.log")"

downloads "$N" file
sleep 3
for r in 1 2 3 4 5; do
	restart "restart $r of 5"
	progressing "restart $r of 5"
	check "restart $r: $(running) of $N downloads still running" [ "$(running)" = "$N" ]
done

# A rebuilt binary: the same objects linked again into another file.
NEWB=$TOPO_DIR/rebuilt
mkdir -p "$NEWB/dp"
link=$(cd "$EDGELB_BUILD" && ninja -t commands dp/edgelb-dp | tail -1)
(cd "$EDGELB_BUILD" && eval "${link/-o dp\/edgelb-dp /-o $NEWB/dp/edgelb-dp } -Wl,--build-id=0x$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')") ||
	fail "relinking edgelb-dp failed"
cmp -s "$EDGELB_BUILD/dp/edgelb-dp" "$NEWB/dp/edgelb-dp" && fail "the relinked binary is the same file"
ok "relinked edgelb-dp into $NEWB/dp (a different file)"
OLDB=$EDGELB_BUILD
EDGELB_BUILD=$NEWB restart "restart with the rebuilt binary"
EDGELB_BUILD=$OLDB
progressing "restart with the rebuilt binary"
check "after the rebuilt binary: $(running) of $N downloads still running" [ "$(running)" = "$N" ]

intact "$N" file
check "$good of $N downloads intact byte for byte across 6 restarts" [ "$good" = "$N" ]
log "gaps (ms): ${GAPS[*]}"

# ---- services from edgelb-cp (standalone) instead of the file -----------------
pid=$(cat "$TOPO_DIR/dp.pid")
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
echo "$BASE_CONF" > "$E2E_CONF"
topo_dp_start "$E2E_CONF" "$LCORES" || fail "edgelb-dp without services did not start"
cp_conf "$TOPO_DIR/cp.conf"
cp_start "$TOPO_DIR/cp.conf" || fail "edgelb-cp did not start"
E2E_PIDS+=("$(cat "$TOPO_DIR/cp.pid")")
cat > "$TOPO_DIR/web.json" <<LB
{ "name": "web", "namespace": "hitless", "ip_families": ["IPv4"],
  "ports": [{"name": "http", "port": 80, "protocol": "TCP", "target_port": 8080}],
  "backends": [{"address": "$(topo_b4 1)"}, {"address": "$(topo_b4 2)"}, {"address": "$(topo_b4 3)"}] }
LB
ip netns exec "$TOPO_NS_SW" "$EDGELB_BUILD/cp/edgelbctl" --server "http://$CP_API" \
	create -f "$TOPO_DIR/web.json" >/dev/null || fail "edgelbctl create failed"
cp_wait_synced || fail "edgelb-cp never synced the dp"
wait_answer "$VIP4" 80
downloads 10 cp
sleep 3
for r in 1 2; do
	restart "cp: restart $r of 2"
	progressing "cp: restart $r of 2"
done
intact 10 cp
check "cp resyncing: $good of 10 downloads intact byte for byte across 2 restarts" [ "$good" = 10 ]
cp_stop

# ---- an incompatible layout starts empty and says so ----------------------------
pid=$(cat "$TOPO_DIR/dp.pid")
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
sed -i 's/capacity = 65536;/capacity = 32768;/' "$E2E_CONF"
topo_dp_start "$E2E_CONF" "$LCORES" || fail "edgelb-dp with another capacity did not start"
check "capacity changed: the log says the table starts empty ($(grep -o 'ct-w0 starts empty: .*' "$TOPO_DIR/dp.log"))" \
	grep -q 'ct-w0 starts empty: conntrack capacity 65536, now 32768' "$TOPO_DIR/dp.log"
conns=$(topo_ctl '{"op":"stats.get"}' | json 'r["result"]["global"]["connections"]' 2>/dev/null || echo "?")
log "connections right after the start: $conns"
check "edgelb-dp still running" e2e_dp_alive
