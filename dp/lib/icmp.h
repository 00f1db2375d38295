/*
 * icmp.h - ICMP and ICMPv6 messages: echo replies, errors the dp sends, and the
 * translation of errors about tracked connections.
 *
 * Pure C, no DPDK: byte buffers in, byte buffers out. Callers: the control thread
 * (echo replies, errors it originates: fragmentation needed / packet too big,
 * time exceeded) and workers (errors that quote a NATed packet, rewritten so the
 * other side of the connection recognises them; this is what lets path MTU
 * discovery work through the box).
 *
 * in:  IP/ICMP(error)/[quoted IP/L4 header...] as received
 * out: the same message with outer and quoted addresses/ports replaced, the quoted
 *      IPv4 header checksum and (when quoted) the quoted L4 checksum updated, the
 *      ICMP checksum recomputed from scratch.
 */
#ifndef LB_ICMP_H
#define LB_ICMP_H

#include <stddef.h>
#include <stdint.h>

#include "parse.h"

/* ICMPv4 */
#define LB_ICMP_ECHO_REPLY 0
#define LB_ICMP_DEST_UNREACH 3
#define LB_ICMP_FRAG_NEEDED 4 /* code of DEST_UNREACH */
#define LB_ICMP_ECHO_REQUEST 8
#define LB_ICMP_TIME_EXCEEDED 11
#define LB_ICMP_PARAM_PROBLEM 12
/* ICMPv6 */
#define LB_ICMP6_DEST_UNREACH 1
#define LB_ICMP6_PACKET_TOO_BIG 2
#define LB_ICMP6_TIME_EXCEEDED 3
#define LB_ICMP6_PARAM_PROBLEM 4
#define LB_ICMP6_ECHO_REQUEST 128
#define LB_ICMP6_ECHO_REPLY 129
#define LB_ICMP6_ROUTER_SOLICIT 133
#define LB_ICMP6_NEIGH_SOLICIT 135
#define LB_ICMP6_NEIGH_ADVERT 136

/* True for the error types whose body quotes the offending datagram. */
int lb_icmp_is_error(uint8_t family, uint8_t type);
int lb_icmp_is_echo_request(uint8_t family, uint8_t type);

/* The quoted datagram of an error, as far as it was quoted. */
struct lb_icmp_inner {
	uint16_t off;        /* quoted IP header, from the start of the outer IP header */
	uint16_t len;        /* bytes quoted (IP header included) */
	uint16_t l4_off;     /* quoted L4 header, from the start of the outer IP header */
	uint8_t proto;       /* LB_IPPROTO_TCP / UDP */
	uint8_t src[16], dst[16];
	uint16_t sport, dport; /* network order */
};

/*
 * Describe the quoted TCP/UDP datagram of an ICMP error (outer parsed by lb_parse,
 * l3 = start of the outer IP header, len = bytes from l3 to the end of the
 * datagram). Returns 0, or -1 when nothing usable is quoted (not TCP/UDP, family
 * mismatch, fewer than 8 bytes of L4).
 */
int lb_icmp_inner(const uint8_t *l3, uint32_t len, const struct lb_pkt *outer,
		  struct lb_icmp_inner *in);

/* New values for an error's outer and quoted headers; NULL / 0 keeps a field. */
struct lb_icmp_rw {
	const uint8_t *outer_src, *outer_dst;
	const uint8_t *inner_src, *inner_dst;
	uint16_t inner_sport, inner_dport; /* network order */
};

/*
 * Rewrite an error in place (see the header comment) and decrement the outer TTL
 * / hop limit. Returns 0, or -1 when the outer TTL is expired (untouched).
 */
int lb_icmp_rewrite_error(uint8_t *l3, const struct lb_pkt *outer, const struct lb_icmp_inner *in,
			  const struct lb_icmp_rw *rw);

/* Turn an echo request (l3 .. l3+ip_len) into its reply in place. */
int lb_icmp_echo_to_reply(uint8_t *l3, const struct lb_pkt *p);

/*
 * Build an IP + ICMP error from src to the sender of orig (orig = the offending
 * datagram, from its IP header, orig_len bytes). Quotes as much of orig as fits in
 * 576 (IPv4) / 1280 (IPv6) bytes. info: the next-hop MTU for fragmentation
 * needed / packet too big, else 0. Returns the length written to out (cap >= 1280),
 * or 0 when orig is itself an ICMP error or not quotable (no error about errors).
 */
size_t lb_icmp_error_build(uint8_t *out, size_t cap, uint8_t family, const uint8_t *src,
			   const uint8_t *orig, uint32_t orig_len, uint8_t type, uint8_t code,
			   uint32_t info);

#endif /* LB_ICMP_H */
