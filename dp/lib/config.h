/*
 * config.h - edgelb-dp's configuration file (libconfig syntax).
 *
 * Read once at start by dp/main.c before EAL resources are used; the result is a
 * plain struct, so unit tests parse config text without EAL. Every option, its
 * default and its range are listed in docs/configuration.md. Errors name the
 * setting and the line: "ports.[1].addresses: '198.18.0.1/33' is not an address/prefix (line 12)".
 */
#ifndef LB_CONFIG_H
#define LB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_addr.h"
#include "lb_model.h"
#include "conntrack.h"

#define LB_MAX_PORTS 8
#define LB_MAX_WORKERS 16
#define LB_MAX_PORT_ADDRS 16
#define LB_MAX_LOCAL_ADDRS 64  /* over all ports; a connection stores an 8-bit index */
#define LB_PORT_NAME_MAX 32
#define LB_DEVARGS_MAX 512
#define LB_PATH_MAX 108        /* sun_path */
#define LB_SYNC_MAX_PEERS 16
#define LB_SYNC_KEY_PATH_MAX 256
#define LB_EXC_MAX_SOURCES 16  /* dp.exception_priority_sources */

enum lb_port_role {
	LB_ROLE_EXTERNAL = 1, /* clients; VIPs are answered for here */
	LB_ROLE_INTERNAL = 2, /* backends; SNAT sources live here */
	LB_ROLE_BOTH = 3,     /* one-armed */
};

/* How fnat replies reach the worker that owns the connection. */
enum lb_steering {
	LB_STEER_AUTO = 0,    /* rte_flow when the port takes the rules, else ring */
	LB_STEER_RTE_FLOW,    /* rte_flow rules; fail to start when the port refuses */
	LB_STEER_RING,        /* hand mis-delivered replies over a ring */
};

struct lb_ifaddr {
	struct lb_addr addr; /* the box's own address on this port */
	uint8_t len;         /* prefix length of the connected subnet */
};

struct lb_port_conf {
	char name[LB_PORT_NAME_MAX];
	char device[LB_DEVARGS_MAX]; /* vdev args ("net_pcap0,rx_pcap=a.pcap") or PCI address */
	uint8_t role;                /* enum lb_port_role */
	uint8_t mac_set;
	uint8_t mac[6];              /* overrides the device's MAC when mac_set */
	uint16_t mtu;                /* default 1500 */
	uint16_t rx_desc, tx_desc;   /* ring sizes, default 1024 */
	uint32_t n_addrs;
	struct lb_ifaddr addrs[LB_MAX_PORT_ADDRS];
	uint32_t n_local;
	struct lb_addr local[LB_MAX_PORT_ADDRS]; /* SNAT sources for fnat */
	/*
	 * Exception path: "" = none; else the name of a kernel tap interface (net_tap)
	 * the dp creates with the port's MAC. TCP/UDP for the port's own addresses
	 * (BGP, BFD, ssh) and copies of ARP/NDP go to the kernel through it; what the
	 * kernel sends on it leaves through the port.
	 */
	char exception[16];
};

struct lb_route_conf {
	struct lb_prefix prefix;
	struct lb_addr via;                /* gateway; family 0 = directly connected */
	char port[LB_PORT_NAME_MAX];       /* egress port; "" = the port whose subnet holds via */
};

struct lb_neigh_conf {
	struct lb_addr addr;
	uint8_t mac[6];
	char port[LB_PORT_NAME_MAX];       /* "" = the port whose subnet holds addr */
};

/* Flow sync between boxes (docs/flow-sync.md); off unless sync.enabled. */
struct lb_sync_conf {
	bool enabled;
	uint16_t port;                     /* UDP port, both ends */
	uint32_t id;                       /* this box, unique in the fleet, >= 1 */
	uint32_t n_peers;
	struct lb_addr peers[LB_SYNC_MAX_PEERS];
	char key_file[LB_SYNC_KEY_PATH_MAX];
	uint32_t refresh_s;                /* every entry re-sent once per this */
	uint32_t batch;                    /* records per datagram, 1..15 */
	uint32_t flush_ms;                 /* longest a record waits for its batch */
	uint32_t bulk_timeout_ms;          /* join: bulk_done after this even if peers are silent */
	uint32_t capacity;                 /* peer table entries */
	uint32_t max_age_s;                /* datagrams older (or newer) than this are stale */
	bool onlink_takeover;              /* answer ARP/NDP for a silent peer's SNAT addresses */
	uint32_t takeover_ms;              /* a peer silent this long is dead (onlink_takeover) */
	uint32_t heartbeat_ms;             /* empty datagram to each peer after this much silence */
};

/*
 * The built-in hash_seed: public (it is in this file), so a deployment that keeps it
 * lets anyone aim flows at one backend or worker. The dp warns when it runs with it;
 * scripts/setup.sh generates a per-deployment seed (docs/configuration.md).
 */
#define LB_HASH_SEED_BUILTIN 0x5eed5eed5eed5eedULL

struct lb_dp_conf {
	/* dp */
	uint32_t n_workers;
	uint32_t worker_lcores[LB_MAX_WORKERS]; /* empty = every lcore but the main one */
	uint32_t burst;                        /* rx/tx burst size, default 32 */
	uint32_t idle_sleep_us;                /* 0 = busy-poll (default) */
	uint32_t mbufs;                        /* mbuf pool size */
	uint64_t hash_seed;                    /* Maglev and flow hash seed */
	uint32_t max_services;                 /* service directory size */
	uint32_t max_backends;                 /* backend registry size */
	uint8_t steering;                      /* enum lb_steering */
	uint16_t snat_port_lo, snat_port_hi;   /* fnat source ports, host order */
	uint32_t snat_reuse_delay_s;           /* a released SNAT port waits this long */
	uint32_t snat_pairs;                   /* (backend, local address) pairs per worker */
	char control_socket[LB_PATH_MAX];      /* "" = no control socket */
	uint32_t control_socket_mode;          /* default 0600 */
	char state[LB_PATH_MAX];               /* persistent state dir, "auto" or "off" */
	uint16_t gue_port;                     /* mode gue: outer UDP destination port */
	/*
	 * The exception path's rate limit (ports' `exception`, dp/lib/exc_limit.h):
	 * packets per second and burst for the whole box, shared out equally among
	 * the workers. 0 pps = no limit. The priority class (BGP, BFD from a trusted
	 * source; ARP/NDP copies on the control thread) has its own bucket.
	 */
	uint32_t exc_rate_pps;
	uint32_t exc_burst;
	uint32_t exc_prio_rate_pps;
	uint32_t exc_prio_burst;
	/* trusted sources of BGP/BFD; none = the ingress port's connected subnets */
	uint32_t n_exc_sources;
	struct lb_prefix exc_sources[LB_EXC_MAX_SOURCES];
	/* the service builder's cache of recent Maglev tables (dp/lib/maglev_cache.h) */
	uint32_t maglev_cache_kb;
	/* the builder thread's nice above the dp's own (svc_build.c) */
	uint32_t builder_nice;
	/* conntrack (per worker) */
	uint32_t ct_capacity;
	uint32_t ct_timeout_s[LB_CT_NSTATES];
	uint32_t ct_rst_window;                /* client RST accepted within +- this of its seq */
	/* affinity (shared by workers) */
	uint32_t affinity_capacity;
	/* neighbour_cache: ARP/NDP entries' timers (Linux's neighbour parameters) */
	struct {
		uint32_t reachable_ms;  /* confirmed this long ago: stale */
		uint32_t stale_ms;      /* an unused dynamic entry stale this long: deleted */
		uint32_t retrans_ms;    /* between probes */
		uint32_t probes;        /* unanswered probes before failed */
		uint32_t retry_max_ms;  /* a needed failed entry: backoff up to this */
		uint32_t probe_rate;    /* probes sent per second, at most */
	} neigh;
	/* network */
	uint32_t n_ports;
	struct lb_port_conf ports[LB_MAX_PORTS];
	uint32_t n_routes;
	struct lb_route_conf *routes;      /* malloc'd */
	uint32_t n_neighs;
	struct lb_neigh_conf *neighs;      /* malloc'd */
	/* flow sync */
	struct lb_sync_conf sync;
	/* initial services */
	uint32_t n_services;
	struct lb_svc_spec *services;      /* malloc'd, each spec owns its arrays */
};

/* Set every default. lb_dp_conf_parse*() call it first. */
void lb_dp_conf_defaults(struct lb_dp_conf *c);

/* Parse a file / a string. Returns 0, or LB_EINVAL with a message in err. */
int lb_dp_conf_load(const char *path, struct lb_dp_conf *c, char *err, size_t errlen);
int lb_dp_conf_parse(const char *text, struct lb_dp_conf *c, char *err, size_t errlen);

void lb_dp_conf_free(struct lb_dp_conf *c);

/* Index of the port named name, or -1. */
int lb_dp_conf_port_index(const struct lb_dp_conf *c, const char *name);

#endif /* LB_CONFIG_H */
