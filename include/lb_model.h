/*
 * lb_model.h - the service model shared by edgelb-dp and edgelb-cp.
 *
 * A dp service is one (VIP, port, protocol) with its backends; a control-plane load
 * balancer with several ports and IPs becomes several dp services. The same structs
 * come out of the dp config file (dp/lib/config.c) and out of `service.upsert` control
 * messages (dp/control/ctl.c), and the control plane fills them before it encodes them.
 * Part of the dp<->cp contract library (edgelb-contract: dp/lib/model.c,
 * dp/lib/svc_json.c): builds without DPDK and without libconfig.
 */
#ifndef LB_MODEL_H
#define LB_MODEL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lb_addr.h"
#include "lb_error.h"

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
	/*
	 * Direct server return: the packet goes to the backend unchanged inside an
	 * outer header (box address -> backend); the backend decapsulates it, owns the
	 * VIP and answers the client directly, so replies never pass the box.
	 */
	LB_MODE_IPIP = 2, /* IPv4-in-IPv4 (protocol 4) / IPv6-in-IPv6 (next header 41) */
	LB_MODE_GUE = 3,  /* outer IP + UDP to dp.gue_port, GUE variant 1 (RFC draft) */
};

/* A DSR mode: replies bypass the box, backends must listen on the VIP's port. */
static inline int
lb_mode_is_dsr(uint8_t m)
{
	return m == LB_MODE_IPIP || m == LB_MODE_GUE;
}

enum lb_backend_state {
	LB_BACKEND_ACTIVE = 0,   /* takes new flows */
	LB_BACKEND_DRAINING = 1, /* serving + terminating: existing flows only */
	LB_BACKEND_DOWN = 2,     /* failed health check: no new flows */
};

enum lb_affinity {
	LB_AFFINITY_NONE = 0,
	LB_AFFINITY_CLIENTIP = 1,
};

/*
 * How a new flow picks its backend (IPVS's schedulers plus Maglev; formulas in
 * dp/lib/scheduler.h and docs/configuration.md). Only new flows are scheduled: a
 * tracked connection keeps its backend, ClientIP affinity comes first.
 */
enum lb_sched {
	LB_SCHED_MAGLEV = 0, /* consistent hash of the 5-tuple (default) */
	LB_SCHED_RR = 1,     /* round robin */
	LB_SCHED_WRR = 2,    /* weighted round robin */
	LB_SCHED_LC = 3,     /* least connections */
	LB_SCHED_WLC = 4,    /* weighted least connections */
	LB_SCHED_SH = 5,     /* source (client address) hash */
	LB_SCHED_DH = 6,     /* destination (VIP) hash */
	LB_SCHED_SED = 7,    /* shortest expected delay */
	LB_SCHED_NQ = 8,     /* never queue */
};
#define LB_SCHED_MAX LB_SCHED_NQ

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
	uint8_t sched;              /* enum lb_sched */
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
	s->sched = LB_SCHED_MAGLEV;
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

/*
 * Names. ONE table per enum, used by the dp config file, the control socket, the
 * REST API and the state file alike. The case rule: input names are matched
 * without regard to ASCII case ("DNAT", "clientip", "Active" are accepted
 * everywhere); output is always the table's spelling ("dnat", "ClientIP",
 * "active"). Tables end with { NULL, 0 }. dp/lib/model.c.
 */
struct lb_name {
	const char *name;
	unsigned val;
};

extern const struct lb_name lb_proto_names[];         /* tcp, udp */
extern const struct lb_name lb_mode_names[];          /* fnat, dnat, ipip, gue */
extern const struct lb_name lb_backend_state_names[]; /* active, draining, down */
extern const struct lb_name lb_affinity_names[];      /* None, ClientIP */
extern const struct lb_name lb_sched_names[];         /* maglev, rr, wrr, lc, wlc, sh, dh, sed, nq */

/* The value named s (any case) into *val. Returns 0 or LB_EINVAL. */
int lb_name_parse(const struct lb_name *tab, const char *s, unsigned *val);
/* The name of val, or dflt when the table has none. */
const char *lb_name_of(const struct lb_name *tab, unsigned val, const char *dflt);
/* "a, b, c" into buf (truncated to len); returns buf. */
const char *lb_names_join(const struct lb_name *tab, char *buf, size_t len);

/* Per-enum shorthands over the tables above (same case rule). */
const char *lb_proto_name(uint8_t p);
int lb_proto_parse(const char *s, uint8_t *p);
const char *lb_mode_name(uint8_t m);
int lb_mode_parse(const char *s, uint8_t *m);
const char *lb_backend_state_name(uint8_t s);
int lb_backend_state_parse(const char *s, uint8_t *st);
const char *lb_affinity_name(uint8_t a);
int lb_affinity_parse(const char *s, uint8_t *a);
const char *lb_sched_name(uint8_t s);
int lb_sched_parse(const char *s, uint8_t *sc);

/*
 * Check one service spec against the model's rules (VIP and backends of one
 * family, port 1..65535, weights, Maglev size prime, scheduler, affinity timeout 1..86400,
 * no duplicate backend address:port). Shared by the dp config file, the control
 * socket and edgelb-cp. Returns 0, or LB_EINVAL with "field: message" in err.
 */
int lb_svc_spec_validate(const struct lb_svc_spec *s, char *err, size_t errlen);

/*
 * The same check with the field apart: where gets its path relative to the
 * service ("backends.[2].address"), msg the sentence. Returns 0, LB_EINVAL or
 * LB_ENOMEM.
 */
int lb_svc_spec_check(const struct lb_svc_spec *s, char *msg, size_t len, char *where,
		      size_t wlen);

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
