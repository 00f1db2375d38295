-- udp-flows.lua - steady UDP load over about a million concurrent flows: the same N
-- distinct client tuples revisited for PG_SECONDS. For pktgen-dpdk's pcap mode (tested
-- with pktgen 23.06.1, -Denable_lua=true, DPDK 22.11; docs/benchmarking.md).
--
-- The packets come from a pcap that scripts/pktgen/flows-pcap.py writes: N UDP packets,
-- N distinct (client address, client port) tuples, correct checksums. pktgen holds
-- every packet of the file in its own mbuf and sends them in file order, over and over:
-- the first pass creates N connections in the dp, every later pass revisits them (a
-- UDP entry lives conntrack.timeouts.udp, 300 s by default). Range mode cannot do this:
-- it builds its packets once into a TX pool of 24,576 mbufs per queue (pktgen 23.06) and
-- re-sends those, so it never offers more than 24,576 flows whatever its ranges say.
-- Keep N below the dp's conntrack.capacity x workers, or the excess is ct_full.
--
-- Run (scripts/bench-pktgen.sh does this over memif on one machine):
--   scripts/pktgen/flows-pcap.py --proto udp --flows 1048576 --out /tmp/udp.pcap \
--       --dst-mac <edgelb ext MAC> --src-mac <generator port 0 MAC>
--   PG_PCAP=/tmp/udp.pcap PG_RATE=5 PG_SECONDS=20 pktgen -l 0-4 -n 4 -a <nic0> -a <nic1> \
--       -- -P -m "[1:2].0, [3:4].1" -s 0:/tmp/udp.pcap -f scripts/pktgen/udp-flows.lua
-- pktgen needs a terminal (its screen and CLI read stdin): run it in one, or under
-- script(1) or tmux when driven from a script.
--
-- Knobs, all from the environment (pktgen passes no arguments to -f scripts):
--   PG_PCAP        the file given to pktgen with -s <PG_TX>:<file> (required unless
--                  PG_FLOWS is set)
--   PG_FLOWS       N, when PG_PCAP is not readable here
--   PG_TX, PG_RX   generator ports facing edgelb's "ext" and standing in for the
--                  backends (default 0 and 1)
--   PG_RATE        percent of the port's link speed, fractions allowed (default 1)
--   PG_SECONDS     how long to send (default 10)
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
local SECONDS = tonumber(env("PG_SECONDS", "10"))
local r = pg.new("udp-flows")

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
pktgen.set(TX, "count", 0)          -- 0: send until stopped
pktgen.clr()
local tx0, rx0 = pg.settled(TX, RX)

r.say("%d UDP flows revisited for %s s at %s%% of link speed (port %s -> port %s)",
      N, tostring(SECONDS), tostring(RATE), TX, RX)
local secs, cut = pg.budget(SECONDS, 5)   -- 5 s: settle, report, quit
local t0 = pg.now()
pktgen.start(TX)
pktgen.delay(math.floor(secs * 1000))
pktgen.stop(TX)
local t1 = pg.now()
local tx1, rx1 = pg.settled(TX, RX)

local sent = pg.report(r, tx0, rx0, tx1, rx1, t1 - t0, RATE)
-- The claim: the first min(sent, N) packets were N distinct tuples; the rest revisited
-- them, so that many flows are live at the end (within the UDP timeout).
r.kv("pcap_flows", N)
r.kv("claimed_new_flows", math.min(sent, N))
r.kv("claimed_concurrent_flows", math.min(sent, N))
r.kv("passes", string.format("%.2f", sent / N))
r.kv("cut_by_deadline", cut and 1 or 0)     -- 1: sent for less than PG_SECONDS
r.finish()
