#!/bin/bash
# test_annotations.sh - requested addresses, pools and sharing (TESTS.md #5).
#
# edgelb.io/loadBalancerIPs and the deprecated spec.loadBalancerIP are honoured;
# both at once is an AllocationFailed Event and no IP; edgelb.io/address-pool picks
# the pool (also one with auto_assign = false); edgelb.io/allow-shared-ip lets two
# Services with the same key and different ports share one IP, while overlapping
# ports (or another key) on that IP get AllocationFailed. A Service left without an
# address gets one as soon as one is free again.
. "$(dirname "$0")/lib.sh"
k8s_begin annotations 150

fake_start
PORT=$(free_port)
POOLS='{ name = "public"; addresses = ["198.18.0.100-198.18.0.199", "2001:db8:1::100-2001:db8:1::1ff"]; },
  { name = "special"; addresses = ["198.18.1.0/28", "2001:db8:5::/124"]; auto_assign = false; },
  { name = "tiny"; addresses = ["198.18.2.1-198.18.2.2"]; auto_assign = false; }'
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT" false "$POOLS"
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced

ann() { jq -cn --arg k "$1" --arg v "$2" '{annotations: {($k): $v}}'; }
ann2() { jq -cn --arg k "$1" --arg v "$2" --arg k2 "$3" --arg v2 "$4" '{annotations: {($k): $v, ($k2): $v2}}'; }
P80='[{"name":"http","port":80}]'
P443='[{"name":"https","port":443}]'
IPS=edgelb.io/loadBalancerIPs
POOL=edgelb.io/address-pool
SHARE=edgelb.io/allow-shared-ip
got_ip() { local n=$1; wait_until "${2:-5}" '[ -n "$(svc_ips default "$n")" ]'; }
# failed NAME REGEX: an AllocationFailed Event matching, no status, no address held
failed() {
	local n=$1 re=$2
	if wait_until 5 'has_event default "$n" AllocationFailed "$re"'; then
		ok "$n: AllocationFailed Event ($(events default | grep "^$n AllocationFailed" | head -1 | cut -d' ' -f3- | cut -c1-110))"
	else
		nok "$n: no AllocationFailed Event matching '$re'" "$(events default | grep "^$n ")"
	fi
	sleep 0.5
	eq "$n: no IP in status" "$(svc_ips default "$n")" ""
	eq "$n: the cp holds no address for it" "$(cp_lb_ips default "$n")" ""
}

# ---------------------------------------------------------------- requested addresses
svc_create default req "$(lb_spec "$P80")" "$(ann $IPS 198.18.0.150)"
got_ip req; eq "loadBalancerIPs 198.18.0.150 honoured" "$(svc_ips default req)" 198.18.0.150
svc_create default req-special "$(lb_spec "$P80")" "$(ann $IPS 198.18.1.9)"
got_ip req-special; eq "loadBalancerIPs 198.18.1.9 from an auto_assign=false pool honoured" "$(svc_ips default req-special)" 198.18.1.9
svc_create default req-old "$(lb_spec "$P80" '{"loadBalancerIP":"198.18.0.160"}')"
got_ip req-old; eq "deprecated spec.loadBalancerIP 198.18.0.160 honoured" "$(svc_ips default req-old)" 198.18.0.160
svc_create default req-dual "$(lb_spec "$P80" '{"ipFamilyPolicy":"RequireDualStack"}')" "$(ann $IPS '198.18.0.151, 2001:db8:1::151')"
got_ip req-dual; eq "loadBalancerIPs with one address per family honoured" "$(svc_ips default req-dual)" "198.18.0.151 2001:db8:1::151"

used0=$(pool_used public ipv4)
svc_create default both "$(lb_spec "$P80" '{"loadBalancerIP":"198.18.0.161"}')" "$(ann $IPS 198.18.0.162)"
failed both "both.*loadBalancerIP"
eq "both: pool usage unchanged" "$(pool_used public ipv4)" "$used0"
svc_patch default both '{"spec":{"loadBalancerIP":null}}'
got_ip both; eq "both: once spec.loadBalancerIP is removed, the annotation's 198.18.0.162 is used" "$(svc_ips default both)" 198.18.0.162

svc_create default outside "$(lb_spec "$P80")" "$(ann $IPS 198.18.9.9)"
failed outside "198.18.9.9"
svc_create default taken "$(lb_spec "$P80")" "$(ann $IPS 198.18.0.150)"
failed taken "198.18.0.150"
eq "req still holds 198.18.0.150" "$(svc_ips default req)" 198.18.0.150
svc_create default badip "$(lb_spec "$P80")" "$(ann $IPS not-an-ip)"
failed badip "not-an-ip"

# ---------------------------------------------------------------- address-pool
svc_create default in-special "$(lb_spec "$P80")" "$(ann $POOL special)"
got_ip in-special
ip=$(svc_ips default in-special)
check "address-pool special: $ip is from 198.18.1.0/28" in_range "$ip" 198.18.1.0 198.18.1.15
eq "address-pool special: the cp says pool special" "$(cp_lb default in-special | jq -r .alloc_pool)" special
svc_create default in-special6 "$(lb_spec "$P80" '{"ipFamilyPolicy":"SingleStack","ipFamilies":["IPv6"]}')" "$(ann $POOL special)"
got_ip in-special6
ip=$(svc_ips default in-special6)
check "address-pool special, IPv6: $ip is from 2001:db8:5::/124" in_range "$ip" 2001:db8:5:: 2001:db8:5::f
svc_create default no-pool "$(lb_spec "$P80")" "$(ann $POOL nosuchpool)"
failed no-pool "nosuchpool"
eq "no annotation: auto_assign pool public" "$(cp_lb default req-old | jq -r .alloc_pool)" public

# ---------------------------------------------------------------- sharing
# Pinned to one address (MetalLB style): same key, ports 80 and 443 share it.
svc_create default sh-a "$(lb_spec "$P80")" "$(ann2 $SHARE k1 $IPS 198.18.0.170)"
svc_create default sh-b "$(lb_spec "$P443")" "$(ann2 $SHARE k1 $IPS 198.18.0.170)"
got_ip sh-a; got_ip sh-b
eq "allow-shared-ip k1: sh-a (80) and sh-b (443) share 198.18.0.170" "$(svc_ips default sh-a) $(svc_ips default sh-b)" "198.18.0.170 198.18.0.170"
used=$(pool_used public ipv4)
# Same key, overlapping port: refused.
svc_create default sh-c "$(lb_spec "$P80")" "$(ann2 $SHARE k1 $IPS 198.18.0.170)"
failed sh-c "198\\.18\\.0\\.170.*(TCP|tcp)/80"
# Another key on that address: refused.
svc_create default sh-d "$(lb_spec '[{"port":8443}]')" "$(ann2 $SHARE other $IPS 198.18.0.170)"
failed sh-d "198\\.18\\.0\\.170.*key"
eq "a shared address counts once in the pool" "$(pool_used public ipv4)" "$used"
# Not pinned: the same key and free ports join the key's address; overlapping ports
# get an address of their own.
svc_create default au-a "$(lb_spec "$P80")" "$(ann $SHARE k2)"
got_ip au-a
svc_create default au-b "$(lb_spec "$P443")" "$(ann $SHARE k2)"
got_ip au-b
eq "allow-shared-ip k2 (no address named): au-b joins au-a's address" "$(svc_ips default au-b)" "$(svc_ips default au-a)"
svc_create default au-c "$(lb_spec "$P80")" "$(ann $SHARE k2)"
got_ip au-c
check "allow-shared-ip k2, overlapping port 80: au-c gets an address of its own ($(svc_ips default au-c))" \
	test -n "$(svc_ips default au-c)" -a "$(svc_ips default au-c)" != "$(svc_ips default au-a)"

# ---------------------------------------------------------------- waiting for an address
# When the holder goes, the Service waiting for its address gets it.
svc_delete default sh-a
if got_ip sh-c 8; then
	eq "sh-a deleted: sh-c (k1, port 80) now shares 198.18.0.170 with sh-b" "$(svc_ips default sh-c)" 198.18.0.170
else
	nok "sh-a deleted: sh-c still has no address 8 s later (only retried at resync_s?)" "$(cp_lb default sh-c | jq -c .status)"
fi
for t in t1 t2 t3; do svc_create default $t "$(lb_spec "$P80")" "$(ann $POOL tiny)"; done
got_ip t1; got_ip t2
failed t3 "tiny|exhausted|no.*address|full"
svc_delete default t1
if got_ip t3 8; then
	ok "pool tiny full, t1 deleted: t3 got $(svc_ips default t3)"
else
	nok "pool tiny full, t1 deleted: t3 still has no address 8 s later (only retried at resync_s?)" "$(cp_lb default t3 | jq -c .status)"
fi
k8s_end
