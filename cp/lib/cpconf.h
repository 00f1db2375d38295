/*
 * cpconf.h - edgelb-cp's configuration file (libconfig syntax).
 *
 * Read at start and again on SIGHUP (pools only) by cp/main.c. Pure C; unit-
 * tested in tests/test_cpconf.c. Every option is in docs/configuration.md.
 */
#ifndef LB_CPCONF_H
#define LB_CPCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ipam.h"
#include "lb.h"

#define CP_PATH_MAX 4096
#define CP_MAX_POOLS 64
#define CP_TOKEN_MAX 256
#define CP_NAME_LEN 254 /* a DNS-1123 subdomain (253) and the NUL */

/* Kubernetes mode: what a Service's backends are (annotation edgelb.io/backends overrides). */
enum cp_k8s_backends {
	CP_BACKENDS_PODS = 0,   /* the EndpointSlices' Pod IPs at the targetPort */
	CP_BACKENDS_NODES = 1,  /* every eligible Node at the Service's nodePort */
};

enum cp_node_addr {
	CP_NODE_INTERNAL_IP = 0,
	CP_NODE_EXTERNAL_IP = 1,
};

/* "InternalIP", "ExternalIP": the status.addresses type of enum cp_node_addr. */
const char *cp_node_addr_type(uint8_t t);

enum cp_mode {
	CP_MODE_STANDALONE = 0, /* REST API is the source of load balancers */
	CP_MODE_KUBERNETES = 1, /* Services and EndpointSlices are */
};

/* bgp: which VIPs edgelb-cp lets the box's BIRD 2 announce (cp/bgp/). */
#define CP_BGP_MAX_ALWAYS 16

struct cp_bgp_conf {
	bool enabled;                  /* default false: BIRD is not touched */
	char bird_socket[CP_PATH_MAX]; /* BIRD's control socket (birdc -s) */
	char include_file[CP_PATH_MAX];/* generated; bird.conf includes it */
	char protocol[32];             /* static protocols <protocol>4 and <protocol>6 */
	bool announce_always;          /* announce without a ready backend */
	uint32_t n_always_pools;       /* pools whose VIPs are always announced */
	char always_pools[CP_BGP_MAX_ALWAYS][LB_POOL_NAME_MAX];
	uint32_t check_interval_ms;    /* dp liveness probe period */
	uint32_t dp_timeout_ms;        /* a probe unanswered this long: dp hung */
	uint32_t drain_timeout_s;      /* default for edgelbctl drain */
};

/*
 * cluster: this box's and its peers' SNAT (local) addresses, for the backup
 * announcements of cp/lib/announce.c, and the join gate (docs/configuration.md).
 */
#define CP_MAX_PEERS 16
#define CP_SNAT_MAX 16 /* SNAT addresses per box */
#define CP_PEER_NAME_MAX 64

struct cp_peer_conf {
	char name[CP_PEER_NAME_MAX];
	struct lb_addr sync_address;   /* where its dp takes flow sync (shown in /v1/bgp) */
	uint32_t n_local;
	struct lb_addr local[CP_SNAT_MAX];
};

struct cp_cluster_conf {
	char name[CP_PEER_NAME_MAX];   /* this box ("" = the host name is not needed) */
	uint32_t n_local;              /* this box's SNAT addresses (normal preference) */
	struct lb_addr local[CP_SNAT_MAX];
	uint32_t n_peers;              /* 0: no cluster, no join gate, no backups */
	struct cp_peer_conf peers[CP_MAX_PEERS];
	uint32_t join_timeout_s;       /* announce anyway this long after the dp started */
	bool backup;                   /* announce the peers' SNAT addresses as backups */
};

struct cp_conf {
	uint8_t mode;
	char dp_socket[CP_PATH_MAX];
	char api_listen[128];          /* "127.0.0.1:8470", "[::1]:8470", "0.0.0.0:8470" */
	char api_token[CP_TOKEN_MAX];  /* "" = no authentication */
	char state_file[CP_PATH_MAX];
	uint32_t n_pools;
	struct lb_pool_conf pools[CP_MAX_POOLS];
	struct cp_health_check hc;     /* defaults for load balancers */
	/* kubernetes mode */
	char kubeconfig[CP_PATH_MAX];  /* "" = in-cluster credentials */
	char lb_class[128];            /* spec.loadBalancerClass we serve */
	bool default_class;            /* also serve Services with no class */
	uint32_t resync_s;             /* full relist period */
	uint32_t watch_idle_s;         /* a watch silent this long is re-opened (0 = never) */
	uint8_t k8s_backends;          /* enum cp_k8s_backends: Pod IPs or node:nodePort */
	uint8_t node_addr_type;        /* enum cp_node_addr: which status.addresses of Nodes */
	/* leader election (cp/kube/lease.c): one cp of a fleet allocates and writes */
	bool le_enabled;               /* false: this cp is always the leader */
	char le_namespace[CP_NAME_LEN];
	char le_name[CP_NAME_LEN];
	char le_identity[128];         /* "" = the host name */
	uint32_t le_lease_s;           /* leaseDurationSeconds (15) */
	uint32_t le_renew_deadline_ms; /* a leader that cannot renew this long steps down (10000) */
	uint32_t le_retry_ms;          /* between attempts (2000) */
	struct cp_bgp_conf bgp;
	struct cp_cluster_conf cluster;
};

void cp_conf_defaults(struct cp_conf *c);
/* "127.0.0.1:8470", "[::1]:8470" -> socket address; returns the port or -1. */
int cp_conf_listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sl, bool *v6);
/* Parse a file / a string. Returns 0 or LB_EINVAL with a message naming the setting. */
int cp_conf_load(const char *path, struct cp_conf *c, char *err, size_t errlen);
int cp_conf_parse(const char *text, struct cp_conf *c, char *err, size_t errlen);

#endif /* LB_CPCONF_H */
