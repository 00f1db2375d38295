/*
 * lb_model.h - the service model shared by edgelb-dp and edgelb-cp.
 *
 * A dp service is one (VIP, port, protocol) with its backends; a control-plane load
 * balancer with several ports and IPs becomes several dp services. The same structs
 * come out of the dp config file (dp/config.c) and out of `service.upsert` control
 * messages (dp/ctl.c), and the control plane fills them before it encodes them.
 * Builds without DPDK.
 */
#ifndef LB_MODEL_H
#define LB_MODEL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lb_addr.h"

#define LB_NAME_MAX 128                 /* service name, NUL included */
#define LB_MAX_BACKENDS_PER_SVC 65534   /* Maglev entries are 16-bit; 0xffff = empty */
#define LB_MAX_SOURCE_RANGES 64
#define LB_MAGLEV_M_DEFAULT 65537       /* prime; the paper's default */
#define LB_MAGLEV_M_MAX 1048573         /* largest prime below 2^20 we accept */
#define LB_WEIGHT_MAX 65535
#define LB_AFFINITY_TIMEOUT_DEFAULT 10800 /* seconds, Kubernetes default */
#define LB_AFFINITY_TIMEOUT_MAX 86400     /* seconds, Kubernetes maximum */

enum lb_proto {
	LB_PROTO_TCP = 6,
	LB_PROTO_UDP = 17,
};

enum lb_mode {
	LB_MODE_FNAT = 0, /* DNAT to backend + SNAT to a local address: replies come back */
	LB_MODE_DNAT = 1, /* destination only; the box must be the backends' gateway */
};

enum lb_backend_state {
	LB_BACKEND_ACTIVE = 0,   /* takes new flows */
	LB_BACKEND_DRAINING = 1, /* serving + terminating: existing flows only */
	LB_BACKEND_DOWN = 2,     /* failed health check: no new flows */
};

enum lb_affinity {
	LB_AFFINITY_NONE = 0,
	LB_AFFINITY_CLIENTIP = 1,
};

struct lb_backend_spec {
	struct lb_addr addr;
	uint16_t port;   /* host order */
	uint16_t weight; /* 0 = takes no new flows */
	uint8_t state;   /* enum lb_backend_state */
};

struct lb_svc_spec {
	char name[LB_NAME_MAX];
	struct lb_addr vip;
	uint16_t port;  /* host order */
	uint8_t proto;  /* enum lb_proto */
	uint8_t mode;   /* enum lb_mode */
	uint32_t maglev_m;
	uint8_t affinity;           /* enum lb_affinity */
	uint32_t affinity_timeout;  /* seconds */
	uint32_t n_backends;
	struct lb_backend_spec *backends; /* malloc'd; owned by the spec */
	uint32_t n_source_ranges;
	struct lb_prefix *source_ranges;  /* malloc'd; empty = everyone */
};

static inline void
lb_svc_spec_init(struct lb_svc_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->mode = LB_MODE_FNAT;
	s->maglev_m = LB_MAGLEV_M_DEFAULT;
	s->affinity = LB_AFFINITY_NONE;
	s->affinity_timeout = LB_AFFINITY_TIMEOUT_DEFAULT;
}

static inline void
lb_svc_spec_free(struct lb_svc_spec *s)
{
	free(s->backends);
	free(s->source_ranges);
	s->backends = NULL;
	s->source_ranges = NULL;
	s->n_backends = 0;
	s->n_source_ranges = 0;
}

/* Text names, used in config files, JSON messages and tables. */
static inline const char *
lb_proto_name(uint8_t p)
{
	return p == LB_PROTO_TCP ? "tcp" : p == LB_PROTO_UDP ? "udp" : "?";
}

static inline int
lb_proto_parse(const char *s, uint8_t *p)
{
	if (strcasecmp(s, "tcp") == 0)
		*p = LB_PROTO_TCP;
	else if (strcasecmp(s, "udp") == 0)
		*p = LB_PROTO_UDP;
	else
		return LB_EINVAL;
	return 0;
}

static inline const char *
lb_mode_name(uint8_t m)
{
	return m == LB_MODE_FNAT ? "fnat" : m == LB_MODE_DNAT ? "dnat" : "?";
}

static inline int
lb_mode_parse(const char *s, uint8_t *m)
{
	if (strcmp(s, "fnat") == 0)
		*m = LB_MODE_FNAT;
	else if (strcmp(s, "dnat") == 0)
		*m = LB_MODE_DNAT;
	else
		return LB_EINVAL;
	return 0;
}

static inline const char *
lb_backend_state_name(uint8_t s)
{
	switch (s) {
	case LB_BACKEND_ACTIVE: return "active";
	case LB_BACKEND_DRAINING: return "draining";
	case LB_BACKEND_DOWN: return "down";
	default: return "?";
	}
}

static inline int
lb_backend_state_parse(const char *s, uint8_t *st)
{
	if (strcmp(s, "active") == 0)
		*st = LB_BACKEND_ACTIVE;
	else if (strcmp(s, "draining") == 0)
		*st = LB_BACKEND_DRAINING;
	else if (strcmp(s, "down") == 0)
		*st = LB_BACKEND_DOWN;
	else
		return LB_EINVAL;
	return 0;
}

static inline const char *
lb_affinity_name(uint8_t a)
{
	return a == LB_AFFINITY_CLIENTIP ? "ClientIP" : "None";
}

static inline int
lb_affinity_parse(const char *s, uint8_t *a)
{
	if (strcmp(s, "ClientIP") == 0)
		*a = LB_AFFINITY_CLIENTIP;
	else if (strcmp(s, "None") == 0)
		*a = LB_AFFINITY_NONE;
	else
		return LB_EINVAL;
	return 0;
}

/* True when n is a prime we accept as a Maglev table size. */
static inline int
lb_maglev_m_valid(uint32_t n)
{
	if (n < 3 || n > LB_MAGLEV_M_MAX || (n % 2) == 0)
		return 0;
	for (uint32_t d = 3; d * d <= n; d += 2)
		if (n % d == 0)
			return 0;
	return 1;
}

#endif /* LB_MODEL_H */
