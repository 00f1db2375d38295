-- udp-flows.lua - steady UDP load over a fixed flow space, for pktgen-dpdk range mode.
--
-- Run on the generator box (see docs/benchmarking.md, "Two boxes"):
--   pktgen -l 0-4 -n 4 -a <nic0> -a <nic1> -- -P -m "[1:2].0, [3:4].1" -f scripts/pktgen/udp-flows.lua
-- Port 0 faces edgelb's external port (clients -> VIP), port 1 stands in for the
-- backends: edgelb's static neighbours for the backend addresses carry port 1's MAC,
-- so port 1's ipackets count what the dp forwarded.
--
-- The flow space is N_IP source addresses x N_PORT source ports. In range mode every
-- field steps on every packet and wraps on its own, so the tuple sequence repeats
-- after lcm(N_IP, N_PORT) packets: keep the two counts coprime (one odd, one a power
-- of two) and the space is their product. For an established-flow test keep it below
-- the dp's conntrack capacity per worker x workers, so flows are revisited.

package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

-- What to send -------------------------------------------------------------------
local TX       = "0"                  -- generator port facing edgelb's "ext" port
local RX       = "1"                  -- generator port standing in for the backends
local VIP      = "198.18.0.100"       -- the service's VIP ...
local VPORT    = 53                   -- ... and port (a UDP service in the dp config)
local DST_MAC  = "02:00:00:00:00:02"  -- edgelb's ext port MAC (ports.[0].mac)
local SRC_IP   = "198.18.128.0"       -- first client address (routed via the gateway)
local N_IP     = 1024                 -- client addresses: 198.18.128.0 .. +1023
local SRC_PORT = 1024                 -- first client port
local N_PORT   = 1023                 -- client ports (odd: coprime with N_IP) -> ~1M flows
local RATE     = 100                  -- percent of line rate
local SECONDS  = 30                   -- how long to send
local SIZE     = 64                   -- frame size in bytes, FCS included

-- Helpers ------------------------------------------------------------------------
local function ip_add(ip, n)          -- "a.b.c.d" + n
	local a, b, c, d = ip:match("(%d+)%.(%d+)%.(%d+)%.(%d+)")
	a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
	local v = ((a * 256 + b) * 256 + c) * 256 + d + n
	return string.format("%d.%d.%d.%d", (v >> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255)
end

local function range(fn, port, start, inc, min, max)
	fn(port, "start", start); fn(port, "inc", inc); fn(port, "min", min); fn(port, "max", max)
end

-- Packet ranges: one VIP:port, N_IP x N_PORT client tuples -------------------------
pktgen.stop("all")
pktgen.clr()
pktgen.set(TX, "rate", RATE)
pktgen.set(TX, "size", SIZE)
pktgen.set_proto(TX, "udp")
pktgen.range.ip_proto(TX, "udp")
pktgen.range.dst_mac(TX, "start", DST_MAC)
range(pktgen.range.dst_ip, TX, VIP, "0.0.0.0", VIP, VIP)
range(pktgen.range.dst_port, TX, VPORT, 0, VPORT, VPORT)
range(pktgen.range.src_ip, TX, SRC_IP, "0.0.0.1", SRC_IP, ip_add(SRC_IP, N_IP - 1))
range(pktgen.range.src_port, TX, SRC_PORT, 1, SRC_PORT, SRC_PORT + N_PORT - 1)
range(pktgen.range.pkt_size, TX, SIZE, 0, SIZE, SIZE)
pktgen.set_range(TX, "on")

-- Send for SECONDS, then report ----------------------------------------------------
printf("udp-flows: %d flows (%d addresses x %d ports) to %s:%d, %d%% rate, %d s\n",
       N_IP * N_PORT, N_IP, N_PORT, VIP, VPORT, RATE, SECONDS)
pktgen.start(TX)
pktgen.delay(SECONDS * 1000)
pktgen.stop(TX)
pktgen.delay(500)                     -- let the last packets drain into RX

local tx = pktgen.portStats(TX, "port")[tonumber(TX)]
local rx = pktgen.portStats(RX, "port")[tonumber(RX)]
printf("udp-flows: port %s tx %d pkts (%.2f Mpps), oerrors %d\n",
       TX, tx.opackets, tx.opackets / SECONDS / 1e6, tx.oerrors)
printf("udp-flows: port %s rx %d pkts (%.2f Mpps), imissed %d, ierrors %d, rx_nombuf %d\n",
       RX, rx.ipackets, rx.ipackets / SECONDS / 1e6, rx.imissed, rx.ierrors, rx.rx_nombuf)
printf("udp-flows: forwarded %.2f%% of sent\n", 100.0 * rx.ipackets / math.max(tx.opackets, 1))
