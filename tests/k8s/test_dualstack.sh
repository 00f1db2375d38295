#!/bin/bash
# test_dualstack.sh - address families (TESTS.md #6).
#
# ipFamilyPolicy RequireDualStack (and PreferDualStack, and ipFamilies in IPv6-first
# order): one IPv4 and one IPv6 address in status.loadBalancer.ingress, both from the
# pools, in the order of spec.ipFamilies, each with the Service's ports, shown by
# kubectl as EXTERNAL-IP; backends of both families from IPv4 and
# IPv6 EndpointSlices; SingleStack IPv6: one IPv6 address; deleting frees both.
. "$(dirname "$0")/lib.sh"
k8s_begin dualstack 100

fake_start
PORT=$(free_port)
POOLS='{ name = "public"; addresses = ["198.18.0.100-198.18.0.199", "2001:db8:1::100-2001:db8:1::1ff"]; },
  { name = "v4only"; addresses = ["198.18.3.0/28"]; auto_assign = false; }'
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT" false "$POOLS"
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced

# one_of_each NAME: status has exactly one IPv4 (public pool) and one IPv6 (public pool)
one_of_each() {
	local ips v4 v6
	ips=$(svc_ips default "$1")
	v4=$(printf '%s\n' $ips | grep -c '\.')
	v6=$(printf '%s\n' $ips | grep -c ':')
	[ "$v4" = 1 ] && [ "$v6" = 1 ] && [ "$(echo $ips | wc -w)" = 2 ] || return 1
	for ip in $ips; do
		case $ip in
		*:*) in_range "$ip" 2001:db8:1::100 2001:db8:1::1ff || return 1 ;;
		*) in_range "$ip" 198.18.0.100 198.18.0.199 || return 1 ;;
		esac
	done
}

cat >"$WORK/ds.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: ds, namespace: default}
spec:
  type: LoadBalancer
  loadBalancerClass: edgelb.io/lb
  ipFamilyPolicy: RequireDualStack
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ds-v4
  namespace: default
  labels: {kubernetes.io/service-name: ds}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
- addresses: ["198.19.0.11"]
- addresses: ["198.19.0.12"]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ds-v6
  namespace: default
  labels: {kubernetes.io/service-name: ds}
addressType: IPv6
ports: [{name: http, port: 8080}]
endpoints:
- addresses: ["2001:db8:2::11"]
EOF
out=$(kc apply --validate=false -f "$WORK/ds.yaml")
printf '%s\n' "$out" | grep -q 'service/ds created' || die "kubectl apply" "$out"
eq "the API server set ipFamilies IPv4,IPv6" "$(svc_get default ds | jq -r '.spec.ipFamilies | join(",")')" "IPv4,IPv6"
if wait_until 5 'one_of_each ds'; then ok "RequireDualStack: status has one IPv4 and one IPv6 from the pool: $(svc_ips default ds)"
else nok "RequireDualStack: not one IPv4 + one IPv6" "status: [$(svc_ips default ds)] cp: [$(cp_lb_ips default ds)]"; fi
eq "the cp holds the same two addresses" "$(cp_lb_ips default ds)" "$(svc_ips default ds | tr ' ' '\n' | paste -sd' ')"
# kubectl's table abbreviates a second address ("198.18.0.100,..."); jsonpath shows both.
ext=$(kc get svc ds --no-headers | awk '{print $4}')
eq "kubectl get svc: EXTERNAL-IP starts with the first address" "${ext%%,*}" "$(svc_ips default ds | cut -d' ' -f1)"
eq "kubectl get svc -o jsonpath: both addresses" \
	"$(kc get svc ds -o jsonpath='{.status.loadBalancer.ingress[*].ip}')" "$(svc_ips default ds)"
eq "backends of both families (from the IPv4 and the IPv6 slice)" \
	"$(cp_lb default ds | jq -r '[.backends[] | "\(.address):\(.port)"] | sort | join(" ")')" \
	"198.19.0.11:8080 198.19.0.12:8080 2001:db8:2::11:8080"
eq "pools: 1 IPv4 and 1 IPv6 used" "$(pool_used public ipv4) $(pool_used public ipv6)" "1 1"

svc_create default prefer "$(lb_spec '[{"port":80}]' '{"ipFamilyPolicy":"PreferDualStack"}')"
if wait_until 5 'one_of_each prefer'; then ok "PreferDualStack: one IPv4 and one IPv6: $(svc_ips default prefer)"
else nok "PreferDualStack: not one of each" "[$(svc_ips default prefer)]"; fi
svc_create default v6first "$(lb_spec '[{"port":80}]' '{"ipFamilyPolicy":"RequireDualStack","ipFamilies":["IPv6","IPv4"]}')"
if wait_until 5 'one_of_each v6first'; then ok "RequireDualStack, ipFamilies [IPv6, IPv4]: one of each: $(svc_ips default v6first)"
else nok "ipFamilies [IPv6, IPv4]: not one of each" "[$(svc_ips default v6first)]"; fi
# status follows spec.ipFamilies' order and names the ports served (issue 10 #10)
check "ipFamilies [IPv6, IPv4]: the IPv6 address comes first in the status ($(svc_ips default v6first))" \
	bash -c "[[ '$(svc_ips default v6first | cut -d' ' -f1)' == *:* ]]"
check "ipFamilies [IPv4, IPv6]: the IPv4 address comes first ($(svc_ips default ds))" \
	bash -c "[[ '$(svc_ips default ds | cut -d' ' -f1)' != *:* ]]"
eq "status.loadBalancer.ingress[].ports: the Service's ports on each address" \
	"$(kc get svc ds -o jsonpath='{range .status.loadBalancer.ingress[*]}{.ports[*].port}/{.ports[*].protocol} {end}')" "80/TCP 80/TCP "
svc_create default six "$(lb_spec '[{"port":80}]' '{"ipFamilyPolicy":"SingleStack","ipFamilies":["IPv6"]}')"
wait_until 5 '[ -n "$(svc_ips default six)" ]'
ip=$(svc_ips default six)
check "SingleStack IPv6: exactly one IPv6 address ($ip)" in_range "$ip" 2001:db8:1::100 2001:db8:1::1ff
svc_create default four "$(lb_spec '[{"port":80}]')"
wait_until 5 '[ -n "$(svc_ips default four)" ]'
ip=$(svc_ips default four)
check "no policy (SingleStack IPv4 by default): exactly one IPv4 address ($ip)" in_range "$ip" 198.18.0.100 198.18.0.199
eq "pools: 4 IPv4 and 4 IPv6 used" "$(pool_used public ipv4) $(pool_used public ipv6)" "4 4"

# RequireDualStack from a pool with no IPv6: no half allocation.
svc_create default ds-v4pool "$(lb_spec '[{"port":80}]' '{"ipFamilyPolicy":"RequireDualStack"}')" \
	'{"annotations":{"edgelb.io/address-pool":"v4only"}}'
if wait_until 5 'has_event default ds-v4pool AllocationFailed'; then ok "RequireDualStack from an IPv4-only pool: AllocationFailed Event"
else nok "RequireDualStack from an IPv4-only pool: no AllocationFailed Event" "$(events default | grep ds-v4pool)"; fi
eq "  ... and no address (not a single IPv4 one)" "$(svc_ips default ds-v4pool)|$(cp_lb_ips default ds-v4pool)" "|"
eq "  ... v4only pool untouched" "$(pool_used v4only ipv4)" 0

for n in ds prefer v6first six four; do svc_delete default $n; done
if wait_until 5 '[ "$(pool_used public ipv4) $(pool_used public ipv6)" = "0 0" ]'; then ok "all deleted: both families free again"
else nok "after deletes the pools still show use" "$(api /v1/pools | jq -c .items)"; fi
k8s_end
