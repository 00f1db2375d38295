#!/usr/bin/env bash
# test_samepick.sh - every box picks the same backend for the same client, even
# when the boxes got their services in different orders. The service has ClientIP
# session affinity; box 2 got another load balancer before it (so the service sits
# in other directory slots of its dp than on box 1). Each of 8 client addresses
# opens 30 connections; the router's L4 hash spreads them over both boxes, each
# box's first pick for a client comes from the hash of the client address, and
# every connection of one client must reach the same backend. The dps' Maglev
# table digests (service.list, edgelbctl stats) are equal on both boxes.
CL_NAME=same
CL_AFFINITY=1
CL_PRE_LB_BOXES=2
CL_PRE_LB='{"name": "first", "pool": "other", "ports": [{"port": 80, "target_port": 8080},
  {"port": 443, "target_port": 8080}, {"port": 53, "protocol": "UDP", "target_port": 8080}],
  "backends": [{"address": "198.19.0.11"}]}'
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"

cl_up 2
cl_box_start 1
cl_box_start 2
cl_wait_converged "1 2" 20000
ok "both boxes announced"
for i in $(seq 20 27); do ip -n "$NS_C" addr add "198.18.100.$i/24" dev c0; done
c1=$(ct_created 1)
c2=$(ct_created 2)
out=$(in_c $PY - "$VIP4" <<'PY'
import socket, sys
vip = sys.argv[1]
for i in range(20, 28):
    src = f"198.18.100.{i}"
    got = {}
    for _ in range(30):
        s = socket.socket()
        s.settimeout(2)
        s.bind((src, 0))
        try:
            s.connect((vip, 80))
            s.sendall(b"GET /id HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                d = s.recv(4096)
                if not d:
                    break
                data += d
            b = data.split(b"\r\n\r\n", 1)[1].strip().decode()
        except OSError as e:
            b = "error"
        finally:
            s.close()
        got[b] = got.get(b, 0) + 1
    print(src, " ".join(f"{k}={v}" for k, v in sorted(got.items())))
PY
)
d1=$(($(ct_created 1) - c1))
d2=$(($(ct_created 2) - c2))
echo "$out" | while read -r line; do log "$line"; done
log "connections: box 1 $d1, box 2 $d2"
check "both boxes carried connections" test "$d1" -ge 30 -a "$d2" -ge 30
check "every client reached one backend through both boxes" \
	test "$(echo "$out" | awk 'NF != 2' | wc -l)" = 0
check "no connection failed" test "$(echo "$out" | grep -c error)" = 0
check "the clients do not all share one backend" \
	test "$(echo "$out" | awk '{split($2, a, "="); print a[1]}' | sort -u | wc -l)" -ge 2
# The boxes' tables are the same: equal digests for every service of "web".
digests() { # k
	dp_ctl "$1" '{"op":"service.list"}' |
		json "' '.join(sorted(s['name'] + '=' + s['table_digest'] for s in r['result']['services'] if s['name'].startswith('default/web')))"
}
d1=$(digests 1)
d2=$(digests 2)
log "box 1 tables: $d1"
check "both boxes have the same Maglev table digests (box 2: $d2)" test -n "$d1" -a "$d1" = "$d2"
first=$(echo "$d1" | awk '{split($1, a, "="); print a[2]}')
ctl 1 stats > "$CL_DIR/stats.txt"
check "edgelbctl stats shows the digest ($first)" grep -q "$first" "$CL_DIR/stats.txt"
log "all checks passed"
