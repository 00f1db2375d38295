#!/usr/bin/env bash
# test.sh - install what is missing, build, and run every test of edgelb.
#
# Runs: setup (packages, hugepages, build), then every meson test suite of the
# normal build (unit, dp, ctl, e2e, cp, k8s, cluster, pkg), then the unit tests again in a
# second build under AddressSanitizer and UndefinedBehaviorSanitizer, then each
# libFuzzer harness of tests/fuzz/ (its corpus replayed, then FUZZ_SECONDS=5 of fuzzing).
# Ends with one line "N passed, N failed" (", N skipped" only when something was
# skipped, with the reason above it); exit status 1 when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
skipped=0

# Add the counts of one meson test run (its summary lines) to the totals.
tally() {
	local log=$1 ok fail to skip xfail upass
	ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$log" | tail -1)
	fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$log" | tail -1)
	to=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' "$log" | tail -1)
	skip=$(sed -n 's/^Skipped: *\([0-9]*\).*/\1/p' "$log" | tail -1)
	xfail=$(sed -n 's/^Expected Fail: *\([0-9]*\).*/\1/p' "$log" | tail -1)
	upass=$(sed -n 's/^Unexpected Pass: *\([0-9]*\).*/\1/p' "$log" | tail -1)
	if [ -z "$ok$fail" ]; then
		failed=$((failed + 1)) # meson itself failed: count the whole run as one failure
		return
	fi
	passed=$((passed + ${ok:-0} + ${xfail:-0}))
	failed=$((failed + ${fail:-0} + ${to:-0} + ${upass:-0}))
	skipped=$((skipped + ${skip:-0}))
}

if ! ./scripts/setup.sh; then
	echo "setup failed: see above"
	echo "0 passed, 1 failed"
	exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== tests (build/) =="
meson test -C build --no-rebuild --print-errorlogs --num-processes 1 2>&1 | tee "$log"
tally "$log"

echo "== unit tests under ASan/UBSan (build-asan/) =="
if [ ! -f build-asan/build.ninja ]; then
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
if ninja -C build-asan >/dev/null; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C build-asan --no-rebuild --suite unit --print-errorlogs 2>&1 | tee "$log"
	tally "$log"
else
	echo "ASan build failed"
	failed=$((failed + 1))
fi

echo "== fuzzing: each libFuzzer target replays its corpus, then runs ${FUZZ_SECONDS:-5} s (scripts/fuzz.sh) =="
for t in $(./scripts/fuzz.sh list | sed 's/^targets: //'); do
	if ./scripts/fuzz.sh "$t" replay && ./scripts/fuzz.sh "$t" "${FUZZ_SECONDS:-5}"; then
		passed=$((passed + 1))
	else
		echo "fuzz $t: FAILED (build-fuzz/$t.log, build-fuzz/crash-*)"
		failed=$((failed + 1))
	fi
done

if [ "$skipped" -gt 0 ]; then
	echo "why tests were skipped (their own words):"
	grep -h '^SKIP' build/meson-logs/testlog.txt build-asan/meson-logs/testlog.txt 2>/dev/null |
		sort -u | sed 's/^/  /'
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
