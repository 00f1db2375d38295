/*
 * lb_ctl_proto.h - the dp control protocol: names shared by edgelb-dp and edgelb-cp.
 *
 * Transport: a UNIX stream socket; each message is one JSON object on one line
 * ('\n'-terminated), at most LB_CTL_MAX_LINE bytes. Requests carry "op" and an
 * optional "id" (any JSON value, echoed). Every reply carries "id" (null when the
 * request had none or could not be read), "ok", and either "result" (an object)
 * or "error" (a sentence for a person) plus "code" (a short machine-readable word).
 * The full schema with examples: docs/control-protocol.md.
 * Builds without DPDK.
 */
#ifndef LB_CTL_PROTO_H
#define LB_CTL_PROTO_H

#define LB_CTL_PROTOCOL_VERSION 1
#define LB_CTL_MAX_LINE (8u << 20)   /* bytes, newline excluded */
#define LB_CTL_MAX_CLIENTS 64
#define LB_CTL_CONNS_LIMIT_MAX 100000 /* conns.list "limit" ceiling */
#define LB_CTL_CONNS_LIMIT_DEFAULT 1000

/* Operations */
#define LB_OP_HELLO "hello"
#define LB_OP_SYNC_BEGIN "sync.begin"
#define LB_OP_SYNC_END "sync.end"
#define LB_OP_SERVICE_UPSERT "service.upsert"
#define LB_OP_SERVICE_DELETE "service.delete"
#define LB_OP_SERVICE_LIST "service.list"
#define LB_OP_STATS_GET "stats.get"
#define LB_OP_CONNS_LIST "conns.list"
#define LB_OP_NEIGH_LIST "neigh.list"
#define LB_OP_FLOW_SYNC_PEERS "flow_sync.peers" /* replace the flow sync peers (docs/flow-sync.md) */

/* Envelope fields */
#define LB_F_OP "op"
#define LB_F_ID "id"
#define LB_F_OK "ok"
#define LB_F_RESULT "result"
#define LB_F_ERROR "error"
#define LB_F_CODE "code"

/* Request / result fields */
#define LB_F_VERSION "version"          /* hello: protocol version spoken */
#define LB_F_CLIENT "client"            /* hello: free-form client name */
#define LB_F_DP_VERSION "dp_version"
#define LB_F_WORKERS "workers"
#define LB_F_PORTS "ports"
#define LB_F_GENERATION "generation"    /* sync.begin / sync.end / hello */
/* hello, stats.get: flow sync between boxes (docs/flow-sync.md); absent when sync is off */
#define LB_F_FLOW_SYNC "flow_sync"
#define LB_F_PEERS "peers"              /* flow_sync.peers: array of addresses */
#define LB_F_BULK_DONE "bulk_done"      /* in flow_sync: the join's bulk copy is in (or timed out) */
#define LB_F_SERVICE "service"          /* service.upsert: the spec object */
#define LB_F_SERVICES "services"
#define LB_F_WAIT "wait"                /* service.upsert: reply once workers use it */
#define LB_F_VISIBLE_US "visible_us"    /* result: receipt -> every worker on new object */
#define LB_F_BUILD_US "build_us"        /* result: CPU time of the table build (builder thread) */
#define LB_F_SUBMITTED_US "submitted_us" /* result: receipt -> parsed and handed to the builder */
#define LB_F_QUEUED_US "queued_us"      /* result: receipt -> the builder started its build */
#define LB_F_BUILT_US "built_us"        /* result: receipt -> the builder finished that build */
#define LB_F_PUBLISHED_US "published_us" /* result: receipt -> the release store of its build */
#define LB_F_TABLE_CACHED "table_cached" /* result: the Maglev table was copied, not built */
#define LB_F_COALESCED "coalesced"      /* result: a newer spec of the service was built instead */
#define LB_F_REMOVED "removed"          /* sync.end: services dropped */
#define LB_F_LIMIT "limit"              /* conns.list */
#define LB_F_CONNECTIONS "connections"
#define LB_F_TRUNCATED "truncated"
#define LB_F_CURSOR "cursor"           /* conns.list: where to go on (from next_cursor) */
#define LB_F_NEXT_CURSOR "next_cursor" /* conns.list: present when truncated */
#define LB_F_NEIGHBOURS "neighbours"

/* Service spec fields (same names as the dp config file's services) */
#define LB_F_NAME "name"
#define LB_F_VIP "vip"
#define LB_F_PORT "port"
#define LB_F_PROTOCOL "protocol"
#define LB_F_MODE "mode"
#define LB_F_MAGLEV_SIZE "maglev_size"
#define LB_F_SCHEDULER "scheduler"
#define LB_F_AFFINITY "session_affinity"
#define LB_F_AFFINITY_TYPE "type"
#define LB_F_AFFINITY_TIMEOUT "timeout_seconds"
#define LB_F_SOURCE_RANGES "source_ranges"
#define LB_F_BACKENDS "backends"
#define LB_F_ADDRESS "address"
#define LB_F_WEIGHT "weight"
#define LB_F_STATE "state"

/* Error codes ("code" in a failed reply) */
#define LB_CODE_BAD_JSON "bad_json"         /* the line is not a JSON object */
#define LB_CODE_TOO_LONG "too_long"         /* line over LB_CTL_MAX_LINE; connection closed */
#define LB_CODE_UNKNOWN_OP "unknown_op"
#define LB_CODE_INVALID "invalid"           /* a field is missing, of a wrong type or value */
#define LB_CODE_NOT_FOUND "not_found"
#define LB_CODE_FULL "full"                 /* a table of the dp is full */
#define LB_CODE_VERSION "version"           /* protocol version not spoken */
#define LB_CODE_INTERNAL "internal"

#endif /* LB_CTL_PROTO_H */
