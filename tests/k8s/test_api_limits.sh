#!/bin/bash
# test_api_limits.sh - the cp's HTTP API holds up before authentication (issue 10
# finding 8, TESTS.md #16). It lives in this suite for its harness (processes on
# loopback, no namespaces, no dp); the cp runs in standalone mode with a token.
#  1. 40 concurrent unauthenticated 4 MiB POSTs: all 401, and the cp's peak RSS
#     (VmHWM) grows by less than 30 MB (the old code buffered every body: +170 MB).
#  2. An authenticated POST announcing 5 MiB: 413 at once.
#  3. 1,000 connections from 127.0.0.2 that send half a request and stall:
#     /healthz from 127.0.0.1 still answers 30 times out of 30 (per-address limit).
#  4. The token check: a wrong token of the right length is refused, the right one
#     accepted.
. "$(dirname "$0")/lib.sh"
k8s_begin api_limits 110

PORT=$(free_port)
TOKEN=s3cret-token-0123456789abcdef
cat >"$WORK/cp.conf" <<EOF
mode = "standalone";
dp_socket = "$WORK/no-dp.sock";
state_file = "$WORK/state.json";
api: { listen = "127.0.0.1:$PORT"; token = "$TOKEN"; };
pools = ( { name = "public"; addresses = ["198.18.0.100-198.18.0.199"]; } );
EOF
cp_start cp "$WORK/cp.conf" "$PORT"
PID=${PIDS[cp]}
hwm() { awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$PID/status"; }
rss0=$(hwm)

# ---- 1. big unauthenticated bodies
out=$("$PY" - "$PORT" <<'EOF'
import socket, sys, threading
port, body = int(sys.argv[1]), b"x" * (4 << 20)
codes = []
def one():
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        s.sendall(b"POST /v1/loadbalancers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        try:
            s.sendall(body)
        except OSError:
            pass   # the server answered and closed without reading: fine
        codes.append(s.recv(64).split(b" ")[1].decode())
    except (OSError, IndexError) as e:
        codes.append("error:%s" % e)
    finally:
        s.close()
ts = [threading.Thread(target=one) for _ in range(40)]
[t.start() for t in ts]
[t.join() for t in ts]
print(" ".join(sorted(set(codes))), len(codes))
EOF
)
rss1=$(hwm)
log "40 x 4 MiB unauthenticated POSTs: answers [$out]; peak RSS ${rss0} -> ${rss1} MB"
eq "40 unauthenticated 4 MiB POSTs: all 401" "$out" "401 40"
check "peak RSS grew by less than 30 MB (${rss0} -> ${rss1} MB)" [ $((rss1 - rss0)) -lt 30 ]

# ---- 2. an announced giant, authenticated
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' -H 'Expect:' -X POST --data-binary @<(head -c $((5 << 20)) /dev/zero) \
	"http://127.0.0.1:$PORT/v1/loadbalancers")
eq "authenticated POST of 5 MiB: 413" "$code" 413

# ---- 3. slow clients from another address
"$PY" - "$PORT" "$WORK/slow.ready" <<'EOF' &
import resource, socket, sys, time
port, ready = int(sys.argv[1]), sys.argv[2]
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
socks = []
for i in range(1000):
    try:
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.settimeout(2)
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")   # and never the end of the headers
        socks.append(s)
    except OSError:
        pass
open(ready, "w").write("%d\n" % len(socks))
time.sleep(25)
EOF
SLOW=$!
CLEANUPS+=("kill $SLOW")
wait_until 20 '[ -s "$WORK/slow.ready" ]' || nok "the slow clients connected"
log "slow clients: $(cat "$WORK/slow.ready") connections opened from 127.0.0.2"
okn=0
for i in $(seq 30); do
	curl -sf --max-time 2 "http://127.0.0.1:$PORT/healthz" >/dev/null && okn=$((okn + 1))
done
eq "/healthz with 1,000 stalled connections from 127.0.0.2: answered" "$okn/30" "30/30"
kill "$SLOW" 2>/dev/null

# ---- 4. the token
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer ${TOKEN%?}X" "http://127.0.0.1:$PORT/v1/pools")
eq "a wrong token of the same length: 401" "$code" 401
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/pools")
eq "the right token: 200" "$code" 200
k8s_end
