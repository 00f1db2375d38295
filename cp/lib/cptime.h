/*
 * cptime.h - the clock and the interruptible sleep the control plane's threads use.
 *
 * Header-only, no state: called from any cp thread (dp sync, health checks,
 * Kubernetes watches and reconcile).
 */
#ifndef LB_CP_TIME_H
#define LB_CP_TIME_H

#include <stdbool.h>
#include <time.h>

/* Wall-clock seconds (for timestamps people and Prometheus read). */
static inline double
cp_now_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Monotonic milliseconds (for timeouts and intervals). */
static inline double
cp_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Sleep ms milliseconds in 50 ms steps, returning early once *stop is set. */
static inline void
cp_nap(volatile bool *stop, int ms)
{
	while (ms > 0 && !*stop) {
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
		ms -= 50;
	}
}

#endif /* LB_CP_TIME_H */
