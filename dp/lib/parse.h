/*
 * parse.h - the parse stage: one frame's bytes in, its headers described out.
 *
 * Called by every worker for every received frame (dp/worker.c), and by unit
 * tests with plain byte arrays. Pure C, no DPDK. It reads only; it never writes
 * the frame.
 *
 * in:  Ethernet [802.1Q [802.1Q]] then IPv4 | IPv6 | ARP
 * out: struct lb_pkt, or a drop reason (enum lb_drop) for a frame the fast path
 *      must not forward. Accepted: IPv4 without options, not a fragment, header
 *      checksum right; IPv6 whose next header is the transport (no extension
 *      headers); TCP, UDP, ICMP, ICMPv6 with their header inside the datagram;
 *      ARP with a full Ethernet/IPv4 body. Ethernet padding after the IP datagram
 *      is allowed and ignored. TCP flag sets no stack sends (null, xmas, SYN+FIN,
 *      SYN+RST) and TCP/UDP port 0 are dropped here, in both directions.
 */
#ifndef LB_PARSE_H
#define LB_PARSE_H

#include <stdint.h>

#include "lb_counters.h"

#define LB_ETHERTYPE_IPV4 0x0800
#define LB_ETHERTYPE_IPV6 0x86dd
#define LB_ETHERTYPE_ARP 0x0806
#define LB_ETHERTYPE_VLAN 0x8100
#define LB_ETHERTYPE_QINQ 0x88a8

#define LB_IPPROTO_ICMP 1
#define LB_IPPROTO_TCP 6
#define LB_IPPROTO_UDP 17
#define LB_IPPROTO_ICMPV6 58

/* TCP flag bits (byte 13 of the TCP header) */
#define LB_TCP_FIN 0x01
#define LB_TCP_SYN 0x02
#define LB_TCP_RST 0x04
#define LB_TCP_PSH 0x08
#define LB_TCP_ACK 0x10
#define LB_TCP_URG 0x20

enum lb_pkt_kind {
	LB_PKT_L4 = 0, /* IPv4/IPv6 carrying TCP or UDP: the load-balancing path */
	LB_PKT_ICMP,   /* IPv4 ICMP or ICMPv6 (incl. neighbour discovery) */
	LB_PKT_ARP,    /* ARP over Ethernet for IPv4 */
};

struct lb_pkt {
	uint16_t l2_len;     /* Ethernet header plus VLAN tags */
	uint16_t l3_len;     /* IP header: 20 (IPv4) or 40 (IPv6); 0 for ARP */
	uint16_t l4_len;     /* TCP header with options, 8 for UDP/ICMP */
	uint16_t ip_len;     /* IP datagram length from the header (headers included) */
	uint16_t ethertype;  /* after VLAN tags, host order */
	uint16_t vlan_tci;   /* outer tag, host order; 0 when untagged */
	uint8_t n_vlans;
	uint8_t kind;        /* enum lb_pkt_kind */
	uint8_t family;      /* LB_AF_INET / LB_AF_INET6 (ARP: LB_AF_INET) */
	uint8_t proto;       /* LB_IPPROTO_* */
	uint8_t ttl;         /* TTL or hop limit */
	uint8_t tcp_flags;   /* byte 13 of the TCP header, 0 otherwise */
	uint8_t icmp_type;   /* ICMP/ICMPv6 type and code, 0 otherwise */
	uint8_t icmp_code;
	uint32_t tcp_seq;    /* TCP sequence number, host order; 0 otherwise */
	uint16_t sport;      /* network order; 0 for ICMP and ARP */
	uint16_t dport;      /* network order */
	uint8_t src[16];     /* IPv4 in bytes 0..3, rest zero (ARP: sender IP) */
	uint8_t dst[16];     /* (ARP: target IP) */
};

/*
 * Parse frame[0..len). Returns 0 and fills *p, or returns -1 and stores the drop
 * reason in *drop. Never reads outside frame[0..len).
 */
int lb_parse(const uint8_t *frame, uint32_t len, struct lb_pkt *p, enum lb_drop *drop);

#endif /* LB_PARSE_H */
