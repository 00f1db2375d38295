#!/bin/bash
# test_http2.sh - the controller speaks HTTP/2 where the API server offers it
# (issue 10 finding 9), as a real kube-apiserver does over TLS (ALPN h2).
#
# nghttpx (Debian's nghttp2-proxy) terminates TLS with ALPN h2 in front of the
# fake API server (HTTP/1.1 behind it) and logs each request with the protocol the
# client negotiated and its TCP connection. The cp's kubeconfig names
# https://127.0.0.1:PORT with the proxy's CA. Then:
#  1. the cp lists and watches through it: 12 Services get addresses (status
#     writes, finalizers, Events, the Lease all over the proxy);
#  2. every request of the cp was HTTP/2 (ALPN h2), none HTTP/1.1;
#  3. they shared few TCP connections: one per cp thread that talks to the API
#     (<= 7 for 12 Services' worth of requests, as over HTTP/1.1);
#  4. a Service created after the sync reaches the cp through the watch stream
#     over HTTP/2 and gets its address.
. "$(dirname "$0")/lib.sh"
k8s_begin http2 90

command -v nghttpx >/dev/null || die "nghttpx not installed (apt-get install nghttp2-proxy: scripts/setup.sh)"
command -v openssl >/dev/null || die "openssl not installed"
fake_start
P80='[{"name":"http","port":80,"targetPort":8080}]'

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$WORK/h2.key" -out "$WORK/h2.crt" >/dev/null 2>&1 || die "openssl could not make a certificate"
H2PORT=$(free_port)
# $alpn: what the client negotiated (h2 or http/1.1); $remote_port: its TCP connection.
proc_bg h2proxy nghttpx --frontend="127.0.0.1,$H2PORT" --backend="127.0.0.1,$FAKE_PORT" \
	--workers=1 --no-ocsp --no-via --backend-read-timeout=1h --frontend-read-timeout=1h \
	--stream-read-timeout=0 --accesslog-file="$WORK/h2.access" \
	--accesslog-format='$alpn $remote_port $method $status $path $http_user_agent' \
	--errorlog-file="$WORK/h2.error" "$WORK/h2.key" "$WORK/h2.crt"
wait_until 5 "curl -s --cacert '$WORK/h2.crt' https://127.0.0.1:$H2PORT/healthz >/dev/null" ||
	die "nghttpx did not start" "$(cat "$WORK/h2.error")"
curl -s --http2 --cacert "$WORK/h2.crt" -o /dev/null -w '%{http_version}' \
	"https://127.0.0.1:$H2PORT/healthz" | grep -q '^2' || die "the proxy does not offer h2"

cat >"$WORK/kubeconfig.h2" <<KC
apiVersion: v1
kind: Config
clusters:
- name: h2
  cluster:
    server: https://127.0.0.1:$H2PORT
    certificate-authority: $WORK/h2.crt
contexts:
- name: h2
  context: {cluster: h2, user: h2, namespace: default}
current-context: h2
users:
- name: h2
  user: {}
KC
PORT=$(free_port)
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT"
sed -i "s|$WORK/kubeconfig\"|$WORK/kubeconfig.h2\"|" "$WORK/cp.conf"
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced
for i in $(seq 12); do svc_create default "h$i" "$(lb_spec "$P80")"; done
wait_until 15 '[ "$(status_map default | awk "NF == 2" | wc -l)" = 12 ]' &&
	ok "12 Services got addresses through the TLS/h2 proxy" ||
	nok "12 Services got addresses through the TLS/h2 proxy" "$(status_map default)"

t0=$(now_ms)
svc_create default late "$(lb_spec "$P80")"
wait_until 10 'svc_nips_is default late 1' &&
	ok "a Service created after the sync came through the watch stream ($(( $(now_ms) - t0 )) ms)" ||
	nok "a Service created after the sync came through the watch stream"
proc_stop cp TERM   # ends its watches: their requests are logged now
sleep 0.5
grep ' edgelb' "$WORK/h2.access" >"$WORK/h2.cp" # the cp's requests (not this script's curl)
awk '{print $1}' "$WORK/h2.cp" | sort | uniq -c | sed 's/^/# alpn: /'
n=$(wc -l <"$WORK/h2.cp")
nh2=$(awk '$1 == "h2"' "$WORK/h2.cp" | wc -l)
nconn=$(awk '$1 == "h2" {print $2}' "$WORK/h2.cp" | sort -u | wc -l)
nwatch=$(grep -c 'watch=1' "$WORK/h2.cp")
log "$n requests through the proxy, $nh2 over h2, on $nconn TCP connections, $nwatch watches"
awk '{sub(/\?.*/, "", $5); k = $2 " " $3 " " $5; c[k]++} END {for (k in c) print c[k], k}' \
	"$WORK/h2.cp" | sort -k2,2 -k1,1nr | sed 's/^/#   requests, connection (client port), method, path: /'

check "the cp made requests through the proxy ($n >= 40, of which $nwatch watches)" [ "$n" -ge 40 -a "$nwatch" -ge 2 ]
eq "every request of the cp was HTTP/2 (ALPN h2)" "$nh2" "$n"
# One connection per cp thread that talks to the API (Lease, the three watches:
# Services, EndpointSlices, Nodes; the write queue), as over HTTP/1.1
# (test_transport), not one per request.
check "they shared <= 7 TCP connections ($nconn)" [ "$nconn" -le 7 ]
k8s_end
