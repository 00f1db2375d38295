#!/bin/bash
# test_rbac.sh - the RBAC manifests in conf/kubernetes/ are exactly what edgelb-cp
# needs (issue 10 finding 10, TESTS.md #13). `kubectl apply -f conf/kubernetes/`
# (real kubectl) against the fake; then a cp goes through a Service's life
# (allocate, Events, finalizer, endpoints, type change, delete) and every request
# it made (User-Agent edgelb-controller) is checked against the rules it was
# given: each must be allowed (the fake does not enforce RBAC, so this is the
# check), and each rule must have been used (least privilege). The Lease rules
# are namespaced to edgelb-system and the name edgelb-controller.
. "$(dirname "$0")/lib.sh"
k8s_begin rbac 110

fake_start
out=$(kc apply -f "$SRC/conf/kubernetes/")
if printf '%s\n' "$out" | grep -q 'clusterrole.rbac.authorization.k8s.io/edgelb-controller created' &&
	printf '%s\n' "$out" | grep -q 'secret/edgelb-controller-token created'; then
	ok "kubectl apply -f conf/kubernetes/: $(printf '%s\n' "$out" | wc -l) objects created"
else
	die "kubectl apply -f conf/kubernetes/" "$out"
fi
eq "the token Secret is of type kubernetes.io/service-account-token" \
	"$(kc get secret -n edgelb-system edgelb-controller-token -o jsonpath='{.type}')" kubernetes.io/service-account-token

PORT=$(free_port)
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT"
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced
wait_until 10 '[ "$(metric edgelb_k8s_leader)" = 1 ]' || die "the cp leads"
svc_create default web "$(lb_spec '[{"name":"http","port":80,"targetPort":8080}]')"
eps_create default web-a web IPv4 '[{"name":"http","port":8080}]' '[{"addresses":["198.19.0.1"],"conditions":{"ready":true}}]'
wait_until 5 'svc_nips_is default web 1' || die "web gets an address"
svc_create default two "$(lb_spec '[{"name":"http","port":81}]')"
wait_until 5 'svc_nips_is default two 1' || die "two gets an address"
svc_patch default two '{"spec":{"type":"ClusterIP","loadBalancerClass":null}}'
kc delete svc web --wait=true --timeout=10s >/dev/null
wait_until 5 'svc_status_is default two ""' || nok "two's status cleared"
# and at least one Lease renewal (retry period 2 s)
wait_until 5 'fake_req GET /fake/requests | jq -e "[.requests[] | select(.method == \"PUT\" and (.path | test(\"/leases/\")))] | length > 0"' ||
	nok "the leader renewed its Lease"

fake_req GET /fake/requests >"$WORK/reqs.json"
for r in clusterroles/edgelb-controller; do fake_req GET "/apis/rbac.authorization.k8s.io/v1/$r"; done >"$WORK/cr.json"
fake_req GET /apis/rbac.authorization.k8s.io/v1/namespaces/edgelb-system/roles/edgelb-leader-election >"$WORK/role.json"
"$PY" - "$WORK/reqs.json" "$WORK/cr.json" "$WORK/role.json" >"$WORK/rbac.out" <<'EOF'
import json, sys
from urllib.parse import urlsplit, parse_qs
reqs = [r for r in json.load(open(sys.argv[1]))["requests"] if r["userAgent"].startswith("edgelb-controller")]
cr, role = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
rules = [(r, None) for r in cr["rules"]] + [(r, role["metadata"]["namespace"]) for r in role["rules"]]
def attrs(req):
    u = urlsplit(req["path"])
    s = [x for x in u.path.split("/") if x]
    group = "" if s[0] == "api" else s[1]
    s = s[2:] if s[0] == "api" else s[3:]
    ns = None
    if len(s) >= 2 and s[0] == "namespaces":
        ns, s = s[1], s[2:]
    res, name = s[0], (s[1] if len(s) > 1 else None)
    if len(s) > 2:
        res += "/" + s[2]
    q = parse_qs(u.query)
    verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(req["method"])
    if verb is None:
        verb = "watch" if q.get("watch") else ("get" if name else "list")
    return group, res, verb, ns, name
used, bad = set(), []
for r in reqs:
    g, res, verb, ns, name = attrs(r)
    hit = None
    for i, (rule, rns) in enumerate(rules):
        if g in rule["apiGroups"] and res in rule["resources"] and verb in rule["verbs"] and \
                (rns is None or rns == ns) and (not rule.get("resourceNames") or name in rule["resourceNames"]):
            hit = i
            break
    if hit is None:
        bad.append("%s %s -> %s %s/%s ns=%s" % (r["method"], r["path"], verb, g, res, ns))
    else:
        used.add((hit, verb))
unused = ["%s %s" % (v, rule["resources"]) for i, (rule, _) in enumerate(rules) for v in rule["verbs"]
          if (i, v) not in used]
print(json.dumps({"requests": len(reqs), "denied": sorted(set(bad)), "unused": unused}))
EOF
res=$(cat "$WORK/rbac.out")
log "checked: $(echo "$res" | jq -c .)"
check "the cp made requests to check ($(echo "$res" | jq .requests))" [ "$(echo "$res" | jq .requests)" -gt 10 ]
eq "every request of the cp is allowed by conf/kubernetes/" "$(echo "$res" | jq -c .denied)" "[]"
eq "every verb granted was used (least privilege)" "$(echo "$res" | jq -c .unused)" "[]"
k8s_end
