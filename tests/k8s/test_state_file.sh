#!/bin/bash
# test_state_file.sh - the state file in kubernetes mode keeps allocations only
# (issue 10 finding 7, TESTS.md #15). 200 Services x 30 endpoints: endpoint flips
# write nothing (the old code rewrote the whole 911 KB file, two fsyncs, per flip);
# the file has no backends; a restart brings every address back; a state file of
# another version is refused; an address no pool holds any more is logged when the
# file is loaded. Figures (state file writes and bytes of the initial sync, file
# size) are printed.
. "$(dirname "$0")/lib.sh"
k8s_begin state_file 170

N=${N:-200}
EPS=${EPS:-30}
fake_start
PORT=$(free_port)
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT" false \
	'{ name = "public"; addresses = ["198.18.0.100-198.18.1.199"]; }'
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced

# N Services with one slice of EPS endpoints each, from one Python process (fast).
"$PY" - "$FAKE_PORT" "$N" "$EPS" <<'EOF' || die "creating the Services"
import http.client, json, sys
port, n, eps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port)
def post(path, obj):
    c.request("POST", path, json.dumps(obj), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 201, (path, r.status)
for i in range(n):
    post("/api/v1/namespaces/default/services", {"metadata": {"name": "s%d" % i}, "spec": {
        "type": "LoadBalancer", "loadBalancerClass": "edgelb.io/lb",
        "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
    post("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", {
        "metadata": {"name": "s%d-a" % i, "labels": {"kubernetes.io/service-name": "s%d" % i}},
        "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
        "endpoints": [{"addresses": ["198.19.%d.%d" % (10 + k, 1 + i % 250)],
                       "conditions": {"ready": True}} for k in range(eps)]})
EOF
t0=$(now_ms)
all_set() { [ "$(status_map default | awk 'NF == 2' | wc -l)" = "$N" ]; }
wait_until 60 all_set || die "$N Services get addresses" "$(status_map default | awk 'NF != 2' | head)"
ok "$N Services x $EPS endpoints have addresses ($(( $(now_ms) - t0 )) ms)"
w0=$(metric edgelb_state_file_writes_total)
b0=$(metric edgelb_state_file_bytes_total)
check "edgelb_state_file_writes_total and _bytes_total are exported ($w0, $b0)" bash -c "[ -n '$w0' ] && [ -n '$b0' ]"
ino0=$(stat -c %i "$WORK/state.json")   # every rewrite is a rename: a new inode
size=$(stat -c %s "$WORK/state.json")
log "initial sync: $w0 state file writes, $b0 bytes written; state.json is $size bytes"
check "the state file has no backends" bash -c "! grep -q '\"backends\"' '$WORK/state.json'"
check "the state file records uids" bash -c "[ \$(jq '[.loadbalancers[] | select(.uid != null)] | length' '$WORK/state.json') = $N ]"

# Flip one endpoint in 20 slices: the dp's backends change, the state file does not.
for i in $(seq 0 19); do
	fake_req PATCH "$(eps_path default "s$i-a")" \
		"$(jq -cn --argjson e "$(fake_req GET "$(eps_path default "s$i-a")" | jq -c '.endpoints | .[0].conditions.ready = false')" '{endpoints: $e}')" \
		application/merge-patch+json >/dev/null
done
wait_until 10 '[ "$(cp_lb default s19 | jq "[.backends[] | select(.state == \"active\")] | length")" = $((EPS - 1)) ]' &&
	ok "the flips reached the cp (s19 has $((EPS - 1)) active backends)" || nok "the flips reached the cp"
sleep 0.5
eq "20 endpoint flips: state file writes" "$(( $(metric edgelb_state_file_writes_total) - w0 ))" 0
eq "20 endpoint flips: bytes written" "$(( $(metric edgelb_state_file_bytes_total) - b0 ))" 0
eq "20 endpoint flips: state.json was not replaced (same inode)" "$(stat -c %i "$WORK/state.json")" "$ino0"

# Restart: every address comes back from the file.
want=$(status_map default)
proc_stop cp TERM
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced
wait_until 10 '[ "$(cp_map default)" = "$want" ]' && ok "restart: the cp holds the same $N addresses" ||
	nok "restart: the cp holds the same $N addresses" "$(diff <(echo "$want") <(cp_map default) | head)"
eq "restart: no address moved in the status" "$(status_map default)" "$want"
check "restart: nothing was logged as moved" bash -c "! grep -q 'in no pool any more' '$WORK/cp.log'"

# A pool that no longer holds one address: the load logs it.
proc_stop cp TERM
IP0=$(svc_ips default s0)
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT" false \
	"{ name = \"public\"; addresses = [\"198.18.0.101-198.18.1.199\"]; }"
check "s0 had 198.18.0.100 (the address the new pool leaves out)" [ "$IP0" = 198.18.0.100 ]
cp_start cp "$WORK/cp.conf" "$PORT"
grep -q "default/s0: 198.18.0.100 is in no pool any more" "$WORK/cp.log" &&
	ok "load: the address that had to change is logged ($(grep 'in no pool any more' "$WORK/cp.log" | head -1 | cut -c1-100))" ||
	nok "load: the address that had to change is logged" "$(grep state: "$WORK/cp.log")"

# Another version is refused.
proc_stop cp TERM
jq '.version = 2' "$WORK/state.json" >"$WORK/state2.json" && mv "$WORK/state2.json" "$WORK/state.json"
out=$(timeout 10 "$CP_BIN" --config "$WORK/cp.conf" 2>&1)
rc=$?
check "a state file of version 2 is refused (exit $rc)" [ "$rc" != 0 ] && [ "$rc" != 124 ]
printf '%s\n' "$out" | grep -q "version 2, this edgelb-cp reads version 1" && ok "and the message says so" ||
	nok "and the message says so" "$out"
k8s_end
