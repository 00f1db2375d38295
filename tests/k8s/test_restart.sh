#!/bin/bash
# test_restart.sh - a restarted controller re-adopts, never reshuffles (TESTS.md #3).
#
# Services get addresses in an order unrelated to their names (and with holes),
# so a controller that allocated afresh would hand them out differently. Then:
#   1. kill -9 the cp, delete its state file, change things while it is down (a new
#      Service without status named to be handled first, one Service deleted, one
#      whose status shows an address no pool holds), restart: every Service keeps
#      the IP(s) its status shows, the new one gets a free address, the stale one a
#      pool address;
#   2. kill -9 again, keep the state file, delete / change / add while down,
#      restart: the same, the deleted Service's address is free.
. "$(dirname "$0")/lib.sh"
k8s_begin restart 150

fake_start
PORT=$(free_port)
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT"
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced

# Created in reverse name order: "f" gets the first address, "a" the last.
for n in f e d c b a; do
	svc_create default "$n" "$(lb_spec '[{"name":"http","port":80,"targetPort":8080}]')"
	wait_until 5 '[ -n "$(svc_ips default $n)" ]' || die "Service $n got no IP"
done
svc_create default dual "$(lb_spec '[{"port":443}]' '{"ipFamilyPolicy":"RequireDualStack"}')"
wait_until 5 '[ "$(svc_get default dual | jq ".status.loadBalancer.ingress | length")" = 2 ]' || die "Service dual got no IPs"
# Holes: free two early addresses, so first-free allocation would fill them.
svc_delete default e
svc_delete default c
wait_until 5 '[ "$(cp_lb_count)" = 5 ]' || die "deleted Services still in the cp" "$(cp_map default)"
svc_create default g "$(lb_spec '[{"port":80}]')"
wait_until 5 '[ -n "$(svc_ips default g)" ]' || die "Service g got no IP"

before=$(status_map default)
log "before the restarts:"; printf '%s\n' "$before" | sed 's/^/#   /'
eq "the cp agrees with the Services' status" "$(cp_map default)" "$before"
ips_before=$(printf '%s\n' "$before" | awk '{print $2}' | tr ',' '\n' | sort | tr '\n' ' ')

# ---------------------------------------------------------------- 1: state file lost
proc_stop cp KILL
rm -f "$WORK/state.json"
log "cp killed (-9), state file deleted; changes while it is down"
# "aa-new" sorts first: handled first after the restart, it must not take an address
# another Service's status shows.
svc_create default aa-new "$(lb_spec '[{"port":80}]')"
svc_delete default d
ip_d=$(printf '%s\n' "$before" | awk '$1 == "d" {print $2}')
# "stale": its status shows an address no pool holds (198.18.5.5).
svc_create default stale "$(lb_spec '[{"port":80}]')"
fake_req PUT "$(svc_path default stale)/status" "$(svc_get default stale |
	jq -c '.status = {loadBalancer: {ingress: [{ip: "198.18.5.5", ipMode: "VIP"}]}}')" >/dev/null
eq "stale's status set to 198.18.5.5 (outside every pool)" "$(fake_code) $(svc_ips default stale)" "200 198.18.5.5"

cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced
want=$(printf '%s\n' "$before" | awk '$1 != "d"')
kept() { # the Services of "want" have exactly those IPs in status and in the cp
	[ "$(status_map default | grep -Ev '^(aa-new|stale|b-new) ')" = "$want" ] &&
		[ "$(cp_map default | grep -Ev '^(aa-new|stale|b-new) ')" = "$want" ]
}
if wait_until 10 kept; then
	ok "no state file: every Service re-adopted the IP(s) its status shows (status and cp)"
else
	nok "no state file: Services did not keep their IPs" \
		"$(printf 'before:\n%s\nstatus now:\n%s\ncp now:\n%s' "$want" "$(status_map default)" "$(cp_map default)")"
fi
wait_until 5 '[ -n "$(svc_ips default aa-new)" ] && [ "$(svc_ips default stale)" != 198.18.5.5 ] && [ -n "$(svc_ips default stale)" ]'
new=$(svc_ips default aa-new)
if [ -n "$new" ] && ! printf '%s' "$ips_before" | grep -qw -- "$(printf '%s' "$new" | sed 's/\./\\./g')" || [ "$new" = "$ip_d" ]; then
	ok "aa-new (no status, handled first) got an address no other Service shows: $new"
else
	nok "aa-new got an address another Service's status shows" "aa-new: [$new]; before: $ips_before"
fi
st=$(svc_ips default stale)
if [ -n "$st" ] && in_range "$st" 198.18.0.100 198.18.0.199; then
	ok "stale (status outside every pool) got a pool address: $st"
else
	nok "stale (status 198.18.5.5, in no pool) did not get a pool address" "status [$st], cp [$(cp_lb_ips default stale)]"
fi
eq "the cp agrees with every status" "$(cp_map default)" "$(status_map default)"
n=$(status_map default | wc -l)
eq "pools: one IPv4 address per Service, one IPv6 for dual" "$(pool_used public ipv4) $(pool_used public ipv6)" "$n 1"
check "the new state file holds every Service" \
	test "$(jq '.loadbalancers | length' "$WORK/state.json" 2>/dev/null)" = "$n"

# ---------------------------------------------------------------- 2: state file kept
snap=$(status_map default)
proc_stop cp KILL
log "cp killed (-9) again, state file kept; changes while it is down"
svc_delete default b
ip_b=$(printf '%s\n' "$snap" | awk '$1 == "b" {print $2}')
svc_patch default a '{"spec":{"ports":[{"name":"http","port":8080,"targetPort":8080}]}}'
svc_create default b-new "$(lb_spec '[{"port":80}]')"
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced
want=$(printf '%s\n' "$snap" | grep -Ev '^(b|aa-new|stale) ')
if wait_until 10 kept; then
	ok "state file kept: every Service kept its IP(s) (status and cp)"
else
	nok "state file kept: Services did not keep their IPs" \
		"$(printf 'before:\n%s\nstatus now:\n%s\ncp now:\n%s' "$want" "$(status_map default)" "$(cp_map default)")"
fi
for s in aa-new stale; do
	eq "$s kept its IP" "$(svc_ips default $s)" "$(printf '%s\n' "$snap" | awk -v s=$s '$1 == s {print $2}')"
done
eq "a's port change applied, IP kept" "$(cp_lb default a | jq -r '[.ports[].port] | join(",")') $(cp_lb_ips default a)" \
	"8080 $(printf '%s\n' "$snap" | awk '$1 == "a" {print $2}')"
wait_until 5 '[ -n "$(svc_ips default b-new)" ]'
eq "b (deleted while down) is gone from the cp" "$(cp_lb default b)" null
bn=$(svc_ips default b-new)
check "b-new got an address ($bn), not one another Service holds" \
	test -n "$bn" -a "$(status_map default | awk '{print $2}' | tr ',' '\n' | grep -cx "$bn")" = 1
n=$(status_map default | wc -l)
eq "pools: b's address $ip_b is free again (used = Services)" "$(pool_used public ipv4)" "$n"
eq "the cp agrees with every status" "$(cp_map default)" "$(status_map default)"
k8s_end
