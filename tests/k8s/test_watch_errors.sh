#!/bin/bash
# test_watch_errors.sh - watch failures other than 410 are backed off (issue 10
# finding 3, TESTS.md #11). The fake API server answers every watch with an ERROR
# event carrying a Status 500, then (second phase) ends every watch at once with
# no event at all. Either way the cp must not spin: it logs, backs off
# exponentially with jitter and never starts watches of one resource faster than
# once a second. Measured: watch requests per second (the old code made ~2,300).
# Once the server is healthy again the watches resume and a new Service gets its
# address.
. "$(dirname "$0")/lib.sh"
k8s_begin watch_errors 110

fake_start
PORT=$(free_port)
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT"
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced

watch_reqs() { fake_req GET /fake/requests | jq '[.requests[] | select(.path | test("watch=1"))] | length'; }
WINDOW=6
# Both resources' watches are re-opened once the faults are armed.
for phase in error empty; do
	if [ $phase = error ]; then
		fake_fault '{"watch_error": 100000, "watch_error_code": 500}'
	else
		fake_fault '{"watch_empty": 100000}'
	fi
	errs0=$(metric_sum edgelb_k8s_watch_errors_total)
	fake_fault '{"drop_watches": true}'
	fake_req DELETE /fake/requests >/dev/null
	sleep $WINDOW
	n=$(watch_reqs)
	log "$phase: $n watch requests in $WINDOW s ($(awk -v n="$n" -v w=$WINDOW 'BEGIN {printf "%.1f", n / w}')/s)"
	# 2 resources x (1 per second at most) = 12; the backoff makes it fewer.
	check "$phase: $n watch requests in ${WINDOW} s (<= $((2 * WINDOW)))" [ "$n" -le $((2 * WINDOW)) ]
	check "$phase: at least one retry per resource (not stuck)" [ "$n" -ge 2 ]
	errs=$(metric_sum edgelb_k8s_watch_errors_total)
	check "$phase: edgelb_k8s_watch_errors_total went up ($errs0 -> $errs)" [ "$errs" -gt "$errs0" ]
	eq "$phase: the watches are in backoff" "$(metric 'edgelb_k8s_watch_state{resource="services",state="backoff"}')" 1
	fake_fault '{"clear": true}'
done
if [ "$(grep -c 'watch ERROR event: 500' "$WORK/cp.log")" -ge 1 ]; then ok "the ERROR event is logged with its code"; else nok "the ERROR event is logged with its code"; fi
grep -q 'without an event; retrying' "$WORK/cp.log" && ok "an empty watch is logged" || nok "an empty watch is logged"

# Healthy again: the backoff (at most 10 s + jitter) ends and the controller works.
t0=$(now_ms)
svc_create default after "$(lb_spec '[{"name":"http","port":80}]')"
wait_until 20 'svc_nips_is default after 1' && ok "after the faults: a new Service gets an address in $(( $(now_ms) - t0 )) ms" ||
	nok "after the faults: a new Service gets an address"
k8s_end
