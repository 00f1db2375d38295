"""Decoding of the Kubernetes protobuf request encoding, for the few kinds kubectl sends
that way: kubectl's generator commands (`kubectl create namespace`, `kubectl create
service ...`) post typed objects as application/vnd.kubernetes.protobuf. Responses are
always JSON (clients list application/json as a fallback).

Wire format: the 4 bytes "k8s\\0", then a runtime.Unknown {typeMeta=1 {apiVersion=1,
kind=2}, raw=2, contentEncoding=3, contentType=4} whose raw is the object's message.
Field numbers are those of k8s.io/api core/v1 and apimachinery meta/v1 generated.proto.
As with Go structs, zero scalars are dropped unless the Go field is a pointer (KEEP)."""

import datetime

from .util import APIError

MAGIC = b"k8s\x00"

S, I, B, M, MAP, T, IOS = "string", "int", "bool", "msg", "map", "time", "intorstr"


def F(name, kind, sub=None, rep=False, keep=False):
    return (name, kind, sub, rep, keep)


TYPEMETA = {1: F("apiVersion", S), 2: F("kind", S)}
UNKNOWN = {1: F("typeMeta", M, TYPEMETA), 2: F("raw", "bytes"), 3: F("contentEncoding", S),
           4: F("contentType", S)}
OWNERREF = {1: F("kind", S), 3: F("name", S), 4: F("uid", S), 5: F("apiVersion", S),
            6: F("controller", B, keep=True), 7: F("blockOwnerDeletion", B, keep=True)}
OBJECTMETA = {
    1: F("name", S), 2: F("generateName", S), 3: F("namespace", S), 4: F("selfLink", S),
    5: F("uid", S), 6: F("resourceVersion", S), 7: F("generation", I),
    8: F("creationTimestamp", T), 9: F("deletionTimestamp", T),
    10: F("deletionGracePeriodSeconds", I, keep=True), 11: F("labels", MAP),
    12: F("annotations", MAP), 13: F("ownerReferences", M, OWNERREF, rep=True),
    14: F("finalizers", S, rep=True),
}
CONDITION = {1: F("type", S), 2: F("status", S), 3: F("observedGeneration", I),
             4: F("lastTransitionTime", T), 5: F("reason", S), 6: F("message", S)}
SERVICEPORT = {1: F("name", S), 2: F("protocol", S), 3: F("port", I), 4: F("targetPort", IOS),
               5: F("nodePort", I), 6: F("appProtocol", S, keep=True)}
SERVICESPEC = {
    1: F("ports", M, SERVICEPORT, rep=True), 2: F("selector", MAP), 3: F("clusterIP", S),
    4: F("type", S), 5: F("externalIPs", S, rep=True), 7: F("sessionAffinity", S),
    8: F("loadBalancerIP", S), 9: F("loadBalancerSourceRanges", S, rep=True),
    10: F("externalName", S), 11: F("externalTrafficPolicy", S), 12: F("healthCheckNodePort", I),
    13: F("publishNotReadyAddresses", B),
    14: F("sessionAffinityConfig", M, {1: F("clientIP", M, {1: F("timeoutSeconds", I,
                                                                 keep=True)})}),
    17: F("ipFamilyPolicy", S, keep=True), 18: F("clusterIPs", S, rep=True),
    19: F("ipFamilies", S, rep=True), 20: F("allocateLoadBalancerNodePorts", B, keep=True),
    21: F("loadBalancerClass", S, keep=True), 22: F("internalTrafficPolicy", S, keep=True),
    23: F("trafficDistribution", S, keep=True),
}
PORTSTATUS = {1: F("port", I), 2: F("protocol", S), 3: F("error", S, keep=True)}
INGRESS = {1: F("ip", S), 2: F("hostname", S), 3: F("ipMode", S, keep=True),
           4: F("ports", M, PORTSTATUS, rep=True)}
SERVICESTATUS = {1: F("loadBalancer", M, {1: F("ingress", M, INGRESS, rep=True)}),
                 2: F("conditions", M, CONDITION, rep=True)}
SERVICE = {1: F("metadata", M, OBJECTMETA), 2: F("spec", M, SERVICESPEC),
           3: F("status", M, SERVICESTATUS)}
NAMESPACE = {1: F("metadata", M, OBJECTMETA), 2: F("spec", M, {1: F("finalizers", S, rep=True)}),
             3: F("status", M, {1: F("phase", S), 2: F("conditions", M, CONDITION, rep=True)})}

SCHEMAS = {("v1", "Service"): SERVICE, ("v1", "Namespace"): NAMESPACE}


def _bad(msg):
    return APIError(400, "the body of the request was in an unknown format: protobuf: %s" % msg,
                    "BadRequest")


def _varint(buf, i):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise _bad("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 70:
            raise _bad("varint too long")


def _fields(buf):
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = _varint(buf, i)
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise _bad("truncated field %d" % num)
            val, i = buf[i:i + n], i + n
        elif wt == 1:
            val, i = buf[i:i + 8], i + 8
        elif wt == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise _bad("unsupported wire type %d" % wt)
        yield num, wt, val


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _time(buf):
    secs = 0
    for num, _, val in _fields(buf):
        if num == 1:
            secs = _signed(val)
    if secs == 0:
        return None
    return datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _intorstr(buf):
    typ, iv, sv = 0, 0, ""
    for num, _, val in _fields(buf):
        if num == 1:
            typ = val
        elif num == 2:
            iv = _signed(val)
        elif num == 3:
            sv = val.decode()
    return sv if typ == 1 else iv


def _map_entry(buf):
    k = v = ""
    for num, _, val in _fields(buf):
        if num == 1:
            k = val.decode()
        elif num == 2:
            v = val.decode()
    return k, v


def decode_message(buf, schema):
    out = {}
    for num, wt, val in _fields(buf):
        f = schema.get(num)
        if f is None:
            continue            # unknown field: ignored, as a lenient decoder would
        name, kind, sub, rep, keep = f
        if kind == S:
            v = val.decode("utf-8")
        elif kind == "bytes":
            v = bytes(val)
        elif kind == I:
            v = _signed(val)
        elif kind == B:
            v = bool(val)
        elif kind == M:
            v = decode_message(val, sub)
        elif kind == T:
            v = _time(val)
        elif kind == IOS:
            v = _intorstr(val)
        elif kind == MAP:
            k, mv = _map_entry(val)
            out.setdefault(name, {})[k] = mv
            continue
        if rep:
            out.setdefault(name, []).append(v)
            continue
        if v is None or (not keep and kind in (S, I, B) and not v):
            out.pop(name, None)
            continue
        out[name] = v
    return out


def decode(body):
    """The object, as the JSON dict it would have been, from a protobuf request body."""
    if not body.startswith(MAGIC):
        raise _bad("missing the k8s protobuf prefix")
    unk = decode_message(body[len(MAGIC):], UNKNOWN)
    tm = unk.get("typeMeta", {})
    key = (tm.get("apiVersion", ""), tm.get("kind", ""))
    schema = SCHEMAS.get(key)
    if schema is None:
        raise APIError(415, "fake-apiserver decodes protobuf bodies only for %s; send %s/%s as "
                       "application/json" % (", ".join("%s/%s" % k for k in sorted(SCHEMAS)),
                                             key[0], key[1]), "UnsupportedMediaType")
    obj = {"apiVersion": key[0], "kind": key[1]}
    obj.update(decode_message(unk.get("raw", b""), schema))
    return obj
