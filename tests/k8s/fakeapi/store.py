"""The object store: one lock, one global resourceVersion counter, an event history
window for watches, and the registered watchers with their bounded queues."""

import base64
import collections
import copy
import json
import queue
import random
import threading
import uuid

from . import resources as R
from .util import APIError, already_exists, bad_request, conflict, not_found, now_rfc3339

BOOT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")


def expired(rv, current):
    return APIError(410, "too old resource version: %s (%s)" % (rv, current), "Expired")


class Change:
    """One entry of the history: the object after the change (for DELETED: the last state
    with the deletion's resourceVersion) and the object before (None for ADDED)."""
    __slots__ = ("rv", "type", "rt", "obj", "prev")

    def __init__(self, rv, typ, rt, obj, prev):
        self.rv, self.type, self.rt, self.obj, self.prev = rv, typ, rt, obj, prev


def _with_rv(obj, rv):
    o = copy.deepcopy(obj)
    o.setdefault("metadata", {})["resourceVersion"] = str(rv)
    return o


def filtered(change, flt):
    """(type, object) a watcher with filter flt sees for change, or None (kube's
    watch-cache rules: an object entering the selection is ADDED, leaving it DELETED)."""
    if change.type == "ADDED":
        return ("ADDED", change.obj) if flt.matches(change.obj) else None
    if change.type == "DELETED":
        return ("DELETED", change.obj) if flt.matches(change.obj) else None
    cur, old = flt.matches(change.obj), flt.matches(change.prev)
    if cur and old:
        return ("MODIFIED", change.obj)
    if cur:
        return ("ADDED", change.obj)
    if old:
        return ("DELETED", _with_rv(change.prev, change.rv))
    return None


class Watcher:
    def __init__(self, rt, flt, maxq):
        self.rt = rt
        self.filter = flt
        self.q = queue.Queue(maxq)
        self.stop_mode = None      # None, "close" (clean end) or "abort" (reset connection)
        self.overflow = False
        self.delivered_rv = 0

    def offer(self, change):
        if self.stop_mode or self.overflow:
            return
        ev = filtered(change, self.filter)
        if ev is None:
            return
        try:
            self.q.put_nowait(ev)
        except queue.Full:
            self.overflow = True   # the handler ends the watch once it drained the queue

    def stop(self, mode="close"):
        self.stop_mode = mode
        try:
            self.q.put_nowait(None)
        except queue.Full:
            pass


class Store:
    def __init__(self, history=1000, auto_namespaces=True, watch_queue=1000):
        self.lock = threading.RLock()
        self.rv = 0
        self.history_max = history
        self.auto_namespaces = auto_namespaces
        self.watch_queue = watch_queue
        self.watchers = set()
        self._init()

    def _init(self):
        self.objs = {rt.key: {} for rt in R.ALL}
        self.history = collections.deque()
        self.compacted_rv = self.rv
        for ns in BOOT_NAMESPACES:
            self._create(R.NAMESPACES, None, {"metadata": {"name": ns}})

    # ------------------------------------------------------------ internals

    def _next_rv(self):
        self.rv += 1
        return self.rv

    def _emit(self, typ, rt, obj, prev):
        ch = Change(self.rv, typ, rt, obj, prev)
        self.history.append(ch)
        while len(self.history) > self.history_max:
            old = self.history.popleft()
            self.compacted_rv = max(self.compacted_rv, old.rv)
        for w in list(self.watchers):
            if w.rt is rt:
                w.offer(ch)

    def _table(self, rt):
        return self.objs[rt.key]

    @staticmethod
    def _key(rt, ns, name):
        return (ns if rt.namespaced else "", name)

    def _ensure_namespace(self, ns):
        if not ns or ("", ns) in self._table(R.NAMESPACES):
            return
        if not self.auto_namespaces:
            raise not_found(R.NAMESPACES, ns)
        self._create(R.NAMESPACES, None, {"metadata": {"name": ns}})

    # allocators used by resources.ServiceType
    def _svc_items(self, exclude):
        ex = None
        if exclude is not None:
            md = exclude.get("metadata") or {}
            ex = (md.get("namespace", ""), md.get("name", ""))
        for k, svc in self._table(R.SERVICES).items():
            if k != ex:
                yield svc

    def used_cluster_ips(self, exclude=None):
        used = set()
        for svc in self._svc_items(exclude):
            for ip in (svc.get("spec") or {}).get("clusterIPs") or []:
                if ip != "None":
                    used.add(ip)
        return used

    def used_node_ports(self, exclude=None):
        used = set()
        for svc in self._svc_items(exclude):
            spec = svc.get("spec") or {}
            for p in spec.get("ports") or []:
                if p.get("nodePort"):
                    used.add(p["nodePort"])
            if spec.get("healthCheckNodePort"):
                used.add(spec["healthCheckNodePort"])
        return used

    @staticmethod
    def alloc_cluster_ip(family, used):
        net = R.SERVICE_V6_NET if family == "IPv6" else R.SERVICE_V4_NET
        last = 254 if family == "IPv4" else 65535
        for i in range(1, last + 1):
            ip = str(net.network_address + i)
            if ip not in used:
                return ip
        raise APIError(500, "failed to allocate a serviceIP: range is full", "InternalError")

    @staticmethod
    def alloc_node_port(used):
        for p in range(R.NODE_PORT_RANGE[0], R.NODE_PORT_RANGE[1] + 1):
            if p not in used:
                return p
        raise APIError(500, "failed to allocate a nodePort: range is full", "InternalError")

    # ------------------------------------------------------------ create

    def _create(self, rt, ns, obj, dry_run=False):
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was in an unknown format")
        obj = copy.deepcopy(obj)
        md = obj.get("metadata")
        if md is None:
            md = obj["metadata"] = {}
        if not isinstance(md, dict):
            raise bad_request("metadata must be an object")
        if rt.namespaced:
            bns = md.get("namespace")
            if bns and ns and bns != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            ns = ns or bns or "default"
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        if md.get("resourceVersion"):
            raise APIError(500, "resourceVersion should not be set on objects to be created",
                           "InternalError")
        if not md.get("name"):
            gen = md.get("generateName")
            if not gen:
                raise APIError(422, '%s "" is invalid: metadata.name: Required value: name or '
                               "generateName is required" % rt.qualified_kind, "Invalid",
                               {"kind": rt.kind, "causes": [{
                                   "reason": "FieldValueRequired",
                                   "message": "Required value: name or generateName is required",
                                   "field": "metadata.name"}]})
            alphabet = "bcdfghjklmnpqrstvwxz2456789"
            for _ in range(100):
                name = gen + "".join(random.choice(alphabet) for _ in range(5))
                if self._key(rt, ns, name) not in self._table(rt):
                    break
            md["name"] = name
        name = md["name"]
        obj["kind"] = rt.kind
        obj["apiVersion"] = rt.api_version
        key = self._key(rt, ns, name)
        if key in self._table(rt):
            raise already_exists(rt, name)
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                  "managedFields", "selfLink"):
            md.pop(k, None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_rfc3339()
        rt.prepare_create(obj, self)
        rt.check(obj)
        obj = self._order(obj)
        if dry_run:
            return obj
        if rt.namespaced:
            self._ensure_namespace(ns)
        md = obj["metadata"]
        md["resourceVersion"] = str(self._next_rv())
        self._table(rt)[key] = obj
        self._emit("ADDED", rt, obj, None)
        return obj

    @staticmethod
    def _order(obj):
        """kind, apiVersion, metadata, everything else, status: the apiserver's order."""
        out = {"kind": obj["kind"], "apiVersion": obj["apiVersion"], "metadata": obj["metadata"]}
        md = obj["metadata"]
        mdo = {}
        for k in ("name", "generateName", "namespace", "uid", "resourceVersion", "generation",
                  "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if k in md:
                mdo[k] = md[k]
        for k, v in md.items():
            if k not in mdo:
                mdo[k] = v
        out["metadata"] = mdo
        for k, v in obj.items():
            if k not in out and k != "status":
                out[k] = v
        if "status" in obj:
            out["status"] = obj["status"]
        return out

    def create(self, rt, ns, obj, dry_run=False):
        with self.lock:
            return copy.deepcopy(self._create(rt, ns, obj, dry_run))

    # ------------------------------------------------------------ read

    def get(self, rt, ns, name):
        with self.lock:
            obj = self._table(rt).get(self._key(rt, ns, name))
            if obj is None:
                raise not_found(rt, name)
            return copy.deepcopy(obj)

    def list(self, rt, flt, limit=0, cont=None):
        """(items, list resourceVersion, continue token, remaining count)."""
        with self.lock:
            list_rv = self.rv
            start = None
            if cont:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
                    list_rv, start = int(tok["rv"]), tuple(tok["start"])
                except (ValueError, KeyError, TypeError):
                    raise bad_request("continue key is not valid: incorrect encoded start "
                                      "resourceVersion (version meta.k8s.io/v1)")
                if list_rv < self.compacted_rv:
                    raise APIError(410, "The provided continue parameter is too old to display a "
                                   "consistent list result. You can start a new list without "
                                   "the continue parameter, or use the continue token in this "
                                   "response to retrieve the remainder of the results. "
                                   "Continuing with the provided token results in an "
                                   "inconsistent list - objects that were created, modified, or "
                                   "deleted between the time the first chunk was returned and "
                                   "now may show up in the list.", "Expired")
            items = []
            for key in sorted(self._table(rt)):
                if start is not None and key <= start:
                    continue
                obj = self._table(rt)[key]
                if flt.matches(obj):
                    items.append((key, obj))
            token, remaining = None, None
            if limit and len(items) > limit:
                remaining = len(items) - limit
                items = items[:limit]
                raw = json.dumps({"rv": list_rv, "start": list(items[-1][0])}).encode()
                token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
            return [copy.deepcopy(o) for _, o in items], list_rv, token, remaining

    # ------------------------------------------------------------ update

    def update(self, rt, ns, name, new, subresource=None, dry_run=False, patch_fn=None):
        """PUT (new given) or PATCH (patch_fn(current copy) -> new). Returns (obj, created)."""
        with self.lock:
            key = self._key(rt, ns, name)
            old = self._table(rt).get(key)
            if patch_fn is not None:
                if old is None:
                    raise not_found(rt, name)
                new = patch_fn(copy.deepcopy(old))
            if not isinstance(new, dict):
                raise bad_request("the body of the request was in an unknown format")
            new = copy.deepcopy(new)
            md = new.get("metadata")
            if not isinstance(md, dict):
                md = new["metadata"] = {}
            if md.get("name", name) != name:
                raise bad_request("the name of the object (%s) does not match the name on the "
                                  "URL (%s)" % (md.get("name"), name))
            if rt.namespaced and md.get("namespace") and md["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            for k, want in (("kind", rt.kind), ("apiVersion", rt.api_version)):
                if new.get(k) not in (None, "", want):
                    raise bad_request("%s in body (%s) does not match the expected %s (%s)"
                                      % (k, new.get(k), k, want))
            if old is None:
                if subresource or not rt.create_on_update:
                    raise not_found(rt, name)
                md.pop("resourceVersion", None)
                md["name"] = name
                return copy.deepcopy(self._create(rt, ns, new, dry_run)), True
            rv = md.get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name)
            if md.get("uid") and md["uid"] != old["metadata"].get("uid"):
                raise APIError(409, "Precondition failed: UID in precondition: %s, UID in object "
                               "meta: %s" % (md["uid"], old["metadata"].get("uid")), "Conflict")
            new["kind"], new["apiVersion"] = rt.kind, rt.api_version
            if subresource == "status":
                merged = copy.deepcopy(old)
                merged["status"] = new.get("status")
                new = merged
                rt.prepare_status_update(new, old, self)
            else:
                omd = old["metadata"]
                for k in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generation"):
                    if k in omd:
                        md[k] = omd[k]
                    else:
                        md.pop(k, None)
                if omd.get("deletionTimestamp"):
                    # no new finalizers on an object being deleted
                    md["finalizers"] = [f for f in md.get("finalizers") or []
                                        if f in (omd.get("finalizers") or [])]
                    if not md["finalizers"]:
                        del md["finalizers"]
                if rt.status_subresource:
                    new["status"] = copy.deepcopy(old.get("status"))
                    if new["status"] is None:
                        del new["status"]
                rt.prepare_update(new, old, self)
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            rt.check(new, old)
            new = self._order(new)
            if new == old:
                return copy.deepcopy(old), False          # no-op: no new rv, no event
            if dry_run:
                return new, False
            if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
                new["metadata"]["resourceVersion"] = str(self._next_rv())
                del self._table(rt)[key]
                self._emit("DELETED", rt, new, old)
                return copy.deepcopy(new), False
            new["metadata"]["resourceVersion"] = str(self._next_rv())
            self._table(rt)[key] = new
            self._emit("MODIFIED", rt, new, old)
            return copy.deepcopy(new), False

    # ------------------------------------------------------------ delete

    def _delete_now(self, rt, key, old):
        gone = _with_rv(old, self._next_rv())
        del self._table(rt)[key]
        self._emit("DELETED", rt, gone, old)
        return gone

    def delete(self, rt, ns, name, options=None, dry_run=False):
        """Returns (object, deleted_now)."""
        options = options or {}
        with self.lock:
            key = self._key(rt, ns, name)
            old = self._table(rt).get(key)
            if old is None:
                raise not_found(rt, name)
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
                raise APIError(409, "Precondition failed: UID in precondition: %s, UID in object "
                               "meta: %s" % (pre["uid"], old["metadata"].get("uid")), "Conflict")
            if pre.get("resourceVersion") and pre["resourceVersion"] != \
                    old["metadata"]["resourceVersion"]:
                raise APIError(409, "Precondition failed: ResourceVersion in precondition: %s, "
                               "ResourceVersion in object meta: %s"
                               % (pre["resourceVersion"], old["metadata"]["resourceVersion"]),
                               "Conflict")
            if rt is R.NAMESPACES and name in PROTECTED_NAMESPACES:
                raise APIError(403, 'namespaces "%s" is forbidden: this namespace may not be '
                               "deleted" % name, "Forbidden",
                               {"name": name, "kind": "namespaces"})
            if dry_run:
                return copy.deepcopy(old), True
            if old["metadata"].get("finalizers"):
                if old["metadata"].get("deletionTimestamp"):
                    return copy.deepcopy(old), False
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                new = self._order(new)
                new["metadata"]["resourceVersion"] = str(self._next_rv())
                self._table(rt)[key] = new
                self._emit("MODIFIED", rt, new, old)
                return copy.deepcopy(new), False
            if rt is R.NAMESPACES:
                for ort in R.ALL:
                    if not ort.namespaced:
                        continue
                    for okey in sorted(k for k in self._table(ort) if k[0] == name):
                        self._delete_now(ort, okey, self._table(ort)[okey])
            return copy.deepcopy(self._delete_now(rt, key, old)), True

    def delete_collection(self, rt, flt, dry_run=False):
        with self.lock:
            items, _, _, _ = self.list(rt, flt)
            for obj in items:
                md = obj["metadata"]
                try:
                    self.delete(rt, md.get("namespace", ""), md["name"], dry_run=dry_run)
                except APIError:
                    pass
            return items, self.rv

    # ------------------------------------------------------------ watch

    def start_watch(self, rt, flt, rv, send_initial=False):
        """Register a watcher. Returns (watcher, initial events). rv: None, "", "0" or a
        number; with send_initial (or rv unset/"0") the current objects come as ADDED."""
        with self.lock:
            initial = []
            if send_initial or rv in (None, "", "0"):
                for key in sorted(self._table(rt)):
                    obj = self._table(rt)[key]
                    if flt.matches(obj):
                        initial.append(("ADDED", obj))
            else:
                try:
                    n = int(rv)
                except ValueError:
                    raise bad_request("invalid resource version: %s" % rv)
                if n < self.compacted_rv:
                    raise expired(rv, self.rv)
                for ch in self.history:
                    if ch.rv > n and ch.rt is rt:
                        ev = filtered(ch, flt)
                        if ev is not None:
                            initial.append(ev)
            w = Watcher(rt, flt, self.watch_queue)
            w.start_rv = self.rv
            self.watchers.add(w)
            return w, initial

    def stop_watch(self, w):
        with self.lock:
            self.watchers.discard(w)

    def progress_rv(self, w):
        """The rv a bookmark may carry: everything up to it was delivered (None if events
        are still queued)."""
        with self.lock:
            if w.q.empty():
                return self.rv
            return None

    # ------------------------------------------------------------ faults / control

    def compact(self):
        with self.lock:
            self.history.clear()
            self.compacted_rv = self.rv
            return self.rv

    def drop_watches(self, mode="close"):
        with self.lock:
            ws = list(self.watchers)
            for w in ws:
                w.stop(mode)
            return len(ws)

    def reset(self):
        with self.lock:
            self.drop_watches("close")
            self._init()
            self.compact()

    def dump(self):
        with self.lock:
            out = {}
            for rt in R.ALL:
                out[rt.qualified_plural] = [copy.deepcopy(self._table(rt)[k])
                                            for k in sorted(self._table(rt))]
            return {"resourceVersion": str(self.rv),
                    "compactedResourceVersion": str(self.compacted_rv),
                    "historySize": len(self.history),
                    "watches": len(self.watchers),
                    "objects": out}
