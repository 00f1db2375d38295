/*
 * port.c - ethdev setup (see port.h). Main lcore, before workers start.
 *
 * Any ethdev works: a configured device string is either already known to EAL
 * (a PCI device it probed, a --vdev) or is hot-plugged here with rte_dev_probe(),
 * so the config file alone can name net_pcap/net_af_packet/net_tap/net_memif ports.
 */
#include <string.h>

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_log.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "lb_error.h"
#include "nat.h"
#include "neigh.h"
#include "port.h"

#define LOG(level, fmt, ...) RTE_LOG(level, USER1, "port: " fmt "\n", ##__VA_ARGS__)

static int
find_or_probe(const char *device, uint16_t *id, char *err, size_t errlen)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	size_t n = strcspn(device, ",");

	if (n == 0 || n >= sizeof(name)) {
		snprintf(err, errlen, "device '%s': bad device name", device);
		return LB_EINVAL;
	}
	memcpy(name, device, n);
	name[n] = '\0';
	if (rte_eth_dev_get_port_by_name(name, id) == 0)
		return 0;
	int rc = rte_dev_probe(device);
	if (rc < 0) {
		snprintf(err, errlen, "device '%s': probe failed: %s", device, rte_strerror(-rc));
		return LB_EIO;
	}
	if (rte_eth_dev_get_port_by_name(name, id) != 0) {
		snprintf(err, errlen, "device '%s': probed but no ethdev named '%s'", device, name);
		return LB_EIO;
	}
	return 0;
}

static int
port_init(struct lb_dp *dp, unsigned pi, char *err, size_t errlen)
{
	struct lb_port *p = &dp->ports[pi];
	const struct lb_port_conf *pc = &dp->conf.ports[pi];
	struct rte_eth_dev_info info;
	struct rte_eth_conf ec;
	uint16_t nq = (uint16_t)dp->n_workers;
	int rc;

	rc = find_or_probe(pc->device, &p->eth_id, err, errlen);
	if (rc < 0)
		return rc;
	p->conf = pc; /* from here on lb_ports_close() owns the device */
	dp->port_of_eth[p->eth_id] = (uint8_t)pi;
	p->role = pc->role;
	rc = rte_eth_dev_info_get(p->eth_id, &info);
	if (rc < 0) {
		snprintf(err, errlen, "port %s: device info: %s", pc->name, rte_strerror(-rc));
		return LB_EIO;
	}
	if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
		snprintf(err, errlen,
			 "port %s: %u workers need %u RX and TX queues, device offers %u RX, %u TX "
			 "(net_pcap: one rx_pcap/tx_pcap per queue; net_af_packet: qpairs=N)",
			 pc->name, nq, nq, info.max_rx_queues, info.max_tx_queues);
		return LB_EINVAL;
	}

	memset(&ec, 0, sizeof(ec));
	if (nq > 1) {
		uint64_t hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) &
			      info.flow_type_rss_offloads;
		if (hf) {
			ec.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
			ec.rx_adv_conf.rss_conf.rss_hf = hf;
		}
	}
	/* Checksums in hardware when the port can do all of them; software otherwise. */
	uint64_t want = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
			RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	if ((info.tx_offload_capa & want) == want) {
		ec.txmode.offloads = want;
		p->nat_flags = LB_NAT_L4_OFFLOAD | LB_NAT_IP_OFFLOAD;
	}
	/*
	 * Let the NIC verify TCP/UDP checksums on receipt where it can: a bad one is
	 * dropped (l4_cksum), and only a verified one may have its checksum
	 * recomputed by the TX offload (dp/fastpath/tx.h nat_flags_for()).
	 */
	uint64_t rx_want = RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	if ((info.rx_offload_capa & rx_want) == rx_want)
		ec.rxmode.offloads |= rx_want;
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
		ec.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
	p->tx_offloads = ec.txmode.offloads;

	rc = rte_eth_dev_configure(p->eth_id, nq, nq, &ec);
	if (rc < 0) {
		snprintf(err, errlen, "port %s: configure: %s", pc->name, rte_strerror(-rc));
		return LB_EIO;
	}
	uint16_t rxd = pc->rx_desc, txd = pc->tx_desc;
	rte_eth_dev_adjust_nb_rx_tx_desc(p->eth_id, &rxd, &txd);
	int socket = rte_eth_dev_socket_id(p->eth_id);
	if (socket < 0)
		socket = 0;
	for (uint16_t q = 0; q < nq; q++) {
		struct rte_eth_txconf txc = info.default_txconf;
		txc.offloads = ec.txmode.offloads;
		rc = rte_eth_rx_queue_setup(p->eth_id, q, rxd, (unsigned)socket, NULL, dp->pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(p->eth_id, q, txd, (unsigned)socket, &txc);
		if (rc < 0) {
			snprintf(err, errlen, "port %s: queue %u setup: %s", pc->name, q,
				 rte_strerror(-rc));
			return LB_EIO;
		}
	}
	if (pc->mac_set) {
		struct rte_ether_addr mac;
		memcpy(mac.addr_bytes, pc->mac, 6);
		rc = rte_eth_dev_default_mac_addr_set(p->eth_id, &mac);
		if (rc < 0)
			LOG(WARNING, "%s: cannot set MAC (%s); answering with it anyway", pc->name,
			    rte_strerror(-rc));
		p->mac = mac;
	} else {
		rte_eth_macaddr_get(p->eth_id, &p->mac);
	}
	p->mtu = pc->mtu;
	rc = rte_eth_dev_set_mtu(p->eth_id, pc->mtu);
	if (rc < 0 && rc != -ENOTSUP)
		LOG(WARNING, "%s: MTU %u not applied (%s)", pc->name, pc->mtu, rte_strerror(-rc));

	rc = rte_eth_dev_start(p->eth_id);
	if (rc < 0) {
		snprintf(err, errlen, "port %s: start: %s", pc->name, rte_strerror(-rc));
		return LB_EIO;
	}
	/*
	 * Promiscuous so a MAC override works on virtual ports; frames for other hosts
	 * are dropped by the worker's MAC check.
	 */
	rte_eth_promiscuous_enable(p->eth_id);
	char macs[RTE_ETHER_ADDR_FMT_SIZE];
	rte_ether_format_addr(macs, sizeof(macs), &p->mac);
	LOG(INFO, "%s: ethdev %u (%s) mac %s, %u queue(s), checksums in %s", pc->name, p->eth_id,
	    info.driver_name, macs, nq, p->nat_flags ? "hardware" : "software");
	return 0;
}

/*
 * The exception path of port pi: a net_tap ethdev (one queue pair, polled by the
 * control thread only) whose kernel interface carries the port's MAC, so what the
 * kernel sends through it leaves the port as the port's own frames and the
 * answers come back to the port. The tap is persistent: it outlives the dp, so the
 * addresses and routes the box's network configuration gave it stay, and the next
 * dp attaches to the same interface (a dp restart does not need it configured
 * again, and the kernel's BGP sessions see only a pause).
 */
static int
exception_init(struct lb_dp *dp, unsigned pi, char *err, size_t errlen)
{
	struct lb_port *p = &dp->ports[pi];
	const struct lb_port_conf *pc = &dp->conf.ports[pi];
	struct rte_eth_conf ec;
	char dev[96];
	int rc;

	p->exc_id = LB_PORT_NONE;
	if (pc->exception[0] == '\0')
		return 0;
	snprintf(dev, sizeof(dev), "net_tap_exc%u,iface=%s,persist", pi, pc->exception);
	rc = find_or_probe(dev, &p->exc_id, err, errlen);
	if (rc < 0)
		return rc;
	memset(&ec, 0, sizeof(ec));
	if ((rc = rte_eth_dev_configure(p->exc_id, 1, 1, &ec)) < 0 ||
	    (rc = rte_eth_rx_queue_setup(p->exc_id, 0, 512, (unsigned)rte_socket_id(), NULL,
					 dp->pool)) < 0 ||
	    (rc = rte_eth_tx_queue_setup(p->exc_id, 0, 512, (unsigned)rte_socket_id(), NULL)) < 0 ||
	    (rc = rte_eth_dev_default_mac_addr_set(p->exc_id, &p->mac)) < 0 ||
	    (rc = rte_eth_dev_start(p->exc_id)) < 0) {
		snprintf(err, errlen, "port %s: exception tap %s: %s", pc->name, pc->exception,
			 rte_strerror(-rc));
		return LB_EIO;
	}
	LOG(INFO, "%s: exception path to the kernel through tap %s (ethdev %u)", pc->name,
	    pc->exception, p->exc_id);
	return 0;
}

int
lb_ports_init(struct lb_dp *dp, char *err, size_t errlen)
{
	for (unsigned pi = 0; pi < dp->n_ports; pi++)
		dp->ports[pi].exc_id = LB_PORT_NONE;
	for (unsigned pi = 0; pi < dp->n_ports; pi++) {
		int rc = port_init(dp, pi, err, errlen);
		if (rc == 0)
			rc = exception_init(dp, pi, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One rule: IP dst = local address, L4 dst port & mask == w -> queue w. */
static struct rte_flow *
steer_rule(uint16_t eth_id, const struct lb_addr *local, uint8_t proto, uint16_t w,
	   uint16_t mask, bool validate_only, struct rte_flow_error *fe)
{
	struct rte_flow_attr attr = {.ingress = 1};
	struct rte_flow_item_ipv4 v4 = {0}, v4m = {0};
	struct rte_flow_item_ipv6 v6 = {0}, v6m = {0};
	struct rte_flow_item_tcp tcp = {0}, tcpm = {0};
	struct rte_flow_item_udp udp = {0}, udpm = {0};
	struct rte_flow_item pat[4];
	struct rte_flow_action_queue q = {.index = w};
	struct rte_flow_action act[2];

	memset(pat, 0, sizeof(pat));
	memset(act, 0, sizeof(act));
	pat[0].type = RTE_FLOW_ITEM_TYPE_ETH;
	if (local->family == LB_AF_INET) {
		memcpy(&v4.hdr.dst_addr, local->bytes, 4);
		v4m.hdr.dst_addr = 0xffffffff;
		pat[1].type = RTE_FLOW_ITEM_TYPE_IPV4;
		pat[1].spec = &v4;
		pat[1].mask = &v4m;
	} else {
		memcpy(v6.hdr.dst_addr, local->bytes, 16);
		memset(v6m.hdr.dst_addr, 0xff, 16);
		pat[1].type = RTE_FLOW_ITEM_TYPE_IPV6;
		pat[1].spec = &v6;
		pat[1].mask = &v6m;
	}
	if (proto == IPPROTO_TCP) {
		tcp.hdr.dst_port = rte_cpu_to_be_16(w);
		tcpm.hdr.dst_port = rte_cpu_to_be_16(mask);
		pat[2].type = RTE_FLOW_ITEM_TYPE_TCP;
		pat[2].spec = &tcp;
		pat[2].mask = &tcpm;
	} else {
		udp.hdr.dst_port = rte_cpu_to_be_16(w);
		udpm.hdr.dst_port = rte_cpu_to_be_16(mask);
		pat[2].type = RTE_FLOW_ITEM_TYPE_UDP;
		pat[2].spec = &udp;
		pat[2].mask = &udpm;
	}
	pat[3].type = RTE_FLOW_ITEM_TYPE_END;
	act[0].type = RTE_FLOW_ACTION_TYPE_QUEUE;
	act[0].conf = &q;
	act[1].type = RTE_FLOW_ACTION_TYPE_END;
	if (validate_only)
		return rte_flow_validate(eth_id, &attr, pat, act, fe) == 0 ? (struct rte_flow *)1 : NULL;
	return rte_flow_create(eth_id, &attr, pat, act, fe);
}

int
lb_ports_steer(struct lb_dp *dp, char *err, size_t errlen)
{
	unsigned nw = dp->n_workers;
	uint8_t mode = dp->conf.steering;

	for (unsigned pi = 0; pi < dp->n_ports; pi++)
		dp->ports[pi].steering = LB_STEER_RING;
	if (nw <= 1)
		return 0;
	bool pow2 = (nw & (nw - 1)) == 0;
	for (unsigned pi = 0; pi < dp->n_ports; pi++) {
		struct lb_port *p = &dp->ports[pi];
		struct rte_flow_error fe;
		bool ok = pow2 && mode != LB_STEER_RING;
		unsigned nloc = 0;
		const char *why = pow2 ? "" : " (worker count not a power of two)";

		/* Validate every rule first, so a port is either fully steered or not at all. */
		for (unsigned l = 0; ok && l < dp->n_local; l++) {
			if (dp->local[l].port != pi)
				continue;
			nloc++;
			for (uint16_t w = 0; ok && w < nw; w++)
				for (int t = 0; ok && t < 2; t++)
					if (!steer_rule(p->eth_id, &dp->local[l].addr,
							t ? IPPROTO_UDP : IPPROTO_TCP, w,
							(uint16_t)(nw - 1), true, &fe)) {
						ok = false;
						why = fe.message ? fe.message : "rule refused";
					}
		}
		if (nloc == 0)
			continue;
		for (unsigned l = 0; ok && l < dp->n_local; l++) {
			if (dp->local[l].port != pi)
				continue;
			for (uint16_t w = 0; ok && w < nw; w++)
				for (int t = 0; ok && t < 2; t++)
					if (!steer_rule(p->eth_id, &dp->local[l].addr,
							t ? IPPROTO_UDP : IPPROTO_TCP, w,
							(uint16_t)(nw - 1), false, &fe)) {
						ok = false;
						why = fe.message ? fe.message : "rule refused";
					}
		}
		if (!ok) {
			rte_flow_flush(p->eth_id, &fe);
			if (mode == LB_STEER_RTE_FLOW) {
				snprintf(err, errlen, "port %s: rte_flow steering refused: %s",
					 p->conf->name, why);
				return LB_ENOTSUP;
			}
			LOG(INFO, "%s: fnat replies steered by ring hand-off%s%s", p->conf->name,
			    *why ? ": " : "", why);
			continue;
		}
		p->steering = LB_STEER_RTE_FLOW;
		LOG(INFO, "%s: fnat replies steered by rte_flow (%u local address(es))",
		    p->conf->name, nloc);
	}
	return 0;
}

void
lb_ports_close(struct lb_dp *dp)
{
	for (unsigned pi = 0; pi < dp->n_ports; pi++) {
		struct rte_flow_error fe;
		uint16_t id = dp->ports[pi].eth_id;
		if (dp->ports[pi].conf == NULL)
			continue;
		rte_flow_flush(id, &fe);
		rte_eth_dev_stop(id);
		rte_eth_dev_close(id);
		if (dp->ports[pi].exc_id != LB_PORT_NONE) {
			rte_eth_dev_stop(dp->ports[pi].exc_id);
			rte_eth_dev_close(dp->ports[pi].exc_id);
		}
	}
}
