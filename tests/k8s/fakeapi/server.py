"""HTTP front of the fake apiserver: routing, content negotiation (JSON, Table,
PartialObjectMetadata), watches over chunked responses, the /fake/* control endpoints
and fault injection."""

import argparse
import collections
import json
import os
import queue
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import protobuf
from . import resources as R
from .patch import json_merge_patch, json_patch, strategic_merge_patch
from .selectors import Filter
from .store import Store, expired
from .util import APIError, bad_request, dumps, status_obj

VERSION = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0-fake",
    "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4", "compiler": "gc",
    "platform": "linux/amd64",
}
MAX_BODY = 3 * 1024 * 1024
OPENAPI_HASH = "FAKE0000000000000000000000000000000000000000000000000000000000000001"
JSON = "application/json"


# ---------------------------------------------------------------------- faults

class Faults:
    def __init__(self, expired_mode="http"):
        self.lock = threading.Lock()
        self.expired_mode = expired_mode
        self.default_expired_mode = expired_mode
        self.clear()

    def clear(self):
        with self.lock:
            self.watch_410 = 0
            self.watch_error_410 = 0
            self.watch_error = 0        # next N watches: an ERROR event (watch_error_code), end
            self.watch_error_code = 500
            self.watch_empty = 0        # next N watches: 200, end at once without an event
            self.fail = []      # {"count", "code", "path_prefix", "methods", "message", "retry_after"}
            self.delay = []     # {"count" (None: forever), "ms", "path_prefix", "methods"}
            self.expired_mode = self.default_expired_mode

    def state(self):
        with self.lock:
            return {"watch_410": self.watch_410, "watch_error_410": self.watch_error_410,
                    "watch_error": self.watch_error, "watch_error_code": self.watch_error_code,
                    "watch_empty": self.watch_empty,
                    "fail": [dict(r) for r in self.fail], "delay": [dict(r) for r in self.delay],
                    "expired_mode": self.expired_mode}

    @staticmethod
    def _match(rule, method, path):
        if not path.startswith(rule.get("path_prefix") or "/"):
            return False
        ms = rule.get("methods")
        return not ms or method in ms

    def take_fail(self, method, path):
        with self.lock:
            for r in self.fail:
                if r["count"] > 0 and self._match(r, method, path):
                    r["count"] -= 1
                    rule = dict(r)
                    self.fail = [x for x in self.fail if x["count"] > 0]
                    return rule
        return None

    def take_delay(self, method, path):
        with self.lock:
            for r in self.delay:
                if (r["count"] is None or r["count"] > 0) and self._match(r, method, path):
                    if r["count"] is not None:
                        r["count"] -= 1
                    ms = r["ms"]
                    self.delay = [x for x in self.delay if x["count"] is None or x["count"] > 0]
                    return ms / 1000.0
        return 0

    def take_watch_expiry(self):
        """'http' / 'event' when an injected 410 is due for this watch, else None."""
        with self.lock:
            if self.watch_410 > 0:
                self.watch_410 -= 1
                return "http"
            if self.watch_error_410 > 0:
                self.watch_error_410 -= 1
                return "event"
            if self.watch_error > 0:
                self.watch_error -= 1
                return "error"
            if self.watch_empty > 0:
                self.watch_empty -= 1
                return "empty"
        return None


def _methods(v):
    if v is None:
        return None
    if isinstance(v, str):
        v = [v]
    return [str(m).upper() for m in v]


# ---------------------------------------------------------------------- app state

class App:
    def __init__(self, args):
        self.args = args
        self.verbose = args.verbose
        self.store = Store(history=args.history, auto_namespaces=not args.strict_namespaces,
                           watch_queue=args.watch_queue)
        self.faults = Faults(args.expired_mode)
        self.bookmark_interval = args.bookmark_interval
        self.watch_timeout = args.watch_timeout
        self.stopping = threading.Event()
        self.watch_cv = threading.Condition()
        self.active_watches = 0
        self.requests = collections.deque(maxlen=2000)
        self.req_lock = threading.Lock()

    def log(self, msg):
        sys.stderr.write("fake-apiserver: %s\n" % msg)
        sys.stderr.flush()


# ---------------------------------------------------------------------- content negotiation

def _media_types(accept):
    out = []
    for part in (accept or "").split(","):
        part = part.strip()
        if not part:
            continue
        bits = [b.strip() for b in part.split(";")]
        params = {}
        for b in bits[1:]:
            if "=" in b:
                k, v = b.split("=", 1)
                params[k.strip()] = v.strip()
        out.append((bits[0].lower(), params))
    return out


def negotiate(accept):
    """('json', None) | ('Table', 'v1') | ('PartialObjectMetadata', 'v1') |
    ('PartialObjectMetadataList', 'v1'); None when nothing acceptable."""
    mts = _media_types(accept)
    if not mts:
        return ("json", None)
    for mt, p in mts:
        if mt in ("application/json", "*/*", "application/*"):
            if "as" in p:
                if p.get("g") == "meta.k8s.io" and p.get("v") in ("v1", "v1beta1") and \
                        p["as"] in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
                    return (p["as"], p["v"])
                continue
            return ("json", None)
    return None


# ---------------------------------------------------------------------- the handler

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver/1.32"
    sys_version = ""

    app = None   # set on the subclass made by make_server
    timeout = 300  # idle keep-alive connections and stuck writes give up after this

    def log_message(self, fmt, *args):
        pass

    def log_error(self, fmt, *args):
        if self.app.verbose:
            self.app.log("%s - %s" % (self.address_string(), fmt % args))

    def send_response(self, code, message=None):
        self._code = code
        super().send_response(code, message)
        if self.path.startswith("/fake/"):
            return
        with self.app.req_lock:
            self.app.requests.append({
                "time": time.time(), "method": self.command, "path": self.path, "code": code,
                "contentType": self.headers.get("Content-Type", ""),
                "accept": self.headers.get("Accept", ""),
                "userAgent": self.headers.get("User-Agent", ""),
                "client": "%s:%d" % self.client_address[:2],
            })

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_HEAD(self):
        self._handle("HEAD")

    # -------------------------------------------------------------- plumbing

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            data = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data += self.rfile.read(size)
                self.rfile.readline(65537)
                if len(data) > MAX_BODY:
                    raise APIError(413, "Request entity too large: limit is 3145728")
            return bytes(data)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            self.close_connection = True
            raise APIError(413, "Request entity too large: limit is 3145728")
        return self.rfile.read(n) if n else b""

    def _send(self, code, body, ctype=JSON, headers=None):
        if isinstance(body, (dict, list)):
            body = (dumps(body) + "\n").encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_error(self, e):
        self._send(e.code, e.status, JSON, e.headers)

    def _handle(self, method):
        self._code = 0
        self._body = b""
        t0 = time.time()
        url = urlsplit(self.path)
        path = url.path
        self.q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            body = self._body = self._read_body()
            if path.startswith("/fake/") or path == "/fake":
                self._control(method, path, body)
            else:
                d = self.app.faults.take_delay(method, path)
                if d:
                    time.sleep(d)
                rule = self.app.faults.take_fail(method, path)
                if rule:
                    code = int(rule.get("code") or 500)
                    hdr = {}
                    if rule.get("retry_after") is not None:
                        hdr["Retry-After"] = str(rule["retry_after"])
                    raise APIError(code, rule.get("message") or
                                   "fake-apiserver: injected fault (%d)" % code, headers=hdr)
                self._route(method, path, body)
        except APIError as e:
            self._send_error(e)
        except OSError:
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - becomes a 500 like the apiserver's panic filter
            traceback.print_exc()
            try:
                self._send_error(APIError(500, "fake-apiserver internal error: %r" % (e,)))
            except OSError:
                self.close_connection = True
        if self.app.verbose:
            self.app.log("%s %s -> %s (%.1f ms) %s" % (
                method, self.path, self._code, (time.time() - t0) * 1000,
                self.headers.get("Content-Type", "") if method in ("POST", "PUT", "PATCH") else ""))
            if self.app.verbose > 1 and self._body:
                self.app.log("  body: %s" % self._body[:4000].decode("utf-8", "replace"))

    # -------------------------------------------------------------- control endpoints

    def _control(self, method, path, body):
        app = self.app
        if path == "/fake/state" and method == "GET":
            st = app.store.dump()
            st["faults"] = app.faults.state()
            return self._send(200, st)
        if path == "/fake/reset" and method == "POST":
            app.store.reset()
            app.faults.clear()
            with app.req_lock:
                app.requests.clear()
            return self._send(200, {"reset": True, "resourceVersion": str(app.store.rv)})
        if path == "/fake/requests":
            if method == "GET":
                with app.req_lock:
                    reqs = list(app.requests)
                return self._send(200, {"requests": reqs})
            if method == "DELETE":
                with app.req_lock:
                    app.requests.clear()
                return self._send(200, {"cleared": True})
        if path == "/fake/faults":
            if method == "GET":
                return self._send(200, app.faults.state())
            if method == "DELETE":
                app.faults.clear()
                return self._send(200, app.faults.state())
            if method == "POST":
                try:
                    req = json.loads(body or b"{}")
                except ValueError as e:
                    raise bad_request("invalid JSON: %s" % e)
                if not isinstance(req, dict):
                    raise bad_request("faults: expected a JSON object")
                return self._send(200, self._apply_faults(req))
        raise APIError(404, "fake control endpoint not found: %s %s" % (method, path))

    def _apply_faults(self, req):
        app, f = self.app, self.app.faults
        done = {}
        known = {"drop_watches", "watch_410", "watch_error_410", "watch_error", "watch_error_code",
                 "watch_empty", "fail_500", "fail", "code",
                 "path_prefix", "method", "methods", "message", "retry_after", "compact",
                 "expired_mode", "delay_ms", "delay_count", "bookmark_interval", "clear"}
        unknown = sorted(set(req) - known)
        if unknown:
            raise bad_request("faults: unknown keys %s" % ", ".join(unknown))
        if req.get("clear"):
            f.clear()
            done["clear"] = True
        with f.lock:
            if "watch_410" in req:
                f.watch_410 = int(req["watch_410"])
                done["watch_410"] = f.watch_410
            if "watch_error_410" in req:
                f.watch_error_410 = int(req["watch_error_410"])
                done["watch_error_410"] = f.watch_error_410
            for k in ("watch_error", "watch_error_code", "watch_empty"):
                if k in req:
                    setattr(f, k, int(req[k]))
                    done[k] = getattr(f, k)
            n = req.get("fail_500", req.get("fail"))
            if n is not None:
                rule = {"count": int(n),
                        "code": int(req.get("code") or 500),
                        "path_prefix": req.get("path_prefix") or "/",
                        "methods": _methods(req.get("methods", req.get("method"))),
                        "message": req.get("message"),
                        "retry_after": req.get("retry_after")}
                f.fail.append(rule)
                done["fail"] = rule
            if "delay_ms" in req:
                rule = {"count": None if req.get("delay_count") is None else int(req["delay_count"]),
                        "ms": float(req["delay_ms"]),
                        "path_prefix": req.get("path_prefix") or "/",
                        "methods": _methods(req.get("methods", req.get("method")))}
                f.delay.append(rule)
                done["delay"] = rule
            if "expired_mode" in req:
                if req["expired_mode"] not in ("http", "event"):
                    raise bad_request("expired_mode: 'http' or 'event'")
                f.expired_mode = req["expired_mode"]
                done["expired_mode"] = f.expired_mode
        if "bookmark_interval" in req:
            app.bookmark_interval = float(req["bookmark_interval"])
            done["bookmark_interval"] = app.bookmark_interval
        if req.get("compact"):
            done["compacted_at"] = str(app.store.compact())
        if req.get("drop_watches"):
            mode = "abort" if req["drop_watches"] == "abort" else "close"
            done["dropped_watches"] = app.store.drop_watches(mode)
        return {"applied": done, "faults": f.state(), "resourceVersion": str(app.store.rv)}

    # -------------------------------------------------------------- routing

    def _route(self, method, path, body):
        segs = [s for s in path.split("/") if s]
        if path in ("/healthz", "/livez", "/readyz") or \
                (segs and segs[0] in ("healthz", "livez", "readyz")):
            return self._send(200, "ok", "text/plain; charset=utf-8")
        if path == "/version" or path == "/version/":
            return self._send(200, VERSION)
        if segs[:2] == ["openapi", "v3"] and not self.app.args.no_openapi and method == "GET":
            return self._openapi_v3("/".join(segs[2:]))
        if not segs or segs[0] not in ("api", "apis"):
            return self._send(404, "404 page not found\n", "text/plain; charset=utf-8")
        if method not in ("GET", "HEAD") and len(segs) <= (2 if segs[0] == "api" else 3):
            raise APIError(405, "the server does not allow this method on the requested "
                           "resource")
        if segs[0] == "api":
            if len(segs) == 1:
                return self._discovery({
                    "kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                    "serverAddress": self._server_address()}]})
            if segs[1] != "v1":
                raise _not_found_path()
            group, version, rest = "", "v1", segs[2:]
        else:
            if len(segs) == 1:
                return self._discovery({"kind": "APIGroupList", "apiVersion": "v1",
                                        "groups": [self._group(g) for g in R.GROUP_ORDER]})
            group = segs[1]
            if group not in R.GROUPS or group == "":
                raise _not_found_path()
            if len(segs) == 2:
                g = self._group(group)
                g["kind"], g["apiVersion"] = "APIGroup", "v1"
                return self._discovery(g)
            version = segs[2]
            if version not in R.GROUPS[group]:
                raise _not_found_path()
            rest = segs[3:]
        if not rest:
            gv = version if not group else "%s/%s" % (group, version)
            res = []
            for rt in R.GROUPS[group][version].values():
                res.extend(rt.discovery())
            return self._discovery({"kind": "APIResourceList", "apiVersion": "v1",
                                    "groupVersion": gv, "resources": res})
        watch_path = False
        if rest[0] == "watch":
            watch_path, rest = True, rest[1:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            rt = R.lookup(group, version, rest[2])
            if rt is not None and rt.namespaced:
                ns, rest = rest[1], rest[2:]
        if not rest:
            raise _not_found_path()
        rt = R.lookup(group, version, rest[0])
        if rt is None or len(rest) > 3:
            raise _not_found_path()
        name = rest[1] if len(rest) >= 2 else None
        sub = rest[2] if len(rest) == 3 else None
        if rt.namespaced and ns is None and name is not None:
            raise _not_found_path()
        if sub is not None and not (sub == "status" and rt.status_subresource):
            raise _not_found_path()
        if watch_path:
            if method != "GET":
                raise APIError(405, "the server does not allow this method on the requested "
                               "resource")
            self.q["watch"] = "true"
            if name is not None:
                self.q["fieldSelector"] = "metadata.name=" + name
            return self._watch(rt, ns)
        if name is None:
            if method in ("GET", "HEAD"):
                if self.q.get("watch") in ("1", "true", "True"):
                    return self._watch(rt, ns)
                return self._list(rt, ns)
            if method == "POST":
                if rt.namespaced and ns is None:
                    raise APIError(405, "the server does not allow this method on the requested "
                                   "resource")
                return self._create(rt, ns, body)
            if method == "DELETE":
                return self._delete_collection(rt, ns)
            raise APIError(405, "the server does not allow this method on the requested resource")
        if method in ("GET", "HEAD") and sub is None and \
                self.q.get("watch") in ("1", "true", "True"):
            fs = self.q.get("fieldSelector")
            self.q["fieldSelector"] = "metadata.name=" + name + ("," + fs if fs else "")
            return self._watch(rt, ns)
        if method in ("GET", "HEAD"):
            obj = self.app.store.get(rt, ns, name)
            return self._send_obj(rt, obj, 200)
        if method == "PUT":
            return self._update(rt, ns, name, sub, body)
        if method == "PATCH":
            return self._patch(rt, ns, name, sub, body)
        if method == "DELETE" and sub is None:
            return self._delete(rt, ns, name, body)
        raise APIError(405, "the server does not allow this method on the requested resource")

    def _openapi_v3(self, gvpath):
        """A minimal OpenAPI v3 tree: per group/version, only the PATCH operations of the
        served kinds, declaring the fieldValidation query parameter. That is what kubectl
        checks before leaving validation to the server (so `kubectl apply` works without
        --validate=false); no schemas are served, so kubectl builds apply patches from its
        compiled-in types, as it does without OpenAPI."""
        gvs = {}
        for g, versions in R.GROUPS.items():
            for v in versions:
                gvs["api/" + v if not g else "apis/%s/%s" % (g, v)] = (g, v)
        if not gvpath:
            return self._send(200, {"paths": {p: {"serverRelativeURL": "/openapi/v3/%s?hash=%s"
                                                  % (p, OPENAPI_HASH)} for p in sorted(gvs)}})
        if gvpath not in gvs:
            return self._send(404, "404 page not found\n", "text/plain; charset=utf-8")
        g, v = gvs[gvpath]
        paths = {}
        for rt in R.GROUPS[g][v].values():
            base = "/" + gvpath + ("/namespaces/{namespace}" if rt.namespaced else "")
            gvk = {"group": g, "version": v, "kind": rt.kind}
            params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"},
                       "description": "accepted; unknown fields are not detected by the fake"}]
            ops = {"patch": {"operationId": "patch" + rt.kind, "parameters": params,
                             "x-kubernetes-action": "patch",
                             "x-kubernetes-group-version-kind": gvk,
                             "responses": {"200": {"description": "OK"}}}}
            paths["%s/%s/{name}" % (base, rt.plural)] = ops
            if rt.status_subresource:
                paths["%s/%s/{name}/status" % (base, rt.plural)] = ops
        return self._send(200, {"openapi": "3.0.0",
                                "info": {"title": "Kubernetes (fake-apiserver)",
                                         "version": VERSION["gitVersion"]},
                                "paths": paths})

    def _server_address(self):
        host, port = self.server.server_address[:2]
        return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)

    @staticmethod
    def _group(g):
        vs = sorted(R.GROUPS[g])
        gv = [{"groupVersion": "%s/%s" % (g, v), "version": v} for v in vs]
        return {"name": g, "versions": gv, "preferredVersion": gv[0]}

    def _discovery(self, doc):
        # Aggregated discovery (as=APIGroupDiscoveryList) is not served: answering the legacy
        # documents with a plain application/json Content-Type makes clients fall back.
        mts = _media_types(self.headers.get("Accept"))
        if mts and not any(mt in ("application/json", "*/*", "application/*") and "as" not in p
                           for mt, p in mts):
            raise APIError(406, "only application/json is served for discovery")
        return self._send(200, doc)

    # -------------------------------------------------------------- bodies and output

    def _json_body(self, body):
        ct = (self.headers.get("Content-Type") or JSON).split(";")[0].strip().lower()
        if ct == "application/vnd.kubernetes.protobuf":
            return protobuf.decode(body)
        if ct not in (JSON, "*/*", ""):
            raise APIError(415, 'the body of the request was in an unknown format - accepted '
                           'media types include: application/json', "UnsupportedMediaType")
        try:
            return json.loads(body or b"null")
        except ValueError as e:
            raise bad_request("the body of the request was in an unknown format: %s" % e)

    def _dry_run(self):
        v = self.q.get("dryRun")
        if v and v != "All":
            raise bad_request('dryRun: Unsupported value: "%s": supported values: "All"' % v)
        return v == "All"

    def _accept(self):
        neg = negotiate(self.headers.get("Accept"))
        if neg is None:
            raise APIError(406, "only the following media types are accepted: application/json, "
                           "application/json;as=Table;v=v1;g=meta.k8s.io", "NotAcceptable")
        return neg

    @staticmethod
    def _row_object(obj, include):
        if include == "None":
            return None
        if include == "Object":
            return obj
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata", {})}

    def _table(self, rt, objs, version, md):
        include = self.q.get("includeObject") or "Metadata"
        if include not in ("None", "Metadata", "Object"):
            raise bad_request('includeObject: Unsupported value: "%s"' % include)
        rows = []
        for o in objs:
            row = {"cells": rt.cells(o)}
            ro = self._row_object(o, include)
            if ro is not None:
                row["object"] = ro
            rows.append(row)
        return {"kind": "Table", "apiVersion": "meta.k8s.io/" + version, "metadata": md,
                "columnDefinitions": rt.columns(), "rows": rows}

    @staticmethod
    def _ctype(neg):
        kind, v = neg
        if kind == "json":
            return JSON
        return "application/json;as=%s;v=%s;g=meta.k8s.io" % (kind, v)

    def _send_obj(self, rt, obj, code):
        neg = self._accept()
        if neg[0] == "Table":
            return self._send(code, self._table(rt, [obj], neg[1], {
                "resourceVersion": obj["metadata"].get("resourceVersion", "")}), self._ctype(neg))
        if neg[0] == "PartialObjectMetadata":
            return self._send(code, {"kind": "PartialObjectMetadata",
                                     "apiVersion": "meta.k8s.io/" + neg[1],
                                     "metadata": obj["metadata"]}, self._ctype(neg))
        return self._send(code, obj)

    def _filter(self, ns):
        return Filter(ns, self.q.get("labelSelector"), self.q.get("fieldSelector"))

    # -------------------------------------------------------------- verbs

    def _list(self, rt, ns):
        neg = self._accept()
        limit = 0
        if self.q.get("limit"):
            try:
                limit = max(0, int(self.q["limit"]))
            except ValueError:
                raise bad_request("limit: invalid value %r" % self.q["limit"])
        items, rv, cont, remaining = self.app.store.list(rt, self._filter(ns), limit,
                                                         self.q.get("continue"))
        md = {"resourceVersion": str(rv)}
        if cont:
            md["continue"] = cont
            md["remainingItemCount"] = remaining
        if neg[0] == "Table":
            return self._send(200, self._table(rt, items, neg[1], md), self._ctype(neg))
        if neg[0] in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return self._send(200, {
                "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/" + neg[1],
                "metadata": md,
                "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/" + neg[1],
                           "metadata": o["metadata"]} for o in items]},
                "application/json;as=PartialObjectMetadataList;v=%s;g=meta.k8s.io" % neg[1])
        for o in items:      # the apiserver leaves kind/apiVersion out of list items
            o.pop("kind", None)
            o.pop("apiVersion", None)
        return self._send(200, {"kind": rt.kind + "List", "apiVersion": rt.api_version,
                                "metadata": md, "items": items})

    def _check_gvk(self, rt, obj):
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was in an unknown format")
        if obj.get("kind") not in (None, "", rt.kind) or \
                obj.get("apiVersion") not in (None, "", rt.api_version):
            raise bad_request("the API version in the data (%s) does not match the expected API "
                              "version (%s)" % (obj.get("apiVersion"), rt.api_version)
                              if obj.get("apiVersion") not in (None, "", rt.api_version) else
                              "the kind in the data (%s) does not match the expected kind (%s)"
                              % (obj.get("kind"), rt.kind))

    def _create(self, rt, ns, body):
        obj = self._json_body(body)
        self._check_gvk(rt, obj)
        created = self.app.store.create(rt, ns, obj, dry_run=self._dry_run())
        return self._send_obj(rt, created, 201)

    def _update(self, rt, ns, name, sub, body):
        obj = self._json_body(body)
        self._check_gvk(rt, obj)
        out, created = self.app.store.update(rt, ns, name, obj, subresource=sub,
                                             dry_run=self._dry_run())
        return self._send_obj(rt, out, 201 if created else 200)

    def _patch(self, rt, ns, name, sub, body):
        ct = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            patch = json.loads(body or b"null")
        except ValueError as e:
            if ct == "application/apply-patch+yaml":
                raise APIError(415, "fake-apiserver: server-side apply bodies must be JSON "
                               "(YAML is not parsed): %s" % e, "UnsupportedMediaType")
            raise bad_request("the body of the request was in an unknown format: %s" % e)
        kind = rt.kind
        if ct == "application/json-patch+json":
            fn = lambda cur: json_patch(cur, patch)
        elif ct == "application/merge-patch+json":
            if not isinstance(patch, dict):
                raise bad_request("merge patch must be a JSON object")
            fn = lambda cur: json_merge_patch(cur, patch)
        elif ct == "application/strategic-merge-patch+json":
            fn = lambda cur: strategic_merge_patch(cur, patch, kind)
        elif ct == "application/apply-patch+yaml":
            return self._apply(rt, ns, name, sub, patch)
        else:
            raise APIError(415, "the body of the request was in an unknown format - accepted "
                           "media types include: application/json-patch+json, "
                           "application/merge-patch+json, application/apply-patch+yaml, "
                           "application/strategic-merge-patch+json", "UnsupportedMediaType")
        out, _ = self.app.store.update(rt, ns, name, None, subresource=sub,
                                       dry_run=self._dry_run(), patch_fn=fn)
        return self._send_obj(rt, out, 200)

    def _apply(self, rt, ns, name, sub, patch):
        """Server-side apply, approximated: create when absent, else a strategic merge of
        the applied configuration (no field ownership, no removal of dropped fields)."""
        if not self.q.get("fieldManager"):
            raise bad_request("PATCH, application/apply-patch+yaml: fieldManager is required "
                              "for apply requests")
        self._check_gvk(rt, patch)
        if not isinstance(patch, dict):
            raise bad_request("apply: expected an object")
        md = patch.setdefault("metadata", {})
        if md.get("name", name) != name:
            raise bad_request("the name of the object (%s) does not match the name on the "
                              "URL (%s)" % (md.get("name"), name))
        md["name"] = name
        dry = self._dry_run()
        store = self.app.store
        with store.lock:
            try:
                store.get(rt, ns, name)
                exists = True
            except APIError:
                exists = False
            if not exists and sub is None:
                created = store.create(rt, ns, patch, dry_run=dry)
                return self._send_obj(rt, created, 201)
            out, _ = store.update(rt, ns, name, None, subresource=sub, dry_run=dry,
                                  patch_fn=lambda cur: strategic_merge_patch(cur, patch, rt.kind))
        return self._send_obj(rt, out, 200)

    def _delete_options(self, body):
        opts = {}
        if body and body.strip():
            try:
                opts = json.loads(body)
            except ValueError as e:
                raise bad_request("the body of the request was in an unknown format: %s" % e)
            if not isinstance(opts, dict):
                raise bad_request("DeleteOptions must be an object")
        return opts

    def _delete(self, rt, ns, name, body):
        opts = self._delete_options(body)
        dry = self._dry_run() or opts.get("dryRun") == ["All"]
        obj, now = self.app.store.delete(rt, ns, name, opts, dry_run=dry)
        if not now or rt in (R.SERVICES, R.NAMESPACES):
            return self._send_obj(rt, obj, 200)
        det = {"name": name, "kind": rt.plural, "uid": obj["metadata"].get("uid", "")}
        if rt.group:
            det["group"] = rt.group
        st = status_obj(200, "", None, det)
        return self._send(200, st)

    def _delete_collection(self, rt, ns):
        items, rv = self.app.store.delete_collection(rt, self._filter(ns), dry_run=self._dry_run())
        for o in items:
            o.pop("kind", None)
            o.pop("apiVersion", None)
        return self._send(200, {"kind": rt.kind + "List", "apiVersion": rt.api_version,
                                "metadata": {"resourceVersion": str(rv)}, "items": items})

    # -------------------------------------------------------------- watch

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _event(self, rt, typ, obj, neg):
        if neg[0] == "Table":
            md = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            if typ == "BOOKMARK":
                if obj["metadata"].get("annotations"):
                    md["annotations"] = obj["metadata"]["annotations"]
                obj = {"kind": "Table", "apiVersion": "meta.k8s.io/" + neg[1], "metadata": md,
                       "columnDefinitions": None, "rows": None}
            else:
                obj = self._table(rt, [obj], neg[1], md)
        elif neg[0] in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            obj = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/" + neg[1],
                   "metadata": obj["metadata"]}
        self._chunk((dumps({"type": typ, "object": obj}) + "\n").encode())

    def _client_gone(self):
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if r:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True
        return False

    def _watch(self, rt, ns):
        app = self.app
        neg = self._accept()
        flt = self._filter(ns)
        rv = self.q.get("resourceVersion")
        bookmarks = self.q.get("allowWatchBookmarks") in ("true", "1", "True")
        send_initial = self.q.get("sendInitialEvents") in ("true", "1", "True")
        if send_initial and not bookmarks:
            raise APIError(422, "sendInitialEvents is forbidden for watch unless the "
                           "WatchList feature gate is enabled and allowWatchBookmarks=true",
                           "Invalid")
        timeout = app.watch_timeout
        if self.q.get("timeoutSeconds"):
            try:
                timeout = float(self.q["timeoutSeconds"])
            except ValueError:
                raise bad_request("timeoutSeconds: invalid value")
        injected = app.faults.take_watch_expiry()
        if injected == "http":
            raise expired(rv, app.store.rv)
        w = None
        initial = []
        error_event = None
        if injected == "event":
            error_event = expired(rv, app.store.rv).status
        elif injected == "error":
            code = app.faults.state()["watch_error_code"]
            error_event = APIError(code, "fake-apiserver: injected watch error (%d)" % code).status
        elif injected == "empty":
            error_event = False     # a 200 that ends at once: no event at all
        else:
            try:
                w, initial = app.store.start_watch(rt, flt, rv, send_initial)
            except APIError as e:
                if e.code != 410 or app.faults.state()["expired_mode"] != "event":
                    raise
                error_event = e.status
        with app.watch_cv:
            app.active_watches += 1
        try:
            self._stream(app, rt, neg, w, initial, error_event, send_initial, bookmarks, timeout)
        finally:
            with app.watch_cv:
                app.active_watches -= 1
                app.watch_cv.notify_all()

    def _stream(self, app, rt, neg, w, initial, error_event, send_initial, bookmarks, timeout):
        self.send_response(200)
        self.send_header("Content-Type", self._ctype(neg))
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.end_headers()
        abort = False
        try:
            if error_event is False:
                return
            if error_event is not None:
                self._chunk((dumps({"type": "ERROR", "object": error_event}) + "\n").encode())
                return
            for typ, obj in initial:
                self._event(rt, typ, obj, neg)
            if send_initial:
                bm = {"kind": rt.kind, "apiVersion": rt.api_version,
                      "metadata": {"resourceVersion": str(w.start_rv),
                                   "annotations": {"k8s.io/initial-events-end": "true"}}}
                self._event(rt, "BOOKMARK", bm, neg)
            start = time.monotonic()
            deadline = start + timeout
            next_bm = start + app.bookmark_interval
            while True:
                now = time.monotonic()
                if now >= deadline or app.stopping.is_set():
                    break
                if w.stop_mode:
                    abort = w.stop_mode == "abort"
                    # a clean drop still hands over what was queued before it
                    if abort:
                        break
                wait = min(deadline - now, 0.25)
                if bookmarks:
                    wait = max(0.0, min(wait, next_bm - now))
                try:
                    item = w.q.get(timeout=wait) if wait > 0 else w.q.get_nowait()
                except queue.Empty:
                    item = False
                if item is None:          # stop sentinel
                    abort = w.stop_mode == "abort"
                    break
                if item:
                    typ, obj = item
                    self._event(rt, typ, obj, neg)
                    continue
                if w.overflow and w.q.empty():
                    break
                if w.stop_mode and w.q.empty():
                    break
                if bookmarks and time.monotonic() >= next_bm:
                    prv = app.store.progress_rv(w)
                    if prv is not None:
                        bm = {"kind": rt.kind, "apiVersion": rt.api_version,
                              "metadata": {"resourceVersion": str(prv)}}
                        self._event(rt, "BOOKMARK", bm, neg)
                    next_bm = time.monotonic() + app.bookmark_interval
                if self._client_gone():
                    self.close_connection = True
                    return
        except OSError:          # client gone, or a send timed out on a stuck client
            self.close_connection = True
            return
        finally:
            if w is not None:
                app.store.stop_watch(w)
            if abort:
                self.close_connection = True
                try:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                except OSError:
                    pass
            elif not self.close_connection:
                try:
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    self.close_connection = True


def _not_found_path():
    return APIError(404, "the server could not find the requested resource", "NotFound",
                    {"causes": [{"reason": "UnexpectedServerResponse",
                                 "message": "404 page not found"}]})


# ---------------------------------------------------------------------- main

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def make_server(args):
    app = App(args)
    handler = type("BoundHandler", (Handler,), {"app": app})
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    srv_cls = type("BoundServer", (Server,), {"address_family": family})
    srv = srv_cls((args.host, args.port), handler)
    return app, srv


def parse_args(argv):
    p = argparse.ArgumentParser(prog="fake-apiserver",
                                description="An in-memory Kubernetes API server for tests "
                                            "(Services, EndpointSlices, Events, Namespaces).")
    p.add_argument("--port", type=int, required=True, help="TCP port (0: pick a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--verbose", "-v", action="count", default=0,
                   help="log every request to stderr (twice: with request bodies)")
    p.add_argument("--port-file", help="write the port listened on to this file once ready")
    p.add_argument("--history", type=int, default=1000,
                   help="watch history window, in events (1000)")
    p.add_argument("--bookmark-interval", type=float, default=1.0,
                   help="seconds between BOOKMARK events on watches that allow them (1.0)")
    p.add_argument("--watch-timeout", type=float, default=1800.0,
                   help="watch length when the client gives no timeoutSeconds (1800)")
    p.add_argument("--watch-queue", type=int, default=1000,
                   help="events buffered per watch before a slow watcher is closed (1000)")
    p.add_argument("--expired-mode", choices=("http", "event"), default="http",
                   help="too-old resourceVersion on watch: HTTP 410 or an ERROR event (http)")
    p.add_argument("--no-openapi", action="store_true",
                   help="answer /openapi/v3 with 404 too (then kubectl apply needs "
                        "--validate=false)")
    p.add_argument("--strict-namespaces", action="store_true",
                   help="creating in a missing namespace is 404 NotFound, like the real server "
                        "(default: the namespace is created)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        app, srv = make_server(args)
    except OSError as e:
        sys.stderr.write("fake-apiserver: cannot listen on %s:%d: %s\n" % (args.host, args.port, e))
        return 1
    port = srv.server_address[1]
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                         name="serve", daemon=True)
    t.start()
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    host = "[%s]" % args.host if ":" in args.host else args.host
    app.log("listening on http://%s:%d" % (host, port))
    while not stop.wait(0.5):
        pass
    app.log("shutting down")
    app.stopping.set()
    app.store.drop_watches("close")
    with app.watch_cv:      # let the watches write their last chunk
        app.watch_cv.wait_for(lambda: app.active_watches == 0, timeout=3)
    srv.shutdown()
    srv.server_close()
    t.join(2)
    return 0
