/*
 * lb_notify.h - tell systemd how a daemon is doing (sd_notify(3)), or nothing.
 *
 * Called from the main loops of edgelb-dp (dp/control/notify.c, control thread) and
 * edgelb-cp (cp/main.c, main thread): READY=1 once the daemon serves, STATUS=
 * lines an operator sees in `systemctl status`, WATCHDOG=1 while it is healthy,
 * STOPPING=1 on the way out. Outside systemd (no $NOTIFY_SOCKET) and in builds
 * without libsystemd every call does nothing, so tests and hand starts are
 * unaffected.
 */
#ifndef LB_NOTIFY_H
#define LB_NOTIFY_H

#include <stdint.h>

#ifdef EDGELB_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#define lb_notify(...) ((void)sd_notifyf(0, __VA_ARGS__))
#else
#define lb_notify(...) ((void)0)
#endif

/*
 * The watchdog interval systemd asked for (WatchdogSec=, $WATCHDOG_USEC) in
 * microseconds, 0 when there is none. Ping at half of it.
 */
static inline uint64_t
lb_notify_watchdog_usec(void)
{
#ifdef EDGELB_HAVE_SYSTEMD
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) > 0)
		return usec;
#endif
	return 0;
}

#endif /* LB_NOTIFY_H */
