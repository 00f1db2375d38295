#!/usr/bin/env bash
# test_drain.sh - `edgelbctl drain` on box 1 of two: the router loses box 1 as a
# next hop within 1 s, new connections all go to box 2, downloads carried by
# box 2 are untouched, box 1's dp keeps its connections (drain status counts
# them down) and the drain ends (drained, or timed out); `undrain` announces again.
# fnat downloads that ECMP moves from box 1 to box 2 break (no connection sync
# between boxes yet): the test counts and prints them, it does not hide them.
CL_NAME=drain
CL_BIGFILE_BYTES=600000   # 6 s at the backends' 100 kB/s
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"

cl_up 2
cl_box_start 1
cl_box_start 2
cl_wait_converged "1 2" 15000
ok "both boxes announced"

# Slow downloads, each placed on one box (whose conntrack grew).
declare -A on_box
for i in $(seq 1 12); do
	c1=$(ct_created 1)
	in_c curl -s -m 30 -o "$CL_DIR/dl$i" "http://$VIP4/slow" &
	CL_PIDS+=($!)
	for _ in $(seq 1 100); do
		[ "$(ct_created 1)" != "$c1" ] && break
		[ -n "$(in_c ss -Htn state established dst "$VIP4" | sed -n "${i}p")" ] && break
		sleep 0.01
	done
	if [ "$(ct_created 1)" != "$c1" ]; then on_box[$i]=1; else on_box[$i]=2; fi
done
n1=$(printf '%s\n' "${on_box[@]}" | grep -c '^1$' || true)
log "12 downloads running: $n1 through box 1, $((12 - n1)) through box 2"
[ "$n1" -ge 1 ] && [ "$n1" -le 11 ] || fail "ECMP put every download on one box"

t0=$(now_ms)
ctl 1 drain --timeout 8
ms=$(wait_nexthops "$VIP4" "2" 1000 "$t0") || fail "box 1 still a next hop 1 s after drain"
ok "drain: box 1 withdrawn from the router after $ms ms"
wait_nexthops "$VIP6" "2" 1000 "$t0" >/dev/null || fail "$VIP6 still via box 1"
check "bgp status says drained" test "$(api 1 GET /v1/bgp | json "r['gate']")" = "box drained"
sleep 1.2
st=$(api 1 GET /v1/drain)
log "drain status: $st"
check "drain reports box 1's dp connections" test "$(echo "$st" | json "r['connections']")" -ge "$n1"
check "drain reports draining" test "$(echo "$st" | json "r['state']")" = draining

c1=$(ct_created 1)
good=$(connect_many 50)
check "new connections answered while box 1 is drained ($good/50)" test "$good" = 50
check "no new connection reached box 1" test "$(ct_created 1)" = "$c1"
check "box 1's dp still has its service" \
	test "$(dp_ctl 1 '{"op":"service.list"}' | json "len(r['result']['services'])")" -ge 1

# Downloads end: compare with the backends' files.
for pid in "${CL_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
CL_PIDS=()
ok1=0
ok2=0
for i in $(seq 1 12); do
	good=0
	for b in 1 2 3; do cmp -s "$CL_DIR/dl$i" "$CL_DIR/b$b/www/big.bin" && good=1; done
	if [ "$good" = 1 ]; then
		[ "${on_box[$i]}" = 1 ] && ok1=$((ok1 + 1)) || ok2=$((ok2 + 1))
	fi
done
log "downloads intact: box 2 $ok2/$((12 - n1)), box 1 (drained, fnat) $ok1/$n1"
figure "drain_fnat_survived box1=$ok1/$n1 box2=$ok2/$((12 - n1))"
check "every download through box 2 intact" test "$ok2" = $((12 - n1))

# The drain ends: no connection left, or the timeout (8 s) passed.
end=$(($(now_ms) + 15000))
while [ "$(api 1 GET /v1/drain | json "r['state']")" != drained ]; do
	[ "$(now_ms)" -lt "$end" ] || fail "drain did not end within its timeout"
	sleep 0.5
done
ok "drain ended: $(ctl 1 drain --wait)"

t0=$(now_ms)
ctl 1 undrain >/dev/null
ms=$(wait_nexthops "$VIP4" "1 2" 2000 "$t0") || fail "undrain: box 1 not announced again"
ok "undrain: box 1 announced again after $ms ms"
log "all checks passed"
