-- tcp-syn.lua - new-connection load: every packet a TCP SYN from a client tuple edgelb
-- has not seen, each sent exactly once. For pktgen-dpdk's pcap mode (tested with
-- pktgen 23.06.1 built with -Denable_lua=true against DPDK 22.11; see
-- docs/benchmarking.md for the build and the one-line fix it needs on memif).
--
-- The packets come from a pcap that scripts/pktgen/flows-pcap.py writes: N SYNs, N
-- distinct (client address, client port) tuples, correct checksums, flags = SYN. Why
-- not range mode: pktgen builds range packets once into a fixed TX pool (24,576 mbufs
-- per queue in 23.06) and re-sends them, so range mode repeats tuples after 24,576
-- packets whatever the ranges say, and its TCP flags default to ACK (setting them takes
-- "range <p> tcp flag set syn" on 23.06/23.10, "range <p> tcp flags ..." on 24.x). In
-- pcap mode pktgen holds every packet of the file in its own mbuf and sends them in file
-- order; with the port's count set to N, each of the N SYNs leaves once and the port
-- stops: N new connections, which the dp's ct_created must show.
--
-- Run (the harness, scripts/bench-pktgen.sh, does this over memif on one machine):
--   scripts/pktgen/flows-pcap.py --proto tcp --flows 1048576 --out /tmp/syn.pcap \
--       --dst-mac <edgelb ext MAC> --src-mac <generator port 0 MAC>
--   PG_PCAP=/tmp/syn.pcap PG_RATE=0.5 pktgen -l 0-4 -n 4 -a <nic0> -a <nic1> -- -P \
--       -m "[1:2].0, [3:4].1" -s 0:/tmp/syn.pcap -f scripts/pktgen/tcp-syn.lua
-- pktgen needs a terminal (its screen and CLI read stdin): run it in one, or under
-- script(1) or tmux when driven from a script.
--
-- Knobs, all from the environment (pktgen passes no arguments to -f scripts):
--   PG_PCAP        the file given to pktgen with -s <PG_TX>:<file>; its packets are
--                  counted to know N (required unless PG_FLOWS is set)
--   PG_FLOWS       N, when PG_PCAP is not readable here
--   PG_TX, PG_RX   generator ports facing edgelb's "ext" and standing in for the
--                  backends (default 0 and 1)
--   PG_RATE        percent of the port's link speed, fractions allowed (default 1)
--   PG_MAX_SECONDS stop sending after this long even if N were not all sent (60)
--   PG_DEADLINE    Unix time by which the script must be done (a harness's bound on
--                  pktgen): sending stops 5 s before it
--   PG_RESULT      append the key=value results to this file as well as printing them
--   PG_QUIT        1: quit pktgen at the end (for scripts; default: stay in the CLI)
-- No require of pktgen's own Lua files: helpers come from pglib.lua next to this file,
-- so the script runs from any directory.

local dir = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./")
local pg = dofile(dir .. "pglib.lua")
local env = pg.env

local TX = env("PG_TX", "0")
local RX = env("PG_RX", "1")
local PCAP = env("PG_PCAP", nil)
local RATE = tonumber(env("PG_RATE", "1"))
local MAX_SECONDS = tonumber(env("PG_MAX_SECONDS", "60"))
local r = pg.new("tcp-syn")

local N = pg.pcap_count(PCAP) or tonumber(env("PG_FLOWS", ""))
if N == nil or N < 1 then
	r.say("set PG_PCAP to the pcap loaded with -s %s:<file> (or PG_FLOWS to its packet count)", TX)
	r.finish()
	return
end

pktgen.stop(TX)
pktgen.set_range(TX, "off")
pktgen.pcap(TX, "on")
pktgen.set(TX, "rate", RATE)
pktgen.set(TX, "count", N)          -- each packet of the file once, then the port stops
pktgen.clr()
local tx0, rx0 = pg.settled(TX, RX)

r.say("%d SYNs, each a new client tuple, at %s%% of link speed (port %s -> port %s)",
      N, tostring(RATE), TX, RX)
local max_secs, cut = pg.budget(MAX_SECONDS, 5)   -- 5 s: settle, report, quit
local t0 = pg.now()
pktgen.start(TX)
-- Poll every 20 ms; the bound counts polls, so no date(1) runs while sending.
local polls = 1
pktgen.delay(20)
while pg.sending(TX) and polls * 0.02 < max_secs do
	pktgen.delay(20)
	polls = polls + 1
end
local t1 = pg.now()
local timed_out = pg.sending(TX)
pktgen.stop(TX)
local tx1, rx1 = pg.settled(TX, RX)

local sent = pg.report(r, tx0, rx0, tx1, rx1, t1 - t0, RATE)
-- The claim: every packet sent was the SYN of a tuple not sent before.
r.kv("pcap_flows", N)
r.kv("claimed_new_flows", math.min(sent, N))
r.kv("claimed_concurrent_flows", math.min(sent, N))
r.kv("timed_out", timed_out and 1 or 0)      -- 1: stopped before all N were sent
r.kv("cut_by_deadline", (timed_out and cut) and 1 or 0)
r.finish()
