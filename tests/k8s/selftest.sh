#!/bin/bash
# selftest.sh - check tests/k8s/fake-apiserver against the real kubectl and curl.
#
#   tests/k8s/selftest.sh            (KUBECTL=/path/to/kubectl to use another one)
#
# Starts its own server on a free loopback port, runs every check (bounded: each command
# has a timeout and the whole run a watchdog), stops the server by its PID, and ends with
# "N passed, N failed". Exit status 0 only when nothing failed.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
KUBECTL=${KUBECTL:-kubectl}
PY=/usr/bin/python3   # the system Python: a pyenv shim earlier in PATH costs seconds per call
WORK=$(mktemp -d /tmp/fake-apiserver-selftest.XXXXXX)
SRV_PID=
WATCHDOG_PID=
BG_PIDS=()

cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
		kill -TERM "$SRV_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SRV_PID" 2>/dev/null
	fi
	[ -n "$WATCHDOG_PID" ] && kill "$WATCHDOG_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "selftest: interrupted"; exit 2' INT TERM

# Watchdog: the whole run may take at most 300 s.
( trap 'kill $sp 2>/dev/null; exit 0' TERM
  sleep 300 & sp=$!
  wait $sp && { echo "selftest: watchdog: took too long" >&2; kill -TERM $$; } ) >/dev/null 2>&1 &
WATCHDOG_PID=$!

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
nok() {
	FAIL=$((FAIL + 1)); echo "FAIL - $1"
	if [ $# -gt 1 ] && [ -n "$2" ]; then printf '%s\n' "$2" | head -20 | sed 's/^/         /'; fi
}
# check DESC COMMAND...: passes when the command succeeds
check() { local d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else nok "$d"; fi; }
# has DESC TEXT NEEDLE (grep -E)
has() { if printf '%s\n' "$2" | grep -Eq -- "$3"; then ok "$1"; else nok "$1" "$2"; fi; }
hasnt() { if printf '%s\n' "$2" | grep -Eq -- "$3"; then nok "$1" "$2"; else ok "$1"; fi; }
eq() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "want [$3], got [$2]"; fi; }

# py FILE EXPR: evaluate a Python expression over the JSON document d in FILE
py() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>&1; }

# ------------------------------------------------------------------ server
"$HERE/fake-apiserver" --port 0 --port-file "$WORK/port" --verbose >"$WORK/server.out" 2>"$WORK/server.log" &
SRV_PID=$!
for _ in $(seq 150); do
	[ -s "$WORK/port" ] && curl -sf --max-time 2 "http://127.0.0.1:$(cat "$WORK/port")/healthz" >/dev/null && break
	sleep 0.2
done
PORT=$(cat "$WORK/port" 2>/dev/null)
if [ -z "$PORT" ]; then
	echo "selftest: the server did not start"; cat "$WORK/server.log"
	echo "0 passed, 1 failed"; exit 1
fi
B=http://127.0.0.1:$PORT
echo "# fake-apiserver pid $SRV_PID on $B, kubectl: $($KUBECTL version --client 2>/dev/null | head -1)"

cat >"$WORK/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: $B
contexts:
- name: fake
  context: {cluster: fake, user: fake, namespace: default}
current-context: fake
users:
- name: fake
  user: {}
EOF
export KUBECONFIG=$WORK/kubeconfig
k() { timeout 30 "$KUBECTL" --cache-dir "$WORK/cache" --request-timeout=10s "$@" 2>&1; }
# kubectl before 1.29 validates against OpenAPI v2, which the fake does not serve
MINOR=$("$KUBECTL" version --client -o json 2>/dev/null | "$PY" -c 'import json,sys; print(int("".join(c for c in json.load(sys.stdin)["clientVersion"]["minor"] if c.isdigit())))' 2>/dev/null || echo 99)
APPLY=(apply)
if [ "$MINOR" -lt 29 ]; then APPLY=(apply --validate=false); echo "# kubectl 1.$MINOR: apply --validate=false"; fi

# curlj METHOD PATH [BODY] [CONTENT-TYPE]: body to $WORK/resp, prints the HTTP code
curlj() {
	local m=$1 p=$2 body=${3:-} ct=${4:-application/json}
	if [ -n "$body" ]; then
		curl -s --max-time 10 -o "$WORK/resp" -w '%{http_code}' -X "$m" -H "Content-Type: $ct" --data-binary "$body" "$B$p"
	else
		curl -s --max-time 10 -o "$WORK/resp" -w '%{http_code}' -X "$m" "$B$p"
	fi
}
rv_of() { curl -s --max-time 10 "$B$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])'; }
SVC=/api/v1/namespaces/default/services
EPS=/apis/discovery.k8s.io/v1/namespaces/default/endpointslices

# ------------------------------------------------------------------ discovery
eq "GET /version" "$(curlj GET /version)" 200
has "/api lists v1" "$(cat "$WORK/resp"; curlj GET /api >/dev/null; cat "$WORK/resp")" '"versions":\["v1"\]'
curlj GET /api/v1 >/dev/null
eq "/api/v1 has services, services/status, events, namespaces, endpoints" \
	"$(py "$WORK/resp" "sorted({'services','services/status','events','namespaces','endpoints'} - {r['name'] for r in d['resources']})")" "[]"
curlj GET /apis >/dev/null
has "/apis lists discovery.k8s.io/v1 and events.k8s.io/v1" "$(cat "$WORK/resp")" 'discovery.k8s.io/v1.*events.k8s.io/v1'
curlj GET /apis/discovery.k8s.io/v1 >/dev/null
has "/apis/discovery.k8s.io/v1 has endpointslices" "$(cat "$WORK/resp")" '"name":"endpointslices"'
code=$(curl -s --max-time 5 -o "$WORK/resp" -w '%{http_code} %{content_type}' \
	-H 'Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json' "$B/apis")
eq "aggregated-discovery Accept gets legacy JSON" "$code" "200 application/json"
eq "GET /openapi/v2 is 404" "$(curlj GET /openapi/v2)" 404
out=$(k api-resources)
has "kubectl api-resources: services, endpointslices" "$out" 'endpointslices +discovery.k8s.io/v1 +true +EndpointSlice'
out=$(k get ns)
has "kubectl get ns: default and kube-system" "$out" 'kube-system +Active'

# ------------------------------------------------------------------ watch from before anything exists
RV0=$(rv_of "$SVC")
curl -sN --max-time 290 "$B/api/v1/services?watch=1&resourceVersion=$RV0&allowWatchBookmarks=true&timeoutSeconds=280" >"$WORK/watch1" 2>/dev/null &
BG_PIDS+=($!)
WATCH1_PID=$!
sleep 0.5

# ------------------------------------------------------------------ kubectl apply (create)
out=$(k "${APPLY[@]}" -f "$HERE/testdata/svc-web.yaml")
has "kubectl apply: service created" "$out" '^service/web created'
out=$(k "${APPLY[@]}" -f "$HERE/testdata/eps-web.yaml")
has "kubectl apply: endpointslice created" "$out" 'endpointslice.discovery.k8s.io/web-abc12 created'
out=$(k get svc)
has "kubectl get svc: <pending>" "$out" '^web +LoadBalancer +198\.19\.255\.[0-9]+ +<pending> +80:3[0-9]+/TCP,443:3[0-9]+/TCP'
out=$(k get svc web -o jsonpath='{.spec.loadBalancerClass} {.metadata.annotations.edgelb\.io/address-pool} {.spec.ipFamilyPolicy} {.spec.ipFamilies} {.spec.sessionAffinity} {.spec.ports[1].protocol} {.spec.ports[1].targetPort} {.status}')
eq "defaults and class/annotations kept" "$out" 'edgelb.io/lb public SingleStack ["IPv4"] None TCP 8443 {"loadBalancer":{}}'
CIP=$(k get svc web -o jsonpath='{.spec.clusterIP}')
out=$(k get svc web -o jsonpath='{.metadata.uid}|{.metadata.creationTimestamp}|{.metadata.resourceVersion}|{.metadata.namespace}')
has "create fills uid, creationTimestamp, resourceVersion, namespace" "$out" '^[0-9a-f-]{36}\|20[0-9-]+T[0-9:]+Z\|[0-9]+\|default$'

# ------------------------------------------------------------------ status
code=$(curlj PUT "$SVC/web/status" '{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},"status":{"loadBalancer":{"ingress":[{"ip":"198.18.0.100","ipMode":"VIP"}]}}}')
eq "PUT /status without resourceVersion: 200" "$code" 200
out=$(k get svc)
has "kubectl get svc: EXTERNAL-IP 198.18.0.100" "$out" '^web +LoadBalancer +[0-9.]+ +198\.18\.0\.100 +'
code=$(curlj PUT "$SVC/web/status" '{"metadata":{"name":"web","labels":{"sneaky":"yes"}},"spec":{"type":"ClusterIP"},"status":{"loadBalancer":{"ingress":[{"ip":"198.18.0.100","ipMode":"VIP"}]}}}')
eq "PUT /status ignoring spec/labels: 200" "$code" 200
eq "  ... spec.type and labels unchanged" "$(py "$WORK/resp" "d['spec']['type'], d['metadata']['labels'].get('sneaky')")" "('LoadBalancer', None)"
code=$(curlj PATCH "$SVC/web" '{"spec":{"externalIPs":["192.0.2.9"]},"status":{"loadBalancer":{}}}' application/merge-patch+json)
eq "merge PATCH on the main resource: 200" "$code" 200
eq "  ... changes spec, not status" "$(py "$WORK/resp" "d['spec']['externalIPs'], d['status']['loadBalancer']['ingress'][0]['ip']")" "(['192.0.2.9'], '198.18.0.100')"
code=$(curlj PATCH "$SVC/web" '[{"op":"remove","path":"/spec/externalIPs"}]' application/json-patch+json)
eq "json PATCH remove externalIPs" "$code/$(py "$WORK/resp" "'externalIPs' in d['spec']")" "200/False"
code=$(curlj PATCH "$SVC/web/status" '{"status":{"loadBalancer":{"ingress":[{"ip":"198.18.0.100"}]}},"spec":{"type":"NodePort"}}' application/merge-patch+json)
eq "merge PATCH /status: ipMode defaults to VIP, spec untouched" \
	"$code $(py "$WORK/resp" "d['status']['loadBalancer']['ingress'][0].get('ipMode'), d['spec']['type']")" "200 ('VIP', 'LoadBalancer')"
code=$(curlj PATCH "$SVC/web/status" '{"status":{"loadBalancer":{"ingress":[{"ip":"not-an-ip"}]}}}' application/merge-patch+json)
eq "bad status ingress ip: 422 Invalid" "$code $(py "$WORK/resp" "d['reason']")" "422 Invalid"

# ------------------------------------------------------------------ kubectl apply (update)
out=$(k "${APPLY[@]}" -f "$HERE/testdata/svc-web-v2.yaml")
has "kubectl apply v2: service configured (strategic merge PATCH)" "$out" '^service/web configured'
has "  ... sent as strategic-merge-patch+json" "$(grep 'PATCH /api/v1/namespaces/default/services/web?' "$WORK/server.log")" 'strategic-merge-patch\+json'
out=$(k get svc web -o jsonpath='{range .spec.ports[*]}{.name}/{.port}/{.protocol} {end}|{.metadata.labels.tier}|{.metadata.annotations.edgelb\.io/allow-shared-ip}|{.spec.sessionAffinity}|{.spec.clusterIP}|{.status.loadBalancer.ingress[0].ip}')
eq "  ... ports merged by key (https deleted, dns added), labels, annotation removed, status kept" \
	"$out" "http/80/TCP dns/53/UDP |edge||ClientIP|$CIP|198.18.0.100"
out=$(k "${APPLY[@]}" -f "$HERE/testdata/svc-web-v2.yaml")
has "kubectl apply v2 again: unchanged" "$out" '^service/web unchanged'
out=$(k get svc)
has "kubectl get svc after update: EXTERNAL-IP still shown" "$out" '^web +LoadBalancer +[0-9.]+ +198\.18\.0\.100 +80:[0-9]+/TCP,53:[0-9]+/UDP'

# ------------------------------------------------------------------ EndpointSlices
out=$(k get endpointslices)
has "kubectl get endpointslices" "$out" '^web-abc12 +IPv4 +8080,8443 +10\.244\.1\.10,10\.244\.2\.11,10\.244\.3\.12 '
out=$(k get endpointslices -l kubernetes.io/service-name=web -o jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{","}{end} {.items[0].ports[0].name}')
eq "kubectl get endpointslices -l service-name: conditions and named port" "$out" "true,true,false, http"
eq "list labelSelector kubernetes.io/service-name=web" \
	"$(curlj GET "$EPS?labelSelector=kubernetes.io%2Fservice-name%3Dweb" >/dev/null; py "$WORK/resp" "len(d['items']), d['metadata']['resourceVersion'].isdigit()")" "(1, True)"
eq "list labelSelector kubernetes.io/service-name=other" \
	"$(curlj GET "/apis/discovery.k8s.io/v1/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dother" >/dev/null; py "$WORK/resp" "len(d['items'])")" "0"
eq "list fieldSelector metadata.name=web" \
	"$(curlj GET "/api/v1/services?fieldSelector=metadata.name%3Dweb" >/dev/null; py "$WORK/resp" "[i['metadata']['name'] for i in d['items']]")" "['web']"
sed 's/10.244.3.12/10.244.3.13/; s/web-abc12/web-abc12/' "$HERE/testdata/eps-web.yaml" >"$WORK/eps2.yaml"
out=$(k "${APPLY[@]}" -f "$WORK/eps2.yaml")
has "kubectl apply endpointslice change: configured" "$out" 'web-abc12 configured'
eq "  ... endpoints replaced, generation 2" \
	"$(k get endpointslice web-abc12 -o jsonpath='{.endpoints[2].addresses[0]} {.metadata.generation}')" "10.244.3.13 2"

# ------------------------------------------------------------------ conflicts and errors
curlj GET "$SVC/web" >/dev/null
cp "$WORK/resp" "$WORK/web-old.json"
OLDRV=$(py "$WORK/web-old.json" "d['metadata']['resourceVersion']")
code=$(curlj PATCH "$SVC/web" '{"metadata":{"annotations":{"bump":"1"}}}' application/merge-patch+json)
eq "merge PATCH bumps resourceVersion" "$code $(py "$WORK/resp" "int(d['metadata']['resourceVersion']) > $OLDRV")" "200 True"
code=$(curlj PUT "$SVC/web" "$(cat "$WORK/web-old.json")")
eq "stale PUT: 409 Conflict" "$code $(py "$WORK/resp" "d['kind'], d['reason'], d['code']")" "409 ('Status', 'Conflict', 409)"
code=$(curlj PUT "$SVC/web" "$(py "$WORK/web-old.json" "json.dumps({**d, 'metadata': {k: v for k, v in d['metadata'].items() if k != 'resourceVersion'}})")")
eq "PUT without resourceVersion: unconditional 200" "$code" 200
code=$(curlj PUT "$SVC/web" "$(py "$WORK/resp" "json.dumps({**d, 'spec': {**d['spec'], 'clusterIP': '198.19.255.250', 'clusterIPs': ['198.19.255.250']}})")")
eq "PUT changing clusterIP: 422 Invalid" "$code $(py "$WORK/resp" "d['reason']")" "422 Invalid"
code=$(curlj POST "$SVC" '{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":1}]}}')
eq "create existing: 409 AlreadyExists" "$code $(py "$WORK/resp" "d['reason']")" "409 AlreadyExists"
code=$(curlj GET "$SVC/nope")
eq "get missing: 404 NotFound Status" "$code $(py "$WORK/resp" "d['kind'], d['reason'], d['message']")" "404 ('Status', 'NotFound', 'services \"nope\" not found')"
code=$(curlj POST "$SVC" '{"apiVersion":"v1","kind":"Service","metadata":{"generateName":"gen-"},"spec":{"type":"LoadBalancer","ipFamilyPolicy":"RequireDualStack","ports":[{"port":53,"protocol":"UDP"}]}}')
eq "create with generateName, dual stack: 201" "$code $(py "$WORK/resp" "d['metadata']['name'].startswith('gen-') and len(d['metadata']['name']) == 9")" "201 True"
eq "  ... ipFamilies, clusterIPs, ports defaults" \
	"$(py "$WORK/resp" "d['spec']['ipFamilies'], [c.split(':')[0] == '2001' for c in d['spec']['clusterIPs']], d['spec']['ports'][0]['targetPort'], d['spec']['externalTrafficPolicy']")" \
	"(['IPv4', 'IPv6'], [False, True], 53, 'Cluster')"
GEN=$(py "$WORK/resp" "d['metadata']['name']")
code=$(curlj POST "$SVC" '{"apiVersion":"v1","kind":"Service","metadata":{"name":"Bad_Name"},"spec":{"ports":[{"port":80}]}}')
eq "invalid name: 422" "$code" 422
code=$(curlj POST /api/v1/namespaces/team-a/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"ports":[{"port":80}]}}')
eq "create in a new namespace auto-creates it" "$code $(curlj GET /api/v1/namespaces/team-a)" "201 200"
out=$(k get svc -A)
has "kubectl get svc -A shows the namespace column" "$out" '^team-a +a +ClusterIP '

# ------------------------------------------------------------------ more kubectl verbs
out=$(k label svc web team=edge; k annotate svc web note=hi; k patch svc web --type=merge -p '{"spec":{"externalTrafficPolicy":"Cluster"}}'; k patch svc web --type=json -p '[{"op":"add","path":"/metadata/labels/j","value":"1"}]')
has "kubectl label / annotate / patch --type merge|json" "$(echo "$out" | grep -Ec 'service/web (labeled|annotated?|patched)')" '^4$'
out=$(k patch svc web --subresource=status --type=merge -p '{"status":{"loadBalancer":{"ingress":[{"ip":"198.18.0.101"}]}}}')
has "kubectl patch --subresource=status" "$out" 'service/web patched'
out=$(k wait --for=jsonpath='{.status.loadBalancer.ingress[0].ip}'=198.18.0.101 svc/web --timeout=10s)
has "kubectl wait --for=jsonpath (list + watch by name)" "$out" 'condition met'
out=$(k describe svc web)
has "kubectl describe svc: ingress from the status" "$out" 'LoadBalancer Ingress: +198\.18\.0\.101'
if [ "$MINOR" -ge 31 ]; then   # older kubectl describes core v1 Endpoints, which nothing fills here
	has "kubectl describe svc: endpoints from the EndpointSlice" "$out" 'Endpoints: +10\.244\.1\.10:8080,10\.244\.2\.11:8080'
fi
out=$(k create namespace team-b; k -n team-b create service loadbalancer lb2 --tcp=5678:8080)
has "kubectl create namespace / create service (protobuf request bodies)" "$out" 'namespace/team-b created(.|$)'
has "  ... service created" "$out" 'service/lb2 created'
out=$(k -n team-b get svc lb2)
has "  ... kubectl get shows it" "$out" '^lb2 +LoadBalancer +[0-9.]+ +<pending> +5678:[0-9]+/TCP'
out=$(k delete ns team-b)
has "kubectl delete namespace (its objects go with it)" "$out" 'namespace "team-b" deleted'

# ------------------------------------------------------------------ events
code=$(curlj POST /api/v1/namespaces/default/events '{"apiVersion":"v1","kind":"Event","metadata":{"generateName":"web."},"involvedObject":{"kind":"Service","namespace":"default","name":"web","apiVersion":"v1"},"reason":"IPAllocated","message":"allocated 198.18.0.100","type":"Normal","source":{"component":"edgelb"},"count":1}')
eq "POST event: 201" "$code" 201
eq "list /api/v1/events" "$(curlj GET /api/v1/events >/dev/null; py "$WORK/resp" "[e['reason'] for e in d['items']]")" "['IPAllocated']"
out=$(k get events)
has "kubectl get events" "$out" 'Normal +IPAllocated +service/web +allocated 198.18.0.100'

# ------------------------------------------------------------------ delete
out=$(k delete svc web)
has "kubectl delete svc web" "$out" 'service "web" deleted'
out=$(k get svc web)
has "kubectl get svc web after delete: NotFound" "$out" 'NotFound'
code=$(curlj DELETE "$EPS/web-abc12")
eq "DELETE endpointslice: 200 Status Success" "$code $(py "$WORK/resp" "d['kind'], d['status']")" "200 ('Status', 'Success')"

# ------------------------------------------------------------------ the watch started at the beginning
sleep 1.2
kill "$WATCH1_PID" 2>/dev/null
types=$("$PY" -c '
import json, sys
seen = []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    ev = json.loads(line)
    o = ev["object"]
    seen.append((ev["type"], o["metadata"].get("name", ""), int(o["metadata"]["resourceVersion"])))
rvs = [s[2] for s in seen]
print("monotonic" if rvs == sorted(rvs) else "NOT-monotonic", " ".join("%s:%s" % (t, n) for t, n, _ in seen if t != "BOOKMARK"), "bookmarks=%d" % sum(1 for s in seen if s[0] == "BOOKMARK"))
' "$WORK/watch1")
has "curl watch: ADDED web" "$types" 'ADDED:web'
has "curl watch: MODIFIED web" "$types" 'MODIFIED:web'
has "curl watch: DELETED web" "$types" 'DELETED:web'
has "curl watch: ADDED in other namespace (all-namespaces watch)" "$types" 'ADDED:a( |$)'
has "curl watch: BOOKMARK lines" "$types" 'bookmarks=[1-9]'
has "curl watch: resourceVersions increase" "$types" '^monotonic'
hasnt "curl watch: no ERROR" "$types" 'ERROR'

# watch from rv 0: the current objects as ADDED, then closes at timeoutSeconds
t0=$(date +%s)
out=$(curl -sN --max-time 10 "$B$SVC?watch=true&resourceVersion=0&timeoutSeconds=1")
t1=$(date +%s)
has "watch resourceVersion=0: synthetic ADDED for existing objects" "$out" "\"type\":\"ADDED\".*\"name\":\"$GEN\""
check "watch closes at timeoutSeconds" test $((t1 - t0)) -le 4
code=$(curl -s --max-time 5 -o /dev/null -D "$WORK/hdr" -w '%{http_code}' "$B$SVC?watch=1&timeoutSeconds=1")
has "watch response is chunked" "$code $(tr -d '\r' <"$WORK/hdr" | grep -i '^transfer-encoding')" '^200 Transfer-Encoding: chunked'

# label-selector watch: leaving the selection is DELETED
curl -sN --max-time 10 "$B$SVC?watch=1&resourceVersion=$(rv_of "$SVC")&labelSelector=team%3Dx&timeoutSeconds=3" >"$WORK/watch2" &
BG_PIDS+=($!)
W2=$!
sleep 0.5
curlj PATCH "$SVC/$GEN" '{"metadata":{"labels":{"team":"x"}}}' application/merge-patch+json >/dev/null
curlj PATCH "$SVC/$GEN" '{"metadata":{"labels":{"team":"y"}}}' application/merge-patch+json >/dev/null
wait "$W2"
out=$("$PY" -c 'import json,sys; print(" ".join(json.loads(l)["type"] for l in open(sys.argv[1]) if l.strip()))' "$WORK/watch2")
eq "labelSelector watch: ADDED on entering, DELETED on leaving" "$out" "ADDED DELETED"

# ------------------------------------------------------------------ compaction and 410
OLD=$(rv_of "$SVC")
curlj PATCH "$SVC/$GEN" '{"metadata":{"labels":{"team":"z"}}}' application/merge-patch+json >/dev/null
code=$(curl -sN --max-time 5 -o "$WORK/w" -w '%{http_code}' "$B$SVC?watch=1&resourceVersion=$OLD&timeoutSeconds=1")
eq "watch from an rv inside the history: 200 with the MODIFIED" "$code $(grep -c MODIFIED "$WORK/w")" "200 1"
curlj POST /fake/faults '{"compact": true}' >/dev/null
code=$(curl -sN --max-time 5 -o "$WORK/w" -w '%{http_code}' "$B$SVC?watch=1&resourceVersion=$OLD")
eq "after compact: watch from an old rv is 410 Expired" "$code $(py "$WORK/w" "d['kind'], d['reason'], d['code']")" "410 ('Status', 'Expired', 410)"
NOW=$(rv_of "$SVC")
code=$(curl -sN --max-time 5 -o /dev/null -w '%{http_code}' "$B$SVC?watch=1&resourceVersion=$NOW&timeoutSeconds=1")
eq "after compact: watch from the current rv is 200" "$code" 200
curlj POST /fake/faults '{"expired_mode": "event"}' >/dev/null
code=$(curl -sN --max-time 5 -o "$WORK/w" -w '%{http_code}' "$B$SVC?watch=1&resourceVersion=$OLD")
eq "expired_mode event: 200 + ERROR event with a 410 Status" "$code $(py "$WORK/w" "d['type'], d['object']['code'], d['object']['reason']")" "200 ('ERROR', 410, 'Expired')"
curlj POST /fake/faults '{"expired_mode": "http"}' >/dev/null

# ------------------------------------------------------------------ faults
curlj POST /fake/faults '{"watch_410": 1}' >/dev/null
c1=$(curl -sN --max-time 5 -o "$WORK/w" -w '%{http_code}' "$B$SVC?watch=1&resourceVersion=$NOW&timeoutSeconds=1")
c2=$(curl -sN --max-time 5 -o /dev/null -w '%{http_code}' "$B$SVC?watch=1&resourceVersion=$NOW&timeoutSeconds=1")
eq "fault watch_410=1: next watch 410, the one after 200" "$c1 $c2 $(py "$WORK/w" "d['reason']")" "410 200 Expired"
curlj POST /fake/faults '{"watch_error_410": 1}' >/dev/null
c1=$(curl -sN --max-time 5 -o "$WORK/w" -w '%{http_code}' "$B$SVC?watch=1&resourceVersion=$NOW&timeoutSeconds=1")
eq "fault watch_error_410=1: ERROR event code 410, then closed" "$c1 $(py "$WORK/w" "d['type'], d['object']['code']")" "200 ('ERROR', 410)"
curlj POST /fake/faults '{"fail_500": 2, "path_prefix": "/api/v1/namespaces/default/services"}' >/dev/null
c1=$(curlj GET "$SVC"); c2=$(curlj GET "$SVC"); c3=$(curlj GET "$SVC"); c4=$(curlj GET /api/v1/namespaces)
eq "fault fail_500=2 on a prefix: 500 500 then 200; other paths unaffected" "$c1 $c2 $c3 $c4" "500 500 200 200"
curlj POST /fake/faults '{"fail": 1, "code": 429, "retry_after": 1, "methods": ["POST"], "path_prefix": "/api/v1"}' >/dev/null
c1=$(curlj GET "$SVC"); c2=$(curlj POST /api/v1/namespaces/default/events '{"metadata":{"generateName":"x."},"involvedObject":{"kind":"Service","name":"x"}}')
eq "fault fail code 429 only for POST" "$c1 $c2" "200 429"
curlj POST /fake/faults '{"delay_ms": 700, "delay_count": 1, "path_prefix": "/api/v1/namespaces"}' >/dev/null
t=$(curl -s --max-time 5 -o /dev/null -w '%{time_total}' "$B$SVC")
check "fault delay_ms=700: request took >= 0.7 s ($t)" "$PY" -c "import sys; sys.exit(0 if $t >= 0.7 else 1)"
for mode in close abort; do
	curl -sN --max-time 20 -o "$WORK/wd" "$B$SVC?watch=1&resourceVersion=$NOW&allowWatchBookmarks=true" &
	wp=$!
	sleep 1
	if [ $mode = close ]; then body='{"drop_watches": true}'; else body='{"drop_watches": "abort"}'; fi
	curlj POST /fake/faults "$body" >/dev/null
	n=$(py "$WORK/resp" "d['applied']['dropped_watches']")
	t0=$(date +%s.%N)
	wait $wp
	rc=$?
	dt=$("$PY" -c "print(round($(date +%s.%N) - $t0, 1))")
	if [ $mode = close ]; then
		eq "fault drop_watches: $n watch(es) ended cleanly within ${dt}s" "$rc $(test "$n" -ge 1 && echo y)" "0 y"
	else
		eq "fault drop_watches=abort: connection cut without the last chunk (curl rc $rc, ${dt}s)" "$(test $rc -ne 0 && echo cut)" "cut"
	fi
done
curlj GET /fake/state >/dev/null
eq "GET /fake/state lists objects" "$(py "$WORK/resp" "sorted(s['metadata']['name'] for s in d['objects']['services'])")" "['a', '$GEN']"
curlj POST /fake/reset >/dev/null
curlj GET /fake/state >/dev/null
eq "POST /fake/reset: no services, namespaces back to the defaults" \
	"$(py "$WORK/resp" "len(d['objects']['services']), [n['metadata']['name'] for n in d['objects']['namespaces']]")" \
	"(0, ['default', 'kube-node-lease', 'kube-public', 'kube-system'])"

# ------------------------------------------------------------------ kubectl get -w
( exec timeout 25 "$KUBECTL" --cache-dir "$WORK/cache" get svc -w >"$WORK/kw" 2>&1 ) &
kw=$!
BG_PIDS+=($kw)
sleep 1
k "${APPLY[@]}" -f "$HERE/testdata/svc-web.yaml" >/dev/null
waitfor() { for _ in $(seq 100); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
waitfor "$WORK/kw" '<pending>'
curlj PATCH "$SVC/web/status" '{"status":{"loadBalancer":{"ingress":[{"ip":"198.18.0.42"}]}}}' application/merge-patch+json >/dev/null
waitfor "$WORK/kw" '198\.18\.0\.42'
kill $kw 2>/dev/null
wait $kw 2>/dev/null
eq "kubectl get svc -w: <pending>, then the EXTERNAL-IP" \
	"$(awk '/<pending>/ && !p {p = NR} /198\.18\.0\.42/ && p {print "in order"; exit}' "$WORK/kw")" "in order"

# ------------------------------------------------------------------ SIGTERM
curl -sN --max-time 20 -o "$WORK/wt" "$B$SVC?watch=1" &
wp=$!
sleep 0.5
kill -TERM "$SRV_PID"
t0=$(date +%s)
wait "$SRV_PID"
src=$?
wait $wp
wrc=$?
t1=$(date +%s)
eq "SIGTERM: server exits 0 quickly, its open watch ends cleanly" "$src $wrc $(test $((t1 - t0)) -le 5 && echo fast)" "0 0 fast"
SRV_PID=

# ------------------------------------------------------------------ unit tests (in-process server)
timeout 120 "$PY" "$HERE/test_fakeapi.py" -v >"$WORK/unit" 2>&1
urc=$?
while IFS= read -r line; do
	case "$line" in
	*" ... ok") ok "unit: ${line%% *}" ;;
	*" ... FAIL" | *" ... ERROR") nok "unit: ${line%% *}" ;;
	esac
done <"$WORK/unit"
if [ $urc -ne 0 ]; then nok "unit tests (rc $urc)" "$(tail -30 "$WORK/unit")"; fi

if [ "$FAIL" -ne 0 ]; then
	echo "# server log (tail):"
	tail -40 "$WORK/server.log" | sed 's/^/#   /'
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
