#!/usr/bin/python3
"""Unit and in-process tests of tests/k8s/fakeapi: the parts a kubectl run does not reach
(patch directives, selectors, finalizers, pagination, WatchList, Tables, history window,
concurrent writers and watchers). Run: /usr/bin/python3 tests/k8s/test_fakeapi.py -v"""

import http.client
import json
import os
import sys
import threading
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

from fakeapi import patch as P                      # noqa: E402
from fakeapi import protobuf as PB                  # noqa: E402
from fakeapi import resources as R                  # noqa: E402
from fakeapi.selectors import Filter, LabelSelector  # noqa: E402
from fakeapi.server import make_server, parse_args   # noqa: E402
from fakeapi.store import Change, Watcher            # noqa: E402
from fakeapi.util import APIError                    # noqa: E402

SVC = "/api/v1/namespaces/default/services"
EPS = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"


def svc(name, **spec):
    s = {"ports": [{"port": 80}]}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": s}


class PatchTest(unittest.TestCase):
    def test_smp_maps_and_null(self):
        out = P.strategic_merge_patch({"a": {"b": 1, "c": 2}, "d": 1},
                                      {"a": {"b": None, "e": 3}, "d": None}, "Service")
        self.assertEqual(out, {"a": {"c": 2, "e": 3}})

    def test_smp_ports_by_port_with_delete_and_order(self):
        orig = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
        p = {"spec": {"$setElementOrder/ports": [{"port": 53}, {"port": 80}],
                      "ports": [{"port": 53, "name": "dns"}, {"port": 80, "targetPort": 8080},
                                {"$patch": "delete", "port": 443}]}}
        out = P.strategic_merge_patch(orig, p, "Service")
        self.assertEqual(out["spec"]["ports"], [{"port": 53, "name": "dns"},
                                                {"port": 80, "name": "http", "targetPort": 8080}])

    def test_smp_atomic_lists_replaced(self):
        orig = {"endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]}
        out = P.strategic_merge_patch(orig, {"endpoints": [{"addresses": ["10.0.0.3"]}]},
                                      "EndpointSlice")
        self.assertEqual(out["endpoints"], [{"addresses": ["10.0.0.3"]}])

    def test_smp_directives(self):
        orig = {"metadata": {"finalizers": ["a", "b"]},
                "spec": {"x": {"k1": 1, "k2": 2}, "y": {"k": 1}, "r": {"a": 1, "b": 2}},
                "status": {"conditions": [{"type": "A", "status": "False"}]}}
        p = {"metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]},
             "spec": {"x": {"$patch": "replace", "k3": 3}, "y": {"$patch": "delete"},
                      "r": {"$retainKeys": ["b", "c"], "c": 3}},
             "status": {"conditions": [{"type": "A", "status": "True"}, {"type": "B"}]}}
        out = P.strategic_merge_patch(orig, p, "Service")
        self.assertEqual(out["metadata"]["finalizers"], ["b", "c"])
        self.assertEqual(out["spec"], {"x": {"k3": 3}, "r": {"b": 2, "c": 3}})
        self.assertEqual(out["status"]["conditions"], [{"type": "A", "status": "True"},
                                                       {"type": "B"}])

    def test_smp_list_replace_directive(self):
        orig = {"spec": {"ports": [{"port": 80}, {"port": 81}]}}
        out = P.strategic_merge_patch(orig, {"spec": {"ports": [{"$patch": "replace"},
                                                                {"port": 9}]}}, "Service")
        self.assertEqual(out["spec"]["ports"], [{"port": 9}])

    def test_json_merge_and_json_patch(self):
        self.assertEqual(P.json_merge_patch({"a": [1], "b": {"c": 1}}, {"a": [2], "b": {"c": None}}),
                         {"a": [2], "b": {}})
        doc = {"a": {"b": [1, 2]}, "x/y": 1}
        out = P.json_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 3},
                                 {"op": "replace", "path": "/x~1y", "value": 2},
                                 {"op": "move", "from": "/a/b", "path": "/c"},
                                 {"op": "test", "path": "/c/0", "value": 1}])
        self.assertEqual(out, {"a": {}, "x/y": 2, "c": [1, 2, 3]})
        with self.assertRaises(APIError) as cm:
            P.json_patch(doc, [{"op": "test", "path": "/x~1y", "value": 5}])
        self.assertEqual(cm.exception.code, 422)


class SelectorTest(unittest.TestCase):
    def test_label_selectors(self):
        lab = {"kubernetes.io/service-name": "web", "tier": "edge"}
        for text, want in [("kubernetes.io/service-name=web", True),
                           ("kubernetes.io/service-name==web,tier!=db", True),
                           ("tier in (edge, core)", True), ("tier notin (edge)", False),
                           ("tier", True), ("!tier", False), ("missing!=x", True),
                           ("kubernetes.io/service-name=other", False), ("", True)]:
            self.assertEqual(LabelSelector(text).matches(lab), want, text)
        with self.assertRaises(APIError):
            LabelSelector("a=b c")

    def test_field_selector(self):
        f = Filter("default", None, "metadata.name=web,spec.type!=ClusterIP")
        self.assertTrue(f.matches({"metadata": {"name": "web", "namespace": "default"},
                                   "spec": {"type": "LoadBalancer"}}))
        self.assertFalse(f.matches({"metadata": {"name": "web", "namespace": "other"},
                                    "spec": {"type": "LoadBalancer"}}))

    def test_watcher_overflow(self):
        w = Watcher(R.SERVICES, Filter(), 3)
        for i in range(5):
            w.offer(Change(i + 1, "ADDED", R.SERVICES, {"metadata": {"name": "s%d" % i}}, None))
        self.assertTrue(w.overflow)
        self.assertEqual(w.q.qsize(), 3)


def _pb_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _pb_field(num, val):
    if isinstance(val, int):
        return _pb_varint(num << 3) + _pb_varint(val)
    if isinstance(val, str):
        val = val.encode()
    return _pb_varint(num << 3 | 2) + _pb_varint(len(val)) + val


def pb_service():
    """A Service the way kubectl's typed client encodes one (zero fields included)."""
    meta = _pb_field(1, "pb") + _pb_field(2, "") + _pb_field(11, _pb_field(1, "app") +
                                                              _pb_field(2, "x"))
    port = (_pb_field(1, "http") + _pb_field(2, "TCP") + _pb_field(3, 80) +
            _pb_field(4, _pb_field(1, 0) + _pb_field(2, 8080) + _pb_field(3, "")) +
            _pb_field(5, 0))
    spec = (_pb_field(1, port) + _pb_field(3, "") + _pb_field(4, "LoadBalancer") +
            _pb_field(7, "") + _pb_field(13, 0) + _pb_field(20, 0) +
            _pb_field(21, "edgelb.io/lb"))
    raw = _pb_field(1, meta) + _pb_field(2, spec) + _pb_field(3, _pb_field(1, b""))
    unknown = _pb_field(1, _pb_field(1, "v1") + _pb_field(2, "Service")) + _pb_field(2, raw)
    return PB.MAGIC + unknown


class ProtobufTest(unittest.TestCase):
    def test_decode_service(self):
        obj = PB.decode(pb_service())
        self.assertEqual(obj, {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "pb", "labels": {"app": "x"}},
            "spec": {"ports": [{"name": "http", "protocol": "TCP", "port": 80,
                                "targetPort": 8080}],
                     "type": "LoadBalancer", "allocateLoadBalancerNodePorts": False,
                     "loadBalancerClass": "edgelb.io/lb"},
            "status": {"loadBalancer": {}}})

    def test_unsupported_kind(self):
        body = PB.MAGIC + _pb_field(1, _pb_field(1, "v1") + _pb_field(2, "Pod"))
        with self.assertRaises(APIError) as cm:
            PB.decode(body)
        self.assertEqual(cm.exception.code, 415)


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        args = parse_args(["--port", "0", "--history", "50", "--bookmark-interval", "0.2"])
        cls.app, cls.srv = make_server(args)
        cls.port = cls.srv.server_address[1]
        cls.thread = threading.Thread(target=cls.srv.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.app.stopping.set()
        cls.app.store.drop_watches()
        cls.srv.shutdown()
        cls.srv.server_close()

    def setUp(self):
        self.req("POST", "/fake/reset")

    def req(self, method, path, body=None, ctype="application/json", headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h["Content-Type"] = ctype
        c.request(method, path, data, h)
        r = c.getresponse()
        raw = r.read()
        c.close()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, raw

    def watch(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        return c, r

    @staticmethod
    def events(r, n=None, until=None):
        out = []
        while n is None or len(out) < n:
            line = r.readline()
            if not line:
                break
            ev = json.loads(line)
            out.append(ev)
            if until and until(ev):
                break
        return out

    def test_finalizers(self):
        body = svc("fin", type="LoadBalancer")
        body["metadata"]["finalizers"] = ["service.kubernetes.io/load-balancer-cleanup"]
        self.assertEqual(self.req("POST", SVC, body)[0], 201)
        c, r = self.watch(SVC + "?watch=1&fieldSelector=metadata.name%3Dfin&timeoutSeconds=5")
        self.assertEqual(self.events(r, 1)[0]["type"], "ADDED")
        code, obj = self.req("DELETE", SVC + "/fin")
        self.assertEqual(code, 200)
        self.assertIn("deletionTimestamp", obj["metadata"])
        ev = self.events(r, 1)[0]
        self.assertEqual((ev["type"], "deletionTimestamp" in ev["object"]["metadata"]),
                         ("MODIFIED", True))
        self.assertEqual(self.req("GET", SVC + "/fin")[0], 200)
        code, _ = self.req("PATCH", SVC + "/fin", {"metadata": {"finalizers": None}},
                           "application/merge-patch+json")
        self.assertEqual(code, 200)
        self.assertEqual(self.events(r, 1)[0]["type"], "DELETED")
        self.assertEqual(self.req("GET", SVC + "/fin")[0], 404)
        c.close()

    def test_pagination(self):
        for i in range(5):
            self.req("POST", EPS, {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                                   "metadata": {"name": "s%d" % i},
                                   "addressType": "IPv4", "endpoints": []})
        names, cont, pages = [], "", 0
        while True:
            code, lst = self.req("GET", EPS + "?limit=2" + ("&continue=" + cont if cont else ""))
            self.assertEqual(code, 200)
            names += [i["metadata"]["name"] for i in lst["items"]]
            pages += 1
            cont = lst["metadata"].get("continue")
            if not cont:
                break
        self.assertEqual((names, pages), (["s0", "s1", "s2", "s3", "s4"], 3))

    def test_watchlist_initial_events(self):
        self.req("POST", SVC, svc("a"))
        self.req("POST", SVC, svc("b"))
        c, r = self.watch(SVC + "?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
                          "&resourceVersionMatch=NotOlderThan&timeoutSeconds=3")
        evs = self.events(r, until=lambda e: e["type"] == "BOOKMARK")
        self.assertEqual([(e["type"], e["object"]["metadata"].get("name")) for e in evs],
                         [("ADDED", "a"), ("ADDED", "b"), ("BOOKMARK", None)])
        self.assertEqual(evs[-1]["object"]["metadata"]["annotations"],
                         {"k8s.io/initial-events-end": "true"})
        c.close()

    def test_tables_and_partial_metadata(self):
        self.req("POST", SVC, svc("t", type="LoadBalancer"))
        code, tab = self.req("GET", SVC, headers={
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
        self.assertEqual((code, tab["kind"]), (200, "Table"))
        self.assertEqual([c["name"] for c in tab["columnDefinitions"]][:5],
                         ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)"])
        self.assertEqual(tab["rows"][0]["cells"][3], "<pending>")
        self.assertEqual(tab["rows"][0]["object"]["kind"], "PartialObjectMetadata")
        code, pl = self.req("GET", SVC, headers={
            "Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"})
        self.assertEqual((pl["kind"], pl["items"][0]["metadata"]["name"]),
                         ("PartialObjectMetadataList", "t"))
        code, _ = self.req("GET", SVC, headers={"Accept": "application/yaml"})
        self.assertEqual(code, 406)

    def test_noop_update_keeps_rv(self):
        _, obj = self.req("POST", SVC, svc("n"))
        code, same = self.req("PUT", SVC + "/n", obj)
        self.assertEqual((code, same["metadata"]["resourceVersion"]),
                         (200, obj["metadata"]["resourceVersion"]))

    def test_type_change_drops_node_ports_and_class(self):
        _, obj = self.req("POST", SVC, svc("tc", type="LoadBalancer",
                                           loadBalancerClass="edgelb.io/lb"))
        self.assertTrue(obj["spec"]["ports"][0]["nodePort"])
        code, obj = self.req("PATCH", SVC + "/tc", {"spec": {"type": "ClusterIP"}},
                             "application/merge-patch+json")
        self.assertEqual(code, 200)
        self.assertNotIn("nodePort", obj["spec"]["ports"][0])
        self.assertNotIn("loadBalancerClass", obj["spec"])
        self.assertNotIn("externalTrafficPolicy", obj["spec"])

    def test_nodes_status_list_watch_and_table(self):
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
                "status": {"addresses": [{"type": "InternalIP", "address": "198.19.0.11"}],
                           "conditions": [{"type": "Ready", "status": "True"}]}}
        code, obj = self.req("POST", "/api/v1/nodes", node)
        self.assertEqual(code, 201)
        self.assertEqual(obj["status"], node["status"])  # kept on create, as a kubelet registers
        _, lst = self.req("GET", "/api/v1/nodes")
        c, r = self.watch("/api/v1/nodes?watch=1&resourceVersion=%s"
                          % lst["metadata"]["resourceVersion"])
        # an update ignores status (only /status changes it), as the apiserver does
        obj["spec"] = {"unschedulable": True}
        obj["status"]["conditions"][0]["status"] = "False"
        code, upd = self.req("PUT", "/api/v1/nodes/n1", obj)
        self.assertEqual((code, upd["spec"], upd["status"]["conditions"][0]["status"]),
                         (200, {"unschedulable": True}, "True"))
        code, st = self.req("PUT", "/api/v1/nodes/n1/status", dict(upd, status={
            "conditions": [{"type": "Ready", "status": "False"}]}))
        self.assertEqual((code, st["status"]["conditions"][0]["status"]), (200, "False"))
        evs = self.events(r, 2)
        c.close()
        self.assertEqual([e["type"] for e in evs], ["MODIFIED", "MODIFIED"])
        code, tab = self.req("GET", "/api/v1/nodes", headers={
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
        self.assertEqual([c["name"] for c in tab["columnDefinitions"]],
                         ["Name", "Status", "Roles", "Age", "Version"])
        self.assertEqual(tab["rows"][0]["cells"][1], "NotReady,SchedulingDisabled")
        self.assertEqual(self.req("DELETE", "/api/v1/nodes/n1")[0], 200)

    def test_local_policy_allocates_health_check_node_port(self):
        _, obj = self.req("POST", SVC, svc("loc", type="LoadBalancer",
                                           externalTrafficPolicy="Local"))
        np, hc = obj["spec"]["ports"][0]["nodePort"], obj["spec"]["healthCheckNodePort"]
        self.assertTrue(30000 <= np <= 32767 and 30000 <= hc <= 32767 and np != hc)
        code, obj = self.req("PATCH", SVC + "/loc", {"spec": {"externalTrafficPolicy": "Cluster"}},
                             "application/merge-patch+json")
        self.assertEqual(code, 200)
        self.assertNotIn("healthCheckNodePort", obj["spec"])
        self.assertEqual(obj["spec"]["ports"][0]["nodePort"], np)

    def test_class_immutable(self):
        self.req("POST", SVC, svc("c", type="LoadBalancer", loadBalancerClass="edgelb.io/lb"))
        code, st = self.req("PATCH", SVC + "/c", {"spec": {"loadBalancerClass": "other/lb"}},
                            "application/merge-patch+json")
        self.assertEqual((code, st["reason"]), (422, "Invalid"))

    def test_namespaces(self):
        self.req("POST", "/api/v1/namespaces/tmp/services", svc("x"))
        code, _ = self.req("DELETE", "/api/v1/namespaces/tmp")
        self.assertEqual(code, 200)
        self.assertEqual(self.req("GET", "/api/v1/namespaces/tmp/services/x")[0], 404)
        code, st = self.req("DELETE", "/api/v1/namespaces/default")
        self.assertEqual((code, st["reason"]), (403, "Forbidden"))

    def test_dry_run_and_preconditions_and_405(self):
        code, obj = self.req("POST", SVC + "?dryRun=All", svc("dry"))
        self.assertEqual(code, 201)
        self.assertEqual(self.req("GET", SVC + "/dry")[0], 404)
        _, obj = self.req("POST", SVC, svc("p"))
        code, st = self.req("DELETE", SVC + "/p", {"preconditions": {"resourceVersion": "1"}})
        self.assertEqual((code, st["reason"]), (409, "Conflict"))
        self.assertEqual(self.req("POST", "/api/v1/services", svc("z"))[0], 405)

    def test_server_side_apply_create_then_merge(self):
        q = "?fieldManager=test&force=true"
        code, obj = self.req("PATCH", SVC + "/ssa" + q, svc("ssa"), "application/apply-patch+yaml")
        self.assertEqual(code, 201)
        code, obj = self.req("PATCH", SVC + "/ssa" + q,
                             {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ssa",
                              "labels": {"a": "b"}}}, "application/apply-patch+yaml")
        self.assertEqual((code, obj["metadata"]["labels"], obj["spec"]["ports"][0]["port"]),
                         (200, {"a": "b"}, 80))

    def test_history_window_410(self):
        _, obj = self.req("POST", SVC, svc("h"))
        first = obj["metadata"]["resourceVersion"]
        for i in range(60):      # history is 50 events
            self.req("PATCH", SVC + "/h", {"metadata": {"labels": {"i": str(i)}}},
                     "application/merge-patch+json")
        code, st = self.req("GET", SVC + "?watch=1&resourceVersion=" + first)
        self.assertEqual((code, st["reason"]), (410, "Expired"))

    def test_concurrent_writers_and_watchers(self):
        names = ["w%d" % i for i in range(4)]
        for n in names:
            self.req("POST", SVC, svc(n))
        _, lst = self.req("GET", SVC)
        start = lst["metadata"]["resourceVersion"]
        watches = [self.watch(SVC + "?watch=1&resourceVersion=%s&timeoutSeconds=20" % start)
                   for _ in range(3)]
        rvs, lock = [], threading.Lock()

        def writer(n):
            for i in range(40):
                code, o = self.req("PATCH", SVC + "/" + n, {"metadata": {"labels": {"i": str(i)}}},
                                   "application/merge-patch+json")
                assert code == 200, o
                with lock:
                    rvs.append(int(o["metadata"]["resourceVersion"]))

        ts = [threading.Thread(target=writer, args=(n,)) for n in names]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for c, r in watches:
            evs = self.events(r, len(rvs))
            got = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
            self.assertEqual(got, sorted(rvs))
            c.close()

    def test_protobuf_create_and_request_log(self):
        self.req("DELETE", "/fake/requests")
        code, obj = self.req("POST", SVC, pb_service(), "application/vnd.kubernetes.protobuf")
        self.assertEqual((code, obj["spec"]["loadBalancerClass"],
                          "nodePort" in obj["spec"]["ports"][0]), (201, "edgelb.io/lb", False))
        _, log = self.req("GET", "/fake/requests")
        self.assertEqual([(r["method"], r["path"], r["code"], r["contentType"])
                          for r in log["requests"]],
                         [("POST", SVC, 201, "application/vnd.kubernetes.protobuf")])

    def test_bookmarks_carry_progress(self):
        _, lst = self.req("GET", SVC)
        c, r = self.watch(SVC + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=3&"
                          "resourceVersion=" + lst["metadata"]["resourceVersion"])
        self.req("POST", EPS, {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                               "metadata": {"name": "other"}, "addressType": "IPv4"})
        _, eps = self.req("GET", EPS)
        want = int(eps["metadata"]["resourceVersion"])
        evs = self.events(r, until=lambda e: e["type"] == "BOOKMARK" and
                          int(e["object"]["metadata"]["resourceVersion"]) >= want)
        self.assertEqual(evs[-1]["object"], {"kind": "Service", "apiVersion": "v1",
                                             "metadata": {"resourceVersion": str(want)}})
        c.close()


if __name__ == "__main__":
    unittest.main()
