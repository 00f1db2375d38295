#!/usr/bin/env bash
# test_survival.sh - how many established fnat connections survive each change of
# the set of boxes: 100 downloads (checked byte for byte against the backends'
# files) run while (0) nothing happens (the control: all must survive), (1) a box
# is added (box 3 undrained), (2) a box is drained, (3) a box's dp is killed.
# The router's ECMP moves some flows to another box, which has no state for them
# (boxes do not share connections yet), so those break: the test prints how many
# survive each event ("figure:" lines, docs/performance.md). It asserts only the
# control run; the next issue (connection sync) is to make every event 100 %.
CL_NAME=surv
CL_BIGFILE_BYTES=400000   # 4 s at the backends' 100 kB/s
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"

N=${CL_SURVIVAL_CONNS:-100}


run_event() { # name command...
	local name=$1 pid out
	shift
	out=$CL_DIR/surv-$name.txt
	downloads "$out"
	sleep 1.5
	"$@"
	wait "$DL_PID" || true
	read -r okc total < "$out" || fail "$name: no result ($(cat "$out"))"
	log "$name: $okc of $total connections intact"
	figure "fnat_survived_$name $okc/$total"
	OKC=$okc
}

cl_up 3
for k in 1 2 3; do cl_box_start "$k"; done
ctl 3 drain --timeout 5 >/dev/null
cl_wait_converged "1 2" 30000
ok "boxes 1 and 2 announced, box 3 ready but drained"

run_event none true
check "control run: every connection intact ($OKC/$N)" test "$OKC" = "$N"

add() { ctl 3 undrain >/dev/null; wait_nexthops "$VIP4" "1 2 3" 2000 >/dev/null; }
run_event add add
cl_wait_converged "1 2 3" 10000

drain1() { ctl 1 drain --timeout 5 >/dev/null; wait_nexthops "$VIP4" "2 3" 2000 >/dev/null; }
run_event drain drain1
ctl 1 undrain >/dev/null
cl_wait_converged "1 2 3" 10000

kill2() { kill -9 "$(cat "$CL_DIR/x2/dp.pid")"; wait_nexthops "$VIP4" "1 3" 2000 >/dev/null; }
run_event kill kill2
log "all checks passed"
