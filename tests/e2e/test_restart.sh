#!/usr/bin/env bash
# shellcheck disable=SC2119 # e2e_up takes optional arguments, not the script's
# test_restart.sh - the dp serves the services of its configuration file, also
# after it was killed and started again, with nobody talking to its control socket.
#
# The dp config holds three services (web4 VIP4:80, web6 VIP6:80 tcp fnat, dns4
# VIP4:53 udp -> :5353). Checks, without any control-socket request:
#  - after the first start, curl to both VIPs and a UDP query are answered;
#  - after kill -9 and a start with the same file, the first successful curl
#    comes within 5 s of the dp being up (its control socket listening: no
#    request is sent), and then curl (v4, v6) and UDP work again.
E2E_NAME=restart
E2E_NO_START=1
# shellcheck source=tests/e2e/lib.sh disable=SC2034
source "$(dirname "$0")/lib.sh"

e2e_up
backends() { # v4|v6 port
	local i sep="" out=""
	for i in 1 2 3; do
		out="$out$sep{ address = \"$(topo_b"${1#v}" "$i")\"; port = $2; }"
		sep=", "
	done
	echo "( $out )"
}
cat >> "$E2E_CONF" <<CONF
services = (
  { name = "web4"; vip = "$VIP4"; port = 80; backends = $(backends v4 8080); },
  { name = "web6"; vip = "$VIP6"; port = 80; protocol = "tcp"; mode = "fnat";
    backends = $(backends v6 8080); },
  { name = "dns4"; vip = "$VIP4"; port = 53; protocol = "udp"; backends = $(backends v4 5353); }
);
CONF
log "dp config $E2E_CONF with services web4, web6, dns4"

# serving LABEL: both VIPs answer curl, the UDP service answers.
serving() {
	local ids out
	ids=$(many_ids 6 "$VIP4" 80)
	check "$1: 6 of 6 connections to $VIP4:80 answered ($(sort -u <<<"$ids" | tr '\n' ' '))" \
		[ "$(count ERR <<<"$ids")" = 0 ]
	ids=$(many_ids 6 "$VIP6" 80)
	check "$1: 6 of 6 connections to [$VIP6]:80 answered ($(sort -u <<<"$ids" | tr '\n' ' '))" \
		[ "$(count ERR <<<"$ids")" = 0 ]
	out=$(in_c "$PY" "$E2E_SRC/tests/e2e/udp_client.py" "$VIP4" 53 3)
	check "$1: 3 of 3 UDP queries to $VIP4:53 answered" \
		[ "$(grep -c ' b[123]:q' <<<"$out")" = 3 ]
}

# start_and_wait LABEL: start the dp, wait for the first answer (bounded). The
# dp's own start (EAL, ports) is timed apart: on a loaded box it alone takes
# seconds. Its control socket appearing marks the end of it.
start_and_wait() {
	local t0 t1 ms
	t0=${EPOCHREALTIME/./}
	topo_dp_start "$E2E_CONF" || fail "$1: edgelb-dp did not start"
	t1=${EPOCHREALTIME/./}
	for _ in $(seq 1 20); do
		in_c curl -s -m 1 "$(url "$VIP4" 80 /id)" >/dev/null 2>&1 && break
	done
	ms=$(((${EPOCHREALTIME/./} - t1) / 1000))
	in_c curl -s -m 1 "$(url "$VIP4" 80 /id)" >/dev/null 2>&1 || fail "$1: no answer from $VIP4:80"
	log "$1: dp up $(((t1 - t0) / 1000)) ms after the start"
	check "$1: first answer from $VIP4:80 ${ms} ms after the dp was up (<= 5000)" [ "$ms" -le 5000 ]
}

start_and_wait "first start"
serving "first start"

pid=$(cat "$TOPO_DIR/dp.pid")
kill -9 "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "edgelb-dp (pid $pid) survived kill -9"
ok "edgelb-dp (pid $pid) killed with SIGKILL"
if in_c curl -s -m 1 "$(url "$VIP4" 80 /id)" >/dev/null 2>&1; then fail "answered without a dp"; fi
ok "$VIP4:80 does not answer while the dp is down"

start_and_wait "after restart"
serving "after restart"

log "drops: $(e2e_drops)"
check "edgelb-dp still running" e2e_dp_alive
