# shellcheck shell=bash
# kubeproxy.sh - the kernel load balancers of kube-proxy's three Linux modes, laid
# out in one network namespace as kube-proxy lays them out for one Service of type
# LoadBalancer (externalTrafficPolicy: Cluster, no session affinity), so that a
# benchmark can race them against edgelb. Sourced by scripts/bench-e2e.sh; runs in
# the benchmark's shell, touches only the namespace it is given.
#
#   kp_iptables_up NS  / kp_iptables_down NS   iptables mode (iptables-restore)
#   kp_ipvs_check NS   / kp_ipvs_up NS / kp_ipvs_down NS   ipvs mode (ipvsadm, ipset,
#                                               iptables; needs CONFIG_IP_VS)
#   kp_nft_up NS       / kp_nft_down NS        nftables mode (nft -f)
#
# Inputs (set by the caller): KP_VIP (the LoadBalancer IP), KP_PORT (service port),
# KP_BACKENDS ("ip:port ip:port ..."), KP_CLUSTER_IP (the Service's ClusterIP),
# KP_SERVICE_CIDR, KP_POD_CIDR, KP_NODE_IPS ("ip ..."), KP_NODEPORT, KP_MASQ_FULLY
# (1: MASQUERADE --random-fully / masquerade fully-random, as kube-proxy writes it
# when the kernel has it). Rule names follow kube-proxy's (the KUBE-SVC/SEP hashes
# are replaced by readable names). The path: the client's packet to KP_VIP:KP_PORT
# arrives on the node, is DNATed (iptables, nftables: nat prerouting; ipvs: the
# local-in hook, the VIP being local on the dummy kube-ipvs0), forwarded to a
# backend and masqueraded (the packet got the 0x4000 mark on its way in), as for
# any external client of an eTP=Cluster service.

KP_MARK=0x4000

# The sysctls kube-proxy sets in every mode (conntrack timeouts from its defaults:
# --conntrack-tcp-timeout-established 24h, --conntrack-tcp-timeout-close-wait 1h)
# and forwarding. nf_conntrack_max is global (init namespace only): left alone.
kp_sysctls() { # ns
	ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$1" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_established=86400 \
		net.netfilter.nf_conntrack_tcp_timeout_close_wait=3600 2>/dev/null || true
}

kp_iptables_up() { # ns
	local ns=$1 n i rules masq="" b
	[ "${KP_MASQ_FULLY:-1}" = 1 ] && masq=" --random-fully"
	set -- $KP_BACKENDS
	n=$#
	kp_sysctls "$ns"
	# What kube-proxy (iptables mode) writes for one LoadBalancer port: the LB IP
	# jumps to KUBE-EXT (mark for masquerade, then the service chain), which picks
	# an endpoint with -m statistic, whose chain DNATs.
	rules="*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-BENCH - [0:0]
:KUBE-EXT-BENCH - [0:0]
-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES
-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --or-mark $KP_MARK
-A KUBE-POSTROUTING -m mark ! --mark $KP_MARK/$KP_MARK -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark $KP_MARK
-A KUBE-POSTROUTING -j MASQUERADE$masq
-A KUBE-SERVICES -d $KP_CLUSTER_IP/32 -p tcp -m tcp --dport $KP_PORT -j KUBE-SVC-BENCH
-A KUBE-SERVICES -d $KP_VIP/32 -p tcp -m tcp --dport $KP_PORT -j KUBE-EXT-BENCH
-A KUBE-EXT-BENCH -j KUBE-MARK-MASQ
-A KUBE-EXT-BENCH -j KUBE-SVC-BENCH
-A KUBE-SVC-BENCH ! -s $KP_POD_CIDR -d $KP_CLUSTER_IP/32 -p tcp -m tcp --dport $KP_PORT -j KUBE-MARK-MASQ
"
	for i in $(seq 1 "$n"); do rules="$rules:KUBE-SEP-B$i - [0:0]
"; done
	i=0
	for b in $KP_BACKENDS; do
		i=$((i + 1))
		if [ "$i" -lt "$n" ]; then
			rules="$rules-A KUBE-SVC-BENCH -m statistic --mode random --probability $(awk -v k=$((n - i + 1)) 'BEGIN {printf "%.11f", 1 / k}') -j KUBE-SEP-B$i
"
		else
			rules="$rules-A KUBE-SVC-BENCH -j KUBE-SEP-B$i
"
		fi
		rules="$rules-A KUBE-SEP-B$i -s ${b%:*}/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-B$i -p tcp -m tcp -j DNAT --to-destination $b
"
	done
	rules="${rules}COMMIT
"
	printf '%s' "$rules" | ip netns exec "$ns" iptables-restore --noflush
}

kp_iptables_down() { # ns
	ip netns exec "$1" iptables-restore <<<"*nat
COMMIT" 2>/dev/null || true
}

# IPVS present? Prints the error (ipvsadm's own words) and fails when not.
kp_ipvs_check() { # ns
	local out
	command -v ipvsadm >/dev/null || { echo "ipvsadm not installed (scripts/setup.sh)"; return 1; }
	command -v ipset >/dev/null || { echo "ipset not installed (scripts/setup.sh)"; return 1; }
	if ! out=$(ip netns exec "$1" ipvsadm -Ln 2>&1); then
		echo "$out" | grep -v '^modprobe' | tr '\n' ' '
		return 1
	fi
}

# kube-proxy ipvs mode (pkg/proxy/ipvs): the LB IP bound to the dummy device
# kube-ipvs0, a virtual server with the default scheduler rr and the endpoints as
# masquerading (NAT) real servers; the sysctls it sets (vs/conntrack=1 so that
# netfilter's MASQUERADE sees IPVS connections, conn_reuse_mode=0,
# expire_nodest_conn=1, expire_quiescent_template=1); iptables + ipset for the
# masquerade mark: KUBE-SERVICES matches the ipset KUBE-LOAD-BALANCER
# (hash:ip,port) and jumps to KUBE-LOAD-BALANCER, which marks; KUBE-POSTROUTING
# masquerades marked packets and hairpin traffic (ipset KUBE-LOOP-BACK).
kp_ipvs_up() { # ns
	local ns=$1 b masq=""
	[ "${KP_MASQ_FULLY:-1}" = 1 ] && masq=" --random-fully"
	kp_sysctls "$ns"
	ip netns exec "$ns" sysctl -qw net.ipv4.vs.conntrack=1 net.ipv4.vs.conn_reuse_mode=0 \
		net.ipv4.vs.expire_nodest_conn=1 net.ipv4.vs.expire_quiescent_template=1
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.route_localnet=1
	ip -n "$ns" link add kube-ipvs0 type dummy
	# kube-proxy never sets the dummy up: the addresses are local all the same.
	ip -n "$ns" addr add "$KP_CLUSTER_IP/32" dev kube-ipvs0
	ip -n "$ns" addr add "$KP_VIP/32" dev kube-ipvs0
	ip netns exec "$ns" ipvsadm -A -t "$KP_CLUSTER_IP:$KP_PORT" -s rr
	ip netns exec "$ns" ipvsadm -A -t "$KP_VIP:$KP_PORT" -s rr
	for b in $KP_BACKENDS; do
		ip netns exec "$ns" ipvsadm -a -t "$KP_CLUSTER_IP:$KP_PORT" -r "$b" -m -w 1
		ip netns exec "$ns" ipvsadm -a -t "$KP_VIP:$KP_PORT" -r "$b" -m -w 1
	done
	ip netns exec "$ns" ipset create KUBE-CLUSTER-IP hash:ip,port
	ip netns exec "$ns" ipset create KUBE-LOAD-BALANCER hash:ip,port
	ip netns exec "$ns" ipset create KUBE-LOOP-BACK hash:ip,port,ip
	ip netns exec "$ns" ipset add KUBE-CLUSTER-IP "$KP_CLUSTER_IP,tcp:$KP_PORT"
	ip netns exec "$ns" ipset add KUBE-LOAD-BALANCER "$KP_VIP,tcp:$KP_PORT"
	for b in $KP_BACKENDS; do
		ip netns exec "$ns" ipset add KUBE-LOOP-BACK "${b%:*},tcp:${b#*:},${b%:*}"
	done
	ip netns exec "$ns" iptables-restore --noflush <<RULES
*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-LOAD-BALANCER - [0:0]
:KUBE-NODE-PORT - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --or-mark $KP_MARK
-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE
-A KUBE-POSTROUTING -m mark ! --mark $KP_MARK/$KP_MARK -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark $KP_MARK
-A KUBE-POSTROUTING -j MASQUERADE$masq
-A KUBE-SERVICES -m comment --comment "Kubernetes service lb portal" -m set --match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER
-A KUBE-SERVICES ! -s $KP_POD_CIDR -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT
-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT
-A KUBE-SERVICES -m set --match-set KUBE-LOAD-BALANCER dst,dst -j ACCEPT
-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ
COMMIT
RULES
}

kp_ipvs_down() { # ns
	ip netns exec "$1" ipvsadm -C 2>/dev/null || true
	kp_iptables_down "$1"
	ip -n "$1" link del kube-ipvs0 2>/dev/null || true
	local s
	for s in KUBE-CLUSTER-IP KUBE-LOAD-BALANCER KUBE-LOOP-BACK; do
		ip netns exec "$1" ipset destroy "$s" 2>/dev/null || true
	done
}

# kube-proxy nftables mode (pkg/proxy/nftables): table ip kube-proxy, the
# service-ips verdict map (daddr . proto . dport) sends the LB IP to the
# external-* chain (mark for masquerade, goto service-*), which picks an endpoint
# with `numgen random mod N vmap`; the endpoint chain DNATs; nat-postrouting
# masquerades marked packets fully-random. The filter chains kube-proxy hooks
# (firewall, no-endpoint and cluster-ip checks on ct state new) are there too:
# every new connection pays for them in kube-proxy as well.
kp_nft_up() { # ns
	local ns=$1 n=0 b i vmap="" sep="" eps="" masq="" nip nips=""
	[ "${KP_MASQ_FULLY:-1}" = 1 ] && masq=" fully-random"
	kp_sysctls "$ns"
	for b in $KP_BACKENDS; do
		vmap="$vmap$sep$n : goto endpoint-B$((n + 1))"
		sep=" , "
		eps="${eps}add chain ip kube-proxy endpoint-B$((n + 1))
add rule ip kube-proxy endpoint-B$((n + 1)) ip saddr ${b%:*} jump mark-for-masquerade
add rule ip kube-proxy endpoint-B$((n + 1)) meta l4proto tcp dnat to $b
"
		n=$((n + 1))
	done
	sep=""
	for nip in $KP_NODE_IPS; do nips="$nips$sep$nip"; sep=", "; done
	i=$KP_CLUSTER_IP
	ip netns exec "$ns" nft -f - <<NFT
add table ip kube-proxy { comment "rules for kube-proxy" ; }
add set ip kube-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
add set ip kube-proxy nodeport-ips { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }
add map ip kube-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }
add map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }
add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }
add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }
add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }
add chain ip kube-proxy cluster-ips-check
add chain ip kube-proxy filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }
add chain ip kube-proxy filter-output-pre-dnat { type filter hook output priority -110 ; }
add chain ip kube-proxy filter-forward { type filter hook forward priority 0 ; }
add chain ip kube-proxy filter-input { type filter hook input priority 0 ; }
add chain ip kube-proxy filter-output { type filter hook output priority 0 ; }
add chain ip kube-proxy firewall-check
add chain ip kube-proxy mark-for-masquerade
add chain ip kube-proxy masquerading
add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }
add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; }
add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }
add chain ip kube-proxy nodeport-endpoints-check
add chain ip kube-proxy reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }
add chain ip kube-proxy services
add chain ip kube-proxy service-endpoints-check
add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
add rule ip kube-proxy cluster-ips-check ip daddr { $KP_SERVICE_CIDR } drop comment "Drop traffic to unallocated ClusterIPs"
add rule ip kube-proxy filter-prerouting-pre-dnat ct state new jump firewall-check
add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check
add rule ip kube-proxy filter-forward ct state new jump cluster-ips-check
add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check
add rule ip kube-proxy filter-input ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output-pre-dnat ct state new jump firewall-check
add rule ip kube-proxy filter-output ct state new jump cluster-ips-check
add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips
add rule ip kube-proxy mark-for-masquerade mark set mark or $KP_MARK
add rule ip kube-proxy masquerading mark and $KP_MARK == 0 return
add rule ip kube-proxy masquerading mark set mark xor $KP_MARK
add rule ip kube-proxy masquerading masquerade$masq
add rule ip kube-proxy nat-output jump services
add rule ip kube-proxy nat-postrouting jump masquerading
add rule ip kube-proxy nat-prerouting jump services
add rule ip kube-proxy nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
add rule ip kube-proxy reject-chain reject
add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
add rule ip kube-proxy services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
add element ip kube-proxy nodeport-ips { $nips }
add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services
${eps}add chain ip kube-proxy service-BENCH
add rule ip kube-proxy service-BENCH ip daddr $i ip saddr != $KP_POD_CIDR jump mark-for-masquerade
add rule ip kube-proxy service-BENCH numgen random mod $n vmap { $vmap }
add chain ip kube-proxy external-BENCH
add rule ip kube-proxy external-BENCH jump mark-for-masquerade
add rule ip kube-proxy external-BENCH goto service-BENCH
add element ip kube-proxy cluster-ips { $i }
add element ip kube-proxy service-ips { $i . tcp . $KP_PORT : goto service-BENCH }
add element ip kube-proxy service-ips { $KP_VIP . tcp . $KP_PORT : goto external-BENCH }
add element ip kube-proxy service-nodeports { tcp . $KP_NODEPORT : goto external-BENCH }
NFT
}

kp_nft_down() { # ns
	ip netns exec "$1" nft delete table ip kube-proxy 2>/dev/null || true
}
