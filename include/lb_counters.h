/*
 * lb_counters.h - names of the data plane's counters.
 *
 * Every packet the dp does not forward is counted under exactly one drop reason.
 * The lists are X-macros so the dp (per-worker arrays indexed by enum), the control
 * protocol (`stats.get` keys) and the control plane's /metrics share one spelling.
 * Builds without DPDK.
 */
#ifndef LB_COUNTERS_H
#define LB_COUNTERS_H

/* X(ENUM, name, help) */
#define LB_DROP_REASONS(X)                                                                \
	X(ZERO_LEN, zero_len, "zero-length frame")                                        \
	X(L2_TRUNCATED, l2_truncated, "frame shorter than its Ethernet/802.1Q header")    \
	X(VLAN_DEPTH, vlan_depth, "more than two 802.1Q tags")                            \
	X(NON_IP, non_ip, "EtherType is not IPv4, IPv6 or ARP")                           \
	X(L3_TRUNCATED, l3_truncated, "frame ends inside the IP header")                  \
	X(IP_VERSION, ip_version, "IP version field does not match the EtherType")        \
	X(BAD_IHL, bad_ihl, "IPv4 header length below 20 bytes")                          \
	X(BAD_TOTAL_LEN, bad_total_len, "IP length field inconsistent with the frame")    \
	X(IP_OPTIONS, ip_options, "IPv4 options present (not forwarded)")                 \
	X(IP_CKSUM, ip_cksum, "IPv4 header checksum wrong")                               \
	X(FRAGMENT, fragment, "IP fragment that cannot be forwarded")                     \
	X(IPV6_EXT, ipv6_ext, "IPv6 extension header (not forwarded)")                    \
	X(L4_PROTO, l4_proto, "transport protocol is not TCP, UDP or ICMP")               \
	X(L4_TRUNCATED, l4_truncated, "packet ends inside the TCP/UDP/ICMP header")       \
	X(BAD_TCP_DOFF, bad_tcp_doff, "TCP data offset below 5 or beyond the packet")     \
	X(MARTIAN, martian, "source address is multicast, loopback or unspecified")       \
	X(TCP_NULL, tcp_null, "TCP without any flag (null scan)")                         \
	X(TCP_XMAS, tcp_xmas, "TCP with FIN, PSH and URG set (xmas scan, incl. all flags)") \
	X(TCP_SYN_FIN, tcp_syn_fin, "TCP with SYN and FIN set")                           \
	X(TCP_SYN_RST, tcp_syn_rst, "TCP with SYN and RST set")                           \
	X(PORT_ZERO, port_zero, "TCP/UDP source or destination port 0")                   \
	X(LAND, land, "new flow whose source is a VIP or an address of this box")         \
	X(RST_NO_CONN, rst_no_conn, "TCP RST that matches no connection (no state made)") \
	X(RST_WINDOW, rst_window, "client RST outside the sequence window of its connection") \
	X(L4_CKSUM, l4_cksum, "NIC reported a bad TCP/UDP checksum")                      \
	X(TTL_EXPIRED, ttl_expired, "TTL or hop limit would reach zero")                  \
	X(NOT_OURS, not_ours, "destination is not a VIP or local address of this box")    \
	X(NO_SERVICE, no_service, "VIP has no service on this port and protocol")         \
	X(NO_BACKEND, no_backend, "service has no backend that takes new flows")          \
	X(NO_SNAT, no_snat, "fnat: no local address or free port toward the backend")     \
	X(CT_TABLE_FULL, ct_table_full, "new flow: conntrack full, nothing to reclaim")    \
	X(SOURCE_RANGE, source_range, "source address outside the service's ranges")      \
	X(REPLY_NO_CONN, reply_no_conn, "reply matches no tracked connection")            \
	X(SVC_GONE, svc_gone, "connection's service was deleted")                         \
	X(NO_ROUTE, no_route, "no route to the destination")                              \
	X(TOO_BIG, too_big, "packet larger than the egress MTU")                          \
	X(ICMP, icmp, "ICMP message not for us or about no tracked connection")           \
	X(EXC_LIMITED, exception_limited, "for the box's kernel (exception path): over dp.exception_rate_pps") \
	X(EXC_PRIORITY_LIMITED, exception_priority_limited, "BGP/BFD for the box's kernel: over dp.exception_priority_rate_pps") \
	X(CTRL_FULL, ctrl_full, "queue to the control thread full")                       \
	X(HANDOFF_FULL, handoff_full, "ring to the owning worker full")                   \
	X(TX_FULL, tx_full, "transmit queue full")

enum lb_drop {
#define LB_X_ENUM(e, n, h) LB_DROP_##e,
	LB_DROP_REASONS(LB_X_ENUM)
#undef LB_X_ENUM
	LB_DROP_MAX
};

/* Per-worker event counters that are not drops: X(ENUM, name, help). */
#define LB_WORKER_EVENTS(X)                                                              \
	X(RX_PKTS, rx_packets, "packets received")                                       \
	X(RX_BYTES, rx_bytes, "bytes received")                                          \
	X(TX_PKTS, tx_packets, "packets transmitted")                                    \
	X(TX_BYTES, tx_bytes, "bytes transmitted")                                       \
	X(FWD_PKTS, fwd_packets, "client-to-backend packets forwarded")                  \
	X(REV_PKTS, rev_packets, "backend-to-client packets forwarded")                  \
	X(CT_CREATED, ct_created, "connections created")                                 \
	X(CT_EXPIRED, ct_expired, "connections expired")                                 \
	X(CT_FULL, ct_full, "new flows that met a full table (reclaimed or dropped)")     \
	X(CT_EVICTED, ct_evicted, "half-open entries evicted for a new flow")           \
	X(SNAT_EXHAUSTED, snat_exhausted, "new fnat flows refused: every SNAT port toward the backend in use or cooling") \
	X(BACKEND_RESETS, backend_resets, "RSTs sent to backends for reclaimed half-open fnat entries") \
	X(CT_REPICK, ct_repick, "established flows re-picked: backend removed")          \
	X(AFFINITY_HITS, affinity_hits, "new flows placed by ClientIP affinity")         \
	X(HANDOFF_OUT, handoff_out, "replies handed to the owning worker")               \
	X(HANDOFF_IN, handoff_in, "replies received from other workers")                 \
	X(CTRL_PUNT, ctrl_punt, "packets handed to the control thread")                  \
	X(EXC_GENERAL, exception_general, "packets for the box's kernel handed to the control thread: general class (ssh, all but BGP/BFD from trusted sources)") \
	X(EXC_PRIORITY, exception_priority, "packets for the box's kernel handed to the control thread: priority class (BGP, BFD from trusted sources)") \
	X(IDLE_SLEEPS, idle_sleeps, "idle polls that slept")                            \
	X(SYNC_ADOPTED, sync_adopted, "connections taken over from a peer box's sync record") \
	X(SYNC_RING_FULL, sync_ring_full, "sync records not sent: ring to the control thread full")

enum lb_event {
#define LB_X_ENUM(e, n, h) LB_EV_##e,
	LB_WORKER_EVENTS(LB_X_ENUM)
#undef LB_X_ENUM
	LB_EV_MAX
};

/* Control-thread counters (ARP, NDP, ICMP it answers or originates): X(ENUM, name, help). */
#define LB_CTRL_COUNTERS(X)                                                              \
	X(PUNTED, punted, "packets received from workers")                               \
	X(ARP_REQ_RX, arp_requests_rx, "ARP requests for our addresses answered")        \
	X(ARP_REPLY_RX, arp_replies_rx, "ARP replies received")                          \
	X(ARP_REQ_TX, arp_requests_tx, "ARP requests sent to resolve a neighbour")       \
	X(GARP_TX, garp_tx, "gratuitous ARPs / unsolicited NAs sent")                    \
	X(ADDR_DEFENDED, addr_defended, "our addresses announced again: another MAC announced one") \
	X(ADDR_DEFEND_LIMITED, addr_defend_limited, "announcements of our addresses by another MAC not answered: rate limit") \
	X(NS_RX, nd_solicits_rx, "neighbour solicitations for our addresses answered")   \
	X(NA_RX, nd_adverts_rx, "neighbour advertisements received")                     \
	X(NS_TX, nd_solicits_tx, "neighbour solicitations sent")                         \
	X(NEIGH_LEARNED, neigh_learned, "neighbour entries resolved or refreshed")       \
	X(NEIGH_REJECTED, neigh_rejected, "ARP/NDP updates refused: wrong port or subnet, or an unsolicited MAC change") \
	X(NEIGH_FAILED, neigh_failed, "neighbours given up after unanswered probes")     \
	X(NEIGH_DELETED, neigh_deleted, "dynamic neighbour entries aged out or given up and deleted") \
	X(NEIGH_TABLE_FULL, neigh_table_full, "on-link next hops not created: room kept for routes and backends") \
	X(PROBES_DEFERRED, probes_deferred, "neighbour probes postponed: probe_rate or ring room") \
	X(HELD, held, "packets held while their next hop resolved")                      \
	X(HELD_SENT, held_sent, "held packets sent after resolution")                    \
	X(HELD_DROPPED, held_dropped, "held packets dropped: queue full or no answer")   \
	X(ECHO_REPLIES, icmp_echo_replies, "ICMP/ICMPv6 echo replies sent")              \
	X(ICMP_ERRORS_TX, icmp_errors_tx, "ICMP errors originated (too big, TTL)")       \
	X(ICMP_RATE_LIMITED, icmp_rate_limited, "ICMP errors not sent: rate limit")      \
	X(IGNORED, ignored, "control packets not for us or malformed")                   \
	X(TX_RING_FULL, tx_ring_full, "control packets dropped: ring to a worker full")   \
	X(EXC_TO_KERNEL, exception_to_kernel, "frames handed to the kernel's exception tap") \
	X(EXC_FROM_KERNEL, exception_from_kernel, "frames the kernel sent out a port")   \
	X(EXC_DROPPED, exception_dropped, "frames for the kernel dropped: tap full")     \
	X(EXC_NEIGH_COPIES, exception_neigh_copies, "ARP/NDP copies handed to the kernel's exception tap") \
	X(EXC_NEIGH_LIMITED, exception_neigh_limited, "ARP/NDP copies not made: over dp.exception_priority_rate_pps") \
	X(SYNC_TX_DGRAMS, flow_sync_tx_datagrams, "flow sync datagrams sent to peers")   \
	X(SYNC_TX_RECORDS, flow_sync_tx_records, "flow sync records sent (counted once per peer)") \
	X(SYNC_TX_DROPPED, flow_sync_tx_dropped, "flow sync datagrams not sent: no route, no mbuf, next hop unresolved too long") \
	X(SYNC_RX_DGRAMS, flow_sync_rx_datagrams, "flow sync datagrams accepted")        \
	X(SYNC_RX_RECORDS, flow_sync_rx_records, "flow sync records stored in the peer table") \
	X(SYNC_RX_TRUNCATED, flow_sync_rx_truncated, "flow sync datagrams dropped: shorter than their header or record count") \
	X(SYNC_RX_OVERSIZED, flow_sync_rx_oversized, "flow sync datagrams dropped: over the largest datagram or batch") \
	X(SYNC_RX_MALFORMED, flow_sync_rx_malformed, "flow sync datagrams dropped: bad magic, type or length") \
	X(SYNC_RX_BAD_VERSION, flow_sync_rx_bad_version, "flow sync datagrams dropped: protocol version not spoken") \
	X(SYNC_RX_BAD_MAC, flow_sync_rx_bad_mac, "flow sync datagrams dropped: MAC does not verify (wrong key or altered)") \
	X(SYNC_RX_REPLAYED, flow_sync_rx_replayed, "flow sync datagrams dropped: sequence already seen or below the window") \
	X(SYNC_RX_STALE, flow_sync_rx_stale, "flow sync datagrams dropped: timestamp too far from this box's clock") \
	X(SYNC_RX_NOT_PEER, flow_sync_rx_not_peer, "flow sync datagrams dropped: source is not a configured peer, or is this box") \
	X(SYNC_RX_BAD_RECORD, flow_sync_rx_bad_record, "flow sync records dropped: a field out of range") \
	X(SYNC_PEER_FULL, flow_sync_peer_full, "flow sync records not stored: peer table full") \
	X(TABLE_BUILDS, table_builds, "service objects built by the builder thread")     \
	X(TABLE_COPIES, table_copies, "of those, Maglev tables copied from dp.maglev_cache_kb's cache of recent tables") \
	X(BUILDS_CANCELLED, table_builds_cancelled, "builds called off because a newer spec of the service came")

enum lb_ctrl_counter {
#define LB_X_ENUM(e, n, h) LB_CTRL_##e,
	LB_CTRL_COUNTERS(LB_X_ENUM)
#undef LB_X_ENUM
	LB_CTRL_MAX
};

/* Names and help texts, indexed by the enums above (for stats.get and /metrics). */
#define LB_X_NAME(e, n, h) #n,
#define LB_X_HELP(e, n, h) h,
static const char *const lb_drop_names[LB_DROP_MAX] = {LB_DROP_REASONS(LB_X_NAME)};
static const char *const lb_drop_help[LB_DROP_MAX] = {LB_DROP_REASONS(LB_X_HELP)};
static const char *const lb_event_names[LB_EV_MAX] = {LB_WORKER_EVENTS(LB_X_NAME)};
static const char *const lb_event_help[LB_EV_MAX] = {LB_WORKER_EVENTS(LB_X_HELP)};
static const char *const lb_ctrl_names[LB_CTRL_MAX] = {LB_CTRL_COUNTERS(LB_X_NAME)};
static const char *const lb_ctrl_help[LB_CTRL_MAX] = {LB_CTRL_COUNTERS(LB_X_HELP)};
#undef LB_X_NAME
#undef LB_X_HELP

#endif /* LB_COUNTERS_H */
