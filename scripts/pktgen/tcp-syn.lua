-- tcp-syn.lua - new-connection load: every packet a client tuple edgelb has not seen,
-- for pktgen-dpdk range mode.
--
-- Run on the generator box (see docs/benchmarking.md, "Two boxes"):
--   pktgen -l 0-4 -n 4 -a <nic0> -a <nic1> -- -P -m "[1:2].0, [3:4].1" -f scripts/pktgen/tcp-syn.lua
-- Port 0 faces edgelb's external port, port 1 stands in for the backends (their
-- static neighbour MAC in the dp config is port 1's MAC).
--
-- Every packet must open a new connection, so the flow space N_IP x N_PORT (repeats
-- after lcm(N_IP, N_PORT) packets: keep them coprime) must exceed the packets sent,
-- rate x SECONDS, and the dp's conntrack must hold them (conntrack.capacity x workers;
-- watch ct_full and no_snat in the dp's counters). fnat also needs a free local port
-- per (backend, local address): give the dp enough local_addresses for the rate.
--
-- TCP flags: pktgen's range mode builds TCP headers with ACK set; it has no Lua
-- setter for flags. For edgelb an unknown client ACK takes the same path as a SYN
-- (lookup miss, Maglev pick, SNAT port, insert: ct_created), only the entry starts
-- ESTABLISHED instead of SYN. Where a pktgen build offers the CLI command
-- "range <port> tcp_flags set syn", add it with pktgen.run() below.

package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

-- What to send -------------------------------------------------------------------
local TX       = "0"                  -- generator port facing edgelb's "ext" port
local RX       = "1"                  -- generator port standing in for the backends
local VIP      = "198.18.0.100"       -- the service's VIP ...
local VPORT    = 80                   -- ... and TCP port
local DST_MAC  = "02:00:00:00:00:02"  -- edgelb's ext port MAC (ports.[0].mac)
local SRC_IP   = "198.18.128.0"       -- first client address: 198.18.128.0/17 ...
local N_IP     = 32768                -- ... all of it (2^15), routed via the gateway
local SRC_PORT = 1024                 -- first client port
local N_PORT   = 64511                -- 1024..65534 (odd: coprime with N_IP) -> 2.1G tuples
local RATE     = 10                   -- percent of line rate (10% of 10G = ~1.5 Mpps at 64 B)
local SECONDS  = 10                   -- keep rate x SECONDS within the conntrack capacity
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

-- Packet ranges --------------------------------------------------------------------
pktgen.stop("all")
pktgen.clr()
pktgen.set(TX, "rate", RATE)
pktgen.set(TX, "size", SIZE)
pktgen.set_proto(TX, "tcp")
pktgen.range.ip_proto(TX, "tcp")
pktgen.range.dst_mac(TX, "start", DST_MAC)
range(pktgen.range.dst_ip, TX, VIP, "0.0.0.0", VIP, VIP)
range(pktgen.range.dst_port, TX, VPORT, 0, VPORT, VPORT)
range(pktgen.range.src_ip, TX, SRC_IP, "0.0.0.1", SRC_IP, ip_add(SRC_IP, N_IP - 1))
range(pktgen.range.src_port, TX, SRC_PORT, 1, SRC_PORT, SRC_PORT + N_PORT - 1)
range(pktgen.range.pkt_size, TX, SIZE, 0, SIZE, SIZE)
-- pktgen.run("range " .. TX .. " tcp_flags set syn")   -- only where the build has it
pktgen.set_range(TX, "on")

-- Send for SECONDS, then report ----------------------------------------------------
printf("tcp-syn: %d-tuple flow space, %d%% rate for %d s, to %s:%d\n",
       N_IP * N_PORT, RATE, SECONDS, VIP, VPORT)
pktgen.start(TX)
pktgen.delay(SECONDS * 1000)
pktgen.stop(TX)
pktgen.delay(500)                     -- let the last packets drain into RX

local tx = pktgen.portStats(TX, "port")[tonumber(TX)]
local rx = pktgen.portStats(RX, "port")[tonumber(RX)]
printf("tcp-syn: port %s tx %d pkts (%.2f Mpps), oerrors %d\n",
       TX, tx.opackets, tx.opackets / SECONDS / 1e6, tx.oerrors)
printf("tcp-syn: port %s rx %d pkts (%.2f Mpps), imissed %d, ierrors %d, rx_nombuf %d\n",
       RX, rx.ipackets, rx.ipackets / SECONDS / 1e6, rx.imissed, rx.ierrors, rx.rx_nombuf)
printf("tcp-syn: forwarded %.2f%% of sent (compare with the dp's ct_created)\n",
       100.0 * rx.ipackets / math.max(tx.opackets, 1))
