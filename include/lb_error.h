/*
 * lb_error.h - the one error vocabulary of edgelb.
 *
 * Shared by edgelb-dp, edgelb-cp and edgelbctl. Functions that can fail return 0
 * (or a non-negative count) on success and a negative LB_E* code on failure;
 * lb_strerror() turns a code into a sentence for logs and control-protocol replies.
 * Builds without DPDK.
 */
#ifndef LB_ERROR_H
#define LB_ERROR_H

enum lb_err {
	LB_OK = 0,
	LB_EINVAL = -1,    /* an argument or a field has a value we cannot accept */
	LB_ENOMEM = -2,    /* an allocation failed */
	LB_ENOENT = -3,    /* the named object does not exist */
	LB_EEXIST = -4,    /* the object already exists */
	LB_EFULL = -5,     /* a fixed-capacity table has no free entry */
	LB_ERANGE = -6,    /* a number is outside its allowed range */
	LB_EIO = -7,       /* a system call or device operation failed */
	LB_EPROTO = -8,    /* a message is malformed (bad JSON, wrong types) */
	LB_ECONFLICT = -9, /* the request conflicts with existing state */
	LB_EAGAIN = -10,   /* try again later (resource busy, resolution pending) */
	LB_ENOTSUP = -11,  /* a valid request this build or device does not support */
	LB_ETOOBIG = -12,  /* a message or object exceeds its size limit */
	LB_ECANCELED = -13, /* work given up: a newer request made it moot */
};

static inline const char *
lb_strerror(int err)
{
	switch (err) {
	case LB_OK: return "success";
	case LB_EINVAL: return "invalid argument";
	case LB_ENOMEM: return "out of memory";
	case LB_ENOENT: return "no such object";
	case LB_EEXIST: return "object already exists";
	case LB_EFULL: return "table full";
	case LB_ERANGE: return "value out of range";
	case LB_EIO: return "I/O error";
	case LB_EPROTO: return "malformed message";
	case LB_ECONFLICT: return "conflicts with existing state";
	case LB_EAGAIN: return "resource temporarily unavailable";
	case LB_ENOTSUP: return "not supported";
	case LB_ETOOBIG: return "too big";
	case LB_ECANCELED: return "canceled";
	default: return "unknown error";
	}
}

#endif /* LB_ERROR_H */
