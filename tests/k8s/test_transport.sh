#!/bin/bash
# test_transport.sh - the controller's API client (issue 10 finding 9, TESTS.md #17):
#  1. connections are reused: 20 Services' writes (finalizer, status, Events, Lease)
#     come over a handful of TCP connections (one per cp thread), not one each;
#  2. a half-open watch is noticed in seconds: a proxy between the cp and the fake
#     server stops forwarding on the open connections (they stay up, as after a
#     silent network failure); with kubernetes.watch_idle_s = 3 the cp re-opens its
#     watches and sees a new Service within 8 s (the old code waited for its 320 s
#     watch deadline);
#  3. EndpointSlices with 253-character names that differ only at the end are two
#     slices, not one (cache keys are not cut).
. "$(dirname "$0")/lib.sh"
k8s_begin transport 110

FAKE_ARGS="--bookmark-interval 1"
fake_start
P80='[{"name":"http","port":80,"targetPort":8080}]'

# ---- 1. connection reuse
PORT=$(free_port)
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT"
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced
fake_req DELETE /fake/requests >/dev/null
for i in $(seq 20); do svc_create default "r$i" "$(lb_spec "$P80")"; done
wait_until 10 '[ "$(status_map default | awk "NF == 2" | wc -l)" = 20 ]' || nok "20 Services get addresses"
sleep 2.5   # a Lease renewal too
fake_req GET /fake/requests >"$WORK/reqs.json"
nreq=$(jq '[.requests[] | select(.userAgent | startswith("edgelb")) | select(.path | test("watch=1") | not)] | length' "$WORK/reqs.json")
nconn=$(jq '[.requests[] | select(.userAgent | startswith("edgelb")) | select(.path | test("watch=1") | not) | .client] | unique | length' "$WORK/reqs.json")
log "20 Services: $nreq requests over $nconn TCP connections"
check "$nreq requests of the cp came over <= 6 connections ($nconn)" [ "$nconn" -le 6 ]
check "(and there were many requests: $nreq >= 60)" [ "$nreq" -ge 60 ]
proc_stop cp TERM

# ---- 3. long slice names (before the proxy part, on the direct connection)
PORT=$(free_port)
CP_K8S_EXTRA='watch_idle_s = 3; leader_election: { enabled = false; };'
long=$(printf 'e%.0s' $(seq 240))
svc_create default longs "$(lb_spec "$P80")"
eps_create default "${long}aaaaaaaaaaaaa" longs IPv4 '[{"name":"http","port":8080}]' '[{"addresses":["198.19.3.1"],"conditions":{"ready":true}}]'
eps_create default "${long}bbbbbbbbbbbbb" longs IPv4 '[{"name":"http","port":8080}]' '[{"addresses":["198.19.3.2"],"conditions":{"ready":true}}]'

# ---- 2. half-open watches, through a proxy that can stop forwarding
cat >"$WORK/proxy.py" <<'EOF'
import os, signal, socket, sys, threading
listen, target, portfile = 0, int(sys.argv[1]), sys.argv[2]
hole = threading.Event()          # set: existing connections forward nothing any more
conns = []
def pump(a, b, gen):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            if hole.is_set() and gen < hole.gen:
                continue          # swallowed: the connection stays open, silent
            b.sendall(d)
    except OSError:
        pass
hole.gen = 0
def on_usr1(*_):
    hole.gen = len(conns) + 1
    hole.set()
signal.signal(signal.SIGUSR1, on_usr1)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(64)
open(portfile + ".tmp", "w").write("%d\n" % s.getsockname()[1])
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = s.accept()
    u = socket.create_connection(("127.0.0.1", target))
    conns.append((c, u))
    gen = len(conns)
    threading.Thread(target=pump, args=(c, u, gen), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, gen), daemon=True).start()
EOF
proc_bg proxy "$PY" "$WORK/proxy.py" "$FAKE_PORT" "$WORK/proxy.port"
wait_until 5 '[ -s "$WORK/proxy.port" ]' || die "proxy did not start"
PROXY=http://127.0.0.1:$(cat "$WORK/proxy.port")
sed "s|server: $FAKE|server: $PROXY|" "$WORK/kubeconfig" >"$WORK/kubeconfig.proxy"
cp_conf "$WORK/cp2.conf" "$WORK/state2.json" "$WORK/no-dp.sock" "$PORT"
sed -i "s|$WORK/kubeconfig\"|$WORK/kubeconfig.proxy\"|" "$WORK/cp2.conf"
cp_start cp2 "$WORK/cp2.conf" "$PORT"
cp_wait_synced
wait_until 5 '[ "$(cp_lb default longs | jq ".backends | length")" = 2 ]' &&
	ok "two slices whose 253-character names differ at the end: both backends" ||
	nok "two slices whose 253-character names differ at the end: both backends" "$(cp_lb default longs | jq -c .backends)"
kill -USR1 "${PIDS[proxy]}"
sleep 0.5
t0=$(now_ms)
svc_create default after "$(lb_spec "$P80")"
if wait_until 8 '[ "$(cp_lb default after)" != null ]'; then
	ok "half-open watch: the cp saw a new Service $(( $(now_ms) - t0 )) ms later (watch_idle_s 3)"
else
	nok "half-open watch: the cp saw a new Service within 8 s"
fi
grep -q "nothing received for 3 s: reconnecting" "$WORK/cp2.log" && ok "the silent watch is logged" ||
	nok "the silent watch is logged"
k8s_end
