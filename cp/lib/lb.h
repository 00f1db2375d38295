/*
 * lb.h - the control plane's load balancer: what the REST API creates, the state
 * file keeps, the Kubernetes controller derives from a Service, and what becomes
 * dp services (one per address x port).
 *
 * Pure C over jansson, no I/O; unit-tested in tests/test_lb.c. Used by the API
 * (cp/api), the store (cp/store) and the Kubernetes controller (cp/kube); the
 * kubernetes-mode state file form is lb_state.c.
 */
#ifndef LB_CP_LB_H
#define LB_CP_LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ipam.h"
#include "lb_model.h"

#define CP_NAME_MAX 64          /* a DNS-1123 label (63) and the NUL */
#define CP_MAX_PORTS 64
#define CP_MAX_BACKENDS 4096
#define CP_HC_PATH_MAX 256

enum cp_hc_type {
	CP_HC_NONE = 0, /* backends are taken as given */
	CP_HC_TCP,      /* a TCP connect succeeds */
	CP_HC_HTTP,     /* an HTTP GET answers 2xx or 3xx */
};

/* Health-check ranges, the same in the REST API and in edgelb-cp.conf. */
#define CP_HC_INTERVAL_MIN 100
#define CP_HC_INTERVAL_MAX 3600000
#define CP_HC_TIMEOUT_MIN 50
#define CP_HC_TIMEOUT_MAX 60000
#define CP_HC_COUNT_MAX 100

/* "none", "tcp", "http": names of enum cp_hc_type (any case in, these out). */
extern const struct lb_name cp_hc_type_names[];

struct cp_health_check {
	uint8_t type;               /* enum cp_hc_type */
	char path[CP_HC_PATH_MAX];  /* HTTP: request path, default "/" */
	uint16_t port;              /* 0 = the backend's own port */
	uint32_t interval_ms;       /* between checks of one backend */
	uint32_t timeout_ms;        /* one check */
	uint32_t rise;              /* consecutive successes to mark up */
	uint32_t fall;              /* consecutive failures to mark down */
	uint8_t expect;             /* enum cp_hc_expect: HTTP body check (Kubernetes only) */
};

/* HTTP checks: what the body must say besides a 2xx/3xx status. */
enum cp_hc_expect {
	CP_HC_EXPECT_NONE = 0,
	/* kube-proxy's healthCheckNodePort answer: a JSON object whose "localEndpoints" > 0 */
	CP_HC_EXPECT_LOCAL_ENDPOINTS,
};

struct cp_port {
	char name[CP_NAME_MAX];        /* optional ("" = none) */
	uint16_t port;                 /* on the external IP */
	uint8_t proto;                 /* LB_PROTO_TCP / LB_PROTO_UDP */
	uint16_t target_port;          /* on the backends; 0 = resolve target_name */
	char target_name[CP_NAME_MAX]; /* Kubernetes named targetPort ("" = numeric) */
};

struct cp_backend {
	struct lb_addr addr;
	uint16_t port;    /* 0 = each port's target_port */
	uint16_t weight;  /* default 1 */
	uint8_t state;    /* enum lb_backend_state as requested */
	char port_name[CP_NAME_MAX]; /* Kubernetes: EndpointSlice port name this port came from */
};

struct cp_lb {
	char ns[CP_NAME_MAX];
	char name[CP_NAME_MAX];
	/* address request */
	char pool[LB_POOL_NAME_MAX];          /* "" = any auto_assign pool */
	uint32_t n_req_ips;
	struct lb_addr req_ips[2];            /* at most one per family */
	uint8_t families;                     /* LB_FAMILY_V4 | LB_FAMILY_V6 */
	char sharing_key[LB_SHARING_KEY_MAX];
	/* traffic */
	uint32_t n_ports;
	struct cp_port *ports;                /* malloc'd */
	uint32_t n_backends;
	struct cp_backend *backends;          /* malloc'd */
	uint8_t affinity;                     /* enum lb_affinity */
	uint32_t affinity_timeout;            /* seconds */
	uint32_t n_ranges;
	struct lb_prefix *ranges;             /* malloc'd; loadBalancerSourceRanges */
	uint8_t mode;                         /* enum lb_mode */
	uint8_t sched;                        /* enum lb_sched; LB_SCHED_MAGLEV default */
	struct cp_health_check hc;
	/* status: filled by the control plane, never by a request */
	uint32_t n_ips;
	struct lb_addr ips[2];                /* allocated, IPv4 first */
	char alloc_pool[LB_POOL_NAME_MAX];
	char status[256];                     /* "" = active; else why it is pending */
	char uid[64];                         /* Kubernetes: metadata.uid of the Service */
};

void cp_lb_init(struct cp_lb *lb, const struct cp_health_check *hc_defaults);
void cp_lb_free(struct cp_lb *lb);
/* Deep copy. Returns 0 or LB_ENOMEM. */
int cp_lb_copy(struct cp_lb *dst, const struct cp_lb *src);

/* "namespace/name" into buf (at least LB_OWNER_MAX). */
const char *cp_lb_key(const struct cp_lb *lb, char *buf, size_t len);

/* True for a DNS-1123 label: 1..63 of [a-z0-9-], alphanumeric at both ends. */
bool cp_lb_name_valid(const char *s);

/*
 * Decode an API request body (POST /v1/loadbalancers, PUT .../{ns}/{name}) into
 * lb (initialised here, health check defaults from hc_defaults). Strict: unknown
 * fields, wrong types and invalid values are errors naming the field, e.g.
 * "ports[1].protocol: must be \"TCP\" or \"UDP\"". Status fields in the body
 * ("ips" is a request, "status" is ignored) are not taken as status.
 * Returns 0 or LB_EINVAL; on error lb is freed.
 */
int cp_lb_from_json(const json_t *j, struct cp_lb *lb, const struct cp_health_check *hc_defaults,
		    char *err, size_t errlen);

/* Replace lb's backends from a body of PUT .../backends: [...] or {"backends": [...]}. */
int cp_lb_backends_from_json(const json_t *j, struct cp_lb *lb, char *err, size_t errlen);

/*
 * Encode, as the API returns it: the request fields plus "ips" (allocated) and
 * "status" {"state": "active"|"pending", "message"}. With health (one byte per
 * backend: 0 unknown, 1 up, 2 down; may be NULL) each backend gets "health".
 */
json_t *cp_lb_to_json(const struct cp_lb *lb, const uint8_t *health);

/* The state file keeps the same JSON; this reads it back including status. */
int cp_lb_from_state_json(const json_t *j, struct cp_lb *lb, char *err, size_t errlen);

/* The (protocol, port) set for IPAM sharing checks; *out malloc'd. */
int cp_lb_ipam_ports(const struct cp_lb *lb, struct lb_ipam_port **out, uint32_t *n);

/*
 * dp services of lb: one per allocated address x port, backends of the address's
 * family with port = backend port or the port's target_port, state = the
 * requested state, or down when health (as in cp_lb_to_json) says 2.
 * Service names are "namespace/name:port-name-or-number". *out is malloc'd, each
 * spec owns its arrays (free with lb_svc_spec_free each, then free(*out)).
 */
int cp_lb_dp_specs(const struct cp_lb *lb, const uint8_t *health, struct lb_svc_spec **out,
		   uint32_t *n);

/* ---- the state file in kubernetes mode (lb_state.c) ---- */

/* What the state file keeps of lb in kubernetes mode: the allocation, no backends. */
json_t *cp_lb_alloc_json(const struct cp_lb *lb);
/* Same allocation (addresses, request, ports, uid...), whatever the backends. */
bool cp_lb_same_alloc(const struct cp_lb *a, const struct cp_lb *b);
/* Log every address of held (from the state file) that lb no longer has after loading. */
void cp_lb_log_moved(const struct cp_lb *lb, const struct lb_addr *held, uint32_t n_held);

#endif /* LB_CP_LB_H */
