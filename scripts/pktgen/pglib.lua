-- pglib.lua - helpers shared by tcp-syn.lua and udp-flows.lua (loaded with dofile from
-- the script's own directory, so nothing depends on pktgen's source tree or cwd).
-- Runs inside pktgen-dpdk's Lua (5.3); uses only pktgen.* calls that 23.06 has.
local M = {}

function M.env(name, default)
	local v = os.getenv(name)
	if v == nil or v == "" then return default end
	return v
end

function M.new(name)
	local r = {name = name, lines = {}}
	function r.say(fmt, ...)
		io.write(name .. ": " .. string.format(fmt, ...) .. "\n")
		io.flush()
	end
	function r.kv(k, v)
		r.lines[#r.lines + 1] = k .. "=" .. tostring(v)
	end
	-- Print the key=value lines; append them to PG_RESULT too; quit if PG_QUIT=1.
	function r.finish()
		for _, l in ipairs(r.lines) do r.say("%s", l) end
		local path = M.env("PG_RESULT", nil)
		if path then
			local f = io.open(path, "a")
			if f then f:write(table.concat(r.lines, "\n") .. "\n"); f:close() end
		end
		if M.env("PG_QUIT", "0") == "1" then pktgen.quit() end
	end
	return r
end

-- Wall clock in seconds, sub-second where date(1) is there (os.time() is whole seconds).
function M.now()
	local p = io.popen and io.popen("date +%s.%N 2>/dev/null")
	if p then
		local t = tonumber(p:read("*l") or "")
		p:close()
		if t then return t end
	end
	return os.time()
end

-- Seconds left before PG_DEADLINE (a Unix time: a harness that bounds pktgen's life
-- sets it so the script stops sending early enough to report); nil without one.
function M.time_left()
	local d = tonumber(M.env("PG_DEADLINE", ""))
	if d == nil then return nil end
	return d - M.now()
end

-- Seconds to send: want, cut to leave `reserve` seconds before PG_DEADLINE.
function M.budget(want, reserve)
	local left = M.time_left()
	if left ~= nil and left - reserve < want then
		return math.max(left - reserve, 0), true
	end
	return want, false
end

-- Packets in a pcap file (either byte order), nil if it cannot be read.
function M.pcap_count(path)
	local f = path and io.open(path, "rb")
	if not f then return nil end
	local hdr = f:read(24)
	if hdr == nil or #hdr < 24 then f:close(); return nil end
	local magic = string.unpack("<I4", hdr)
	local e = (magic == 0xa1b2c3d4 or magic == 0xa1b23c4d) and "<" or ">"
	local n = 0
	while true do
		local rh = f:read(16)
		if rh == nil or #rh < 16 then break end
		f:seek("cur", string.unpack(e .. "I4", rh, 9))
		n = n + 1
	end
	f:close()
	return n
end

function M.stats(port)
	local s = pktgen.portStats(port, "port")[tonumber(port)]
	return {opackets = s.opackets, ipackets = s.ipackets, oerrors = s.oerrors,
		imissed = s.imissed, ierrors = s.ierrors, rx_nombuf = s.rx_nombuf}
end

local function same(a, b)
	for k, v in pairs(a) do if b[k] ~= v then return false end end
	return true
end

-- pktgen copies the port counters into what portStats returns once a second (its
-- timer), so a read right after stop can be a second old. Read, wait past one
-- refresh, read again, until two reads agree (at most 5 tries, about 6 s).
function M.settled(tx, rx)
	local a = {M.stats(tx), M.stats(rx)}
	for _ = 1, 5 do
		pktgen.delay(1100)
		local b = {M.stats(tx), M.stats(rx)}
		if same(a[1], b[1]) and same(a[2], b[2]) then return b[1], b[2] end
		a = b
	end
	return a[1], a[2]
end

function M.sending(port)
	return pktgen.isSending(port)[tonumber(port)] == "y"
end

-- The generator's side of a run: deltas of the two ports over [t0, t1].
function M.report(r, tx0, rx0, tx1, rx1, secs, rate)
	local sent = tx1.opackets - tx0.opackets
	local got = rx1.ipackets - rx0.ipackets
	r.kv("script", r.name)
	r.kv("pktgen_seconds", string.format("%.2f", secs))
	r.kv("pktgen_rate_pct", rate)
	r.kv("pktgen_tx", sent)
	r.kv("pktgen_tx_mpps", string.format("%.3f", sent / secs / 1e6))
	r.kv("pktgen_oerrors", tx1.oerrors - tx0.oerrors)
	r.kv("pktgen_rx", got)
	r.kv("pktgen_rx_mpps", string.format("%.3f", got / secs / 1e6))
	r.kv("pktgen_imissed", rx1.imissed - rx0.imissed)
	r.kv("pktgen_rx_nombuf", rx1.rx_nombuf - rx0.rx_nombuf)
	return sent, got
end

return M
