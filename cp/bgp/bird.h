/*
 * bird.h - talking to BIRD 2: "configure" on its control socket (what
 * birdc configure does) and writing the include file atomically. Used by the
 * bgp thread (cp/bgp/bgp.c), and by `edgelb-cp --withdraw` (cp/main.c).
 */
#ifndef LB_CP_BIRD_H
#define LB_CP_BIRD_H

#include <stddef.h>

/* "configure" on BIRD's control socket at path. Returns 0, or LB_EIO / LB_EINVAL with msg. */
int cp_bird_configure(const char *path, char *msg, size_t msglen);

/* Write text to path through a temporary file and rename. Returns 0 or LB_EIO with msg. */
int cp_bird_write_atomic(const char *path, const char *text, char *msg, size_t msglen);

struct cp_bgp_conf;

/*
 * `edgelb-cp --withdraw`: write the include file with every static protocol empty
 * (no VIP, no SNAT address, no backup) and reconfigure BIRD. For the dp unit's
 * ExecStopPost when the dp failed, so its routes go even while edgelb-cp is down.
 * Returns 0, or LB_EIO / LB_EINVAL / LB_ENOMEM with msg.
 */
int cp_bird_withdraw_all(const struct cp_bgp_conf *bc, char *msg, size_t msglen);

#endif /* LB_CP_BIRD_H */
