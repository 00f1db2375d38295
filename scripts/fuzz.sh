#!/usr/bin/env bash
# fuzz.sh - build and run one libFuzzer harness of tests/fuzz/ (clang from Debian).
#
#   scripts/fuzz.sh TARGET SECONDS     e.g. scripts/fuzz.sh parse 600
#   scripts/fuzz.sh TARGET replay      run the kept corpus once (regression inputs)
#   scripts/fuzz.sh list               the targets
#
# Built into build-fuzz/ with -fsanitize=fuzzer,address,undefined. The seeds and
# every regression input live in tests/fuzz/corpus/TARGET/ (kept in git); what a
# run discovers goes to build-fuzz/corpus/TARGET/ (not kept). A crash leaves
# build-fuzz/crash-* (leak-*, timeout-*): fix it and copy the input into
# tests/fuzz/corpus/TARGET/. tests/fuzz/lsan.supp lists leaks that are not ours.
# Prints "fuzz TARGET: N execs in S s, findings F".
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A SRCS=(
	[parse]="tests/fuzz/fuzz_parse.c dp/lib/parse.c"
	[nat]="tests/fuzz/fuzz_nat.c dp/lib/nat.c dp/lib/parse.c"
	[icmp]="tests/fuzz/fuzz_icmp.c dp/lib/icmp.c dp/lib/nat.c dp/lib/parse.c"
	[config]="tests/fuzz/fuzz_config.c dp/lib/config.c dp/lib/config_net.c dp/lib/config_svc.c dp/lib/config_sync.c dp/lib/conf_engine.c dp/lib/model.c"
	[svc_json]="tests/fuzz/fuzz_svc_json.c dp/lib/svc_json.c dp/lib/model.c"
	[cp_lb]="tests/fuzz/fuzz_cp_lb.c cp/lib/lb.c cp/lib/lb_decode.c dp/lib/svc_json.c dp/lib/model.c"
	[cp_conf]="tests/fuzz/fuzz_cp_conf.c cp/lib/cpconf.c cp/lib/lb.c cp/lib/lb_decode.c cp/lib/ipam.c cp/lib/ipam_pool.c cp/lib/ipam_table.c dp/lib/conf_engine.c dp/lib/svc_json.c dp/lib/model.c"
	[pipeline]="tests/fuzz/fuzz_pipeline.c DP"
	[ctl]="tests/fuzz/fuzz_ctl.c DP"
	[k8s]="tests/fuzz/fuzz_k8s.c cp/lib/k8s_svc.c cp/lib/k8s_nodes.c cp/lib/lb.c cp/lib/lb_decode.c dp/lib/svc_json.c dp/lib/model.c"
	[sync]="tests/fuzz/fuzz_sync.c dp/lib/sync_codec.c"
)
declare -A LIBS=([config]="-lconfig -ljansson" [svc_json]="-ljansson" [cp_lb]="-ljansson"
	[cp_conf]="-lconfig -ljansson" [k8s]="-ljansson" [sync]="-lsodium"
	[pipeline]="DPDK" [ctl]="DPDK")
if [ "${1:-}" = list ] || [ $# -lt 2 ]; then
	echo "targets: ${!SRCS[*]}"
	[ "${1:-}" = list ] && exit 0
	echo "usage: $0 TARGET SECONDS|replay" >&2
	exit 2
fi
t=$1 secs=$2
[ -n "${SRCS[$t]:-}" ] || { echo "fuzz: no target $t (targets: ${!SRCS[*]})" >&2; exit 2; }
command -v clang >/dev/null || { echo "fuzz: clang not installed: run scripts/setup.sh" >&2; exit 1; }
mkdir -p build-fuzz/corpus/"$t"
bin=build-fuzz/fuzz_$t
srcs=${SRCS[$t]} libs=${LIBS[$t]:-} incs="-Iinclude -Idp/lib -Icp/lib"
# The in-process dp targets (pipeline, ctl): every dp source but main.c, on DPDK
# with the net_ring PMD (tests/pipeline_eal.h), as tests/meson.build links them.
if [ "${srcs#* }" = DP ]; then
	srcs="${srcs% *} $(echo dp/lib/*.c dp/tables/*.c dp/fastpath/*.c dp/control/*.c)"
	incs="$incs -Idp -Idp/tables -Idp/fastpath -Idp/control $(pkg-config --cflags libdpdk)"
	libs="$(pkg-config --libs libdpdk) -lrte_net_ring -lconfig -ljansson -lsystemd -lsodium"
fi
# shellcheck disable=SC2086 # word lists
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Wall -Wextra -Werror $incs -o "$bin" $srcs $libs
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}
if [ "$secs" = replay ]; then
	"$bin" -runs=0 tests/fuzz/corpus/"$t"/ 2>&1 | tail -3
	echo "fuzz $t: replayed $(find tests/fuzz/corpus/"$t" -type f | wc -l) inputs, findings 0"
	exit 0
fi
log=build-fuzz/$t.log
rc=0
(cd build-fuzz && ./"fuzz_$t" -max_total_time="$secs" -print_final_stats=1 \
	corpus/"$t" ../tests/fuzz/corpus/"$t") >"$log" 2>&1 || rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
findings=$(find build-fuzz -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
	-o -name 'oom-*' \) -newer "$bin" | wc -l)
echo "fuzz $t: ${execs:-?} execs in $secs s, findings $findings"
[ "$rc" = 0 ] || { tail -40 "$log"; exit 1; }
