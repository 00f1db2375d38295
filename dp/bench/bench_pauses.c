/*
 * bench_pauses.c - how long a runnable thread goes without running on this
 * machine: a loop that never sleeps reads CLOCK_MONOTONIC and records every
 * step between two reads over 0.2 ms. On a VM these are the host's preemptions
 * (and the guest kernel's own work), the floor under any tail latency measured
 * here (docs/performance.md, the hot update's p99). Pin it to the CPU to look at:
 *
 *   taskset -c 0 build/dp/bench/bench_pauses 10     # seconds
 *
 * Prints key=value lines; it reports, it does not pass or fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 10;
	double t0 = now_us(), last = t0, longest = 0, paused = 0;
	unsigned over[4] = {0}; /* > 0.5, 1, 2, 3 ms */

	if (secs <= 0 || secs > 3600) {
		fprintf(stderr, "usage: bench_pauses [seconds, 0..3600]\n");
		return 2;
	}
	while (last - t0 < secs * 1e6) {
		double t = now_us(), d = t - last;

		if (d > longest)
			longest = d;
		if (d > 200)
			paused += d;
		over[0] += d > 500;
		over[1] += d > 1000;
		over[2] += d > 2000;
		over[3] += d > 3000;
		last = t;
	}
	printf("pauses_seconds=%.0f\n", secs);
	printf("pauses_longest_us=%.0f\n", longest);
	printf("pauses_over_500us=%u\npauses_over_1ms=%u\npauses_over_2ms=%u\npauses_over_3ms=%u\n",
	       over[0], over[1], over[2], over[3]);
	printf("pauses_time_pct=%.2f\n", 100 * paused / (secs * 1e6));
	return 0;
}
