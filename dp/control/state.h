/*
 * state.h - persistent state regions: what lets a restarted edgelb-dp keep every
 * established connection (docs/architecture.md, "Where state lives").
 *
 * Main lcore, in lb_dp_build() before the service table and the workers are made,
 * and in lb_dp_teardown() after they are gone. Owns the files and their mappings:
 *   <dir>/edgelb-<prefix>-shared   service and backend id directories (service_ids.c)
 *   <dir>/edgelb-<prefix>-ct-w<N>  worker N's conntrack table (lb_ct_init/attach)
 * each a struct lb_state_hdr (dp/lib/state_hdr.h) then the data. <prefix> is the EAL
 * --file-prefix; <dir> is dp.state (docs/configuration.md). The regions are
 * handed to the service table (dp->svc_dir) and the workers (dp->ct_mem).
 */
#ifndef LB_CONTROL_STATE_H
#define LB_CONTROL_STATE_H

#include <stddef.h>

struct lb_dp;

int lb_state_open(struct lb_dp *dp, char *err, size_t errlen);
void lb_state_close(struct lb_dp *dp);

#endif /* LB_CONTROL_STATE_H */
