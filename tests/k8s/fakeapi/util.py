"""Small helpers shared by the fake apiserver modules: time, Status objects, errors."""

import copy
import datetime
import json
import time


def now_rfc3339():
    """metav1.Time as the apiserver writes it: UTC, second precision."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339_micro():
    """metav1.MicroTime (events.k8s.io eventTime)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(s):
    """Seconds since the epoch of an RFC 3339 timestamp, or None."""
    if not isinstance(s, str) or not s:
        return None
    try:
        v = s.replace("Z", "+00:00")
        return datetime.datetime.fromisoformat(v).timestamp()
    except ValueError:
        return None


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration, as kubectl shows AGE."""
    seconds = int(seconds)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return "%ds" % seconds
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return "%dm" % minutes if s == 0 else "%dm%ds" % (minutes, s)
    if minutes < 60 * 3:
        return "%dm" % minutes
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return "%dh" % hours if m == 0 else "%dh%dm" % (hours, m)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        h = hours % 24
        return "%dd" % (hours // 24) if h == 0 else "%dd%dh" % (hours // 24, h)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        y = hours // 24 // 365
        return "%dy" % y if dy == 0 else "%dy%dd" % (y, dy)
    return "%dy" % (hours // 24 // 365)


def age_since(ts):
    t = parse_time(ts)
    if t is None:
        return "<unknown>"
    return human_duration(time.time() - t)


def deepcopy(obj):
    return copy.deepcopy(obj)


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


REASON_FOR_CODE = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def status_obj(code, message, reason=None, details=None):
    """A metav1.Status with status Failure (or Success for 2xx)."""
    st = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if 200 <= code < 300 else "Failure",
        "message": message,
        "reason": reason if reason is not None else REASON_FOR_CODE.get(code, ""),
        "code": code,
    }
    if not message:
        del st["message"]
    if not st["reason"]:
        del st["reason"]
    if details:
        st["details"] = details
    return st


class APIError(Exception):
    """Raised anywhere in request handling; turned into a Status response."""

    def __init__(self, code, message, reason=None, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.status = status_obj(code, message, reason, details)
        self.headers = headers or {}


def not_found(rt, name):
    return APIError(404, '%s "%s" not found' % (rt.qualified_plural, name), "NotFound",
                    {"name": name, "group": rt.group, "kind": rt.plural} if rt.group
                    else {"name": name, "kind": rt.plural})


def details_for(rt, name):
    d = {"name": name, "kind": rt.plural}
    if rt.group:
        d["group"] = rt.group
    return d


def already_exists(rt, name):
    return APIError(409, '%s "%s" already exists' % (rt.qualified_plural, name),
                    "AlreadyExists", details_for(rt, name))


def conflict(rt, name, why=None):
    msg = 'Operation cannot be fulfilled on %s "%s": %s' % (
        rt.qualified_plural, name,
        why or "the object has been modified; please apply your changes to the latest "
               "version and try again")
    return APIError(409, msg, "Conflict", details_for(rt, name))


def bad_request(message):
    return APIError(400, message, "BadRequest")


def invalid(rt, name, causes):
    """causes: list of (field, message, reason) -> 422 Invalid like the apiserver."""
    parts = ["%s: %s" % (f, m) for f, m, _ in causes]
    if len(parts) == 1:
        text = parts[0]
    else:
        text = "[" + ", ".join(parts) + "]"
    msg = '%s "%s" is invalid: %s' % (rt.qualified_kind, name, text)
    det = {"name": name, "kind": rt.kind,
           "causes": [{"reason": r, "message": m, "field": f} for f, m, r in causes]}
    if rt.group:
        det["group"] = rt.group
    return APIError(422, msg, "Invalid", det)


def get_path(obj, dotted):
    """Value at a dotted path (metadata.name) in nested dicts, or None."""
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur
