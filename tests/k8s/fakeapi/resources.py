"""The kinds served, with the apiserver's defaulting, validation, update rules and the
server-side Table columns kubectl prints (kubectl get without -o asks for a Table)."""

import ipaddress
import re
import time

from .util import age_since, human_duration, invalid, parse_time

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

SERVICE_V4_NET = ipaddress.ip_network("198.19.255.0/24")
SERVICE_V6_NET = ipaddress.ip_network("2001:db8:ffff::/64")
NODE_PORT_RANGE = (30000, 32767)


def _name_cause(kind, name, rx):
    if rx is DNS1035_LABEL:
        what = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                "start with an alphabetic character, and end with an alphanumeric character "
                "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
                "'[a-z]([-a-z0-9]*[a-z0-9])?')")
        limit = 63
    elif rx is DNS1123_LABEL:
        what = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',"
                "  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
        limit = 63
    else:
        what = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character "
                "(e.g. 'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
        limit = 253
    if len(name) > limit:
        return ("metadata.name", 'Invalid value: "%s": must be no more than %d characters'
                % (name, limit), "FieldValueInvalid")
    if not rx.match(name):
        return ("metadata.name", 'Invalid value: "%s": %s' % (name, what), "FieldValueInvalid")
    return None


def _meta_causes(obj):
    causes = []
    md = obj.get("metadata") or {}
    for k, v in (md.get("labels") or {}).items():
        key = k.split("/", 1)[-1]
        if not QUALIFIED_NAME.match(key) or len(key) > 63:
            causes.append(("metadata.labels", 'Invalid value: "%s": name part must consist of '
                           "alphanumeric characters, '-', '_' or '.'" % k, "FieldValueInvalid"))
        if not isinstance(v, str) or len(v) > 63 or not LABEL_VALUE.match(v):
            causes.append(("metadata.labels", 'Invalid value: "%s": a valid label must be an '
                           "empty string or consist of alphanumeric characters, '-', '_' or '.', "
                           "and must start and end with an alphanumeric character" % (v,),
                           "FieldValueInvalid"))
    for k, v in (md.get("annotations") or {}).items():
        if not isinstance(v, str):
            causes.append(("metadata.annotations", "Invalid value: annotation %s must be a string"
                           % k, "FieldValueInvalid"))
    return causes


def _col(name, typ="string", fmt="", desc="", priority=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": priority}


NAME_COL = _col("Name", fmt="name", desc="Name must be unique within a namespace.")
AGE_COL = _col("Age", desc="CreationTimestamp is a timestamp representing the server time when "
                           "this object was created.")


def _age(obj):
    return age_since((obj.get("metadata") or {}).get("creationTimestamp"))


def _name(obj):
    return (obj.get("metadata") or {}).get("name", "")


class ResourceType:
    name_rx = DNS1123_SUBDOMAIN
    status_subresource = False
    create_on_update = False
    short_names = ()
    categories = ()

    def __init__(self, group, version, kind, plural, singular, namespaced):
        self.group, self.version, self.kind = group, version, kind
        self.plural, self.singular, self.namespaced = plural, singular, namespaced

    @property
    def api_version(self):
        return self.version if not self.group else "%s/%s" % (self.group, self.version)

    @property
    def key(self):
        return (self.group, self.plural)

    @property
    def qualified_plural(self):
        return self.plural if not self.group else "%s.%s" % (self.plural, self.group)

    @property
    def qualified_kind(self):
        return self.kind if not self.group else "%s.%s" % (self.kind, self.group)

    def discovery(self):
        out = [{
            "name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
            "kind": self.kind, "verbs": VERBS,
        }]
        if self.short_names:
            out[0]["shortNames"] = list(self.short_names)
        if self.categories:
            out[0]["categories"] = list(self.categories)
        if self.status_subresource:
            out.append({"name": self.plural + "/status", "singularName": "",
                        "namespaced": self.namespaced, "kind": self.kind,
                        "verbs": ["get", "patch", "update"]})
        return out

    # hooks, called with the store lock held; alloc is the store (for allocations)
    def prepare_create(self, obj, store):
        pass

    def prepare_update(self, new, old, store):
        pass

    def prepare_status_update(self, new, old, store):
        pass

    def validate(self, obj, old=None):
        causes = []
        name = _name(obj)
        if name and old is None:
            c = _name_cause(self.kind, name, self.name_rx)
            if c:
                causes.append(c)
        causes.extend(_meta_causes(obj))
        return causes

    def check(self, obj, old=None):
        causes = self.validate(obj, old)
        if causes:
            raise invalid(self, _name(obj), causes)

    # Table
    def columns(self):
        return [NAME_COL, AGE_COL]

    def cells(self, obj):
        return [_name(obj), _age(obj)]


# ------------------------------------------------------------------ Service

def _family(ip):
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return None


class ServiceType(ResourceType):
    name_rx = DNS1035_LABEL
    status_subresource = True
    short_names = ("svc",)
    categories = ("all",)

    def __init__(self):
        super().__init__("", "v1", "Service", "services", "service", True)

    @staticmethod
    def _needs_cluster_ip(spec):
        return spec.get("type", "ClusterIP") != "ExternalName"

    @staticmethod
    def _needs_node_ports(spec):
        t = spec.get("type", "ClusterIP")
        if t == "NodePort":
            return True
        if t == "LoadBalancer":
            return spec.get("allocateLoadBalancerNodePorts", True) is not False
        return False

    def _default_spec(self, svc, store):
        spec = svc.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        t = spec["type"]
        spec.setdefault("sessionAffinity", "None")
        if spec["sessionAffinity"] == "ClientIP":
            sac = spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})
            sac.setdefault("timeoutSeconds", 10800)
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "targetPort" not in p or p["targetPort"] in (0, "", None):
                    if "port" in p:
                        p["targetPort"] = p["port"]
        if t == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
        if t in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if t != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
        self._ip_families(svc, store)
        if self._needs_node_ports(spec):
            used = store.used_node_ports(exclude=svc)
            for i, p in enumerate(spec.get("ports") or []):
                np = p.get("nodePort") if isinstance(p, dict) else None
                if np and np in used:
                    raise invalid(self, _name(svc), [("spec.ports[%d].nodePort" % i,
                                  "Invalid value: %s: provided port is already allocated" % np,
                                  "FieldValueInvalid")])
                if np and not NODE_PORT_RANGE[0] <= np <= NODE_PORT_RANGE[1]:
                    raise invalid(self, _name(svc), [("spec.ports[%d].nodePort" % i,
                                  "Invalid value: %s: provided port is not in the valid range. "
                                  "The range of valid ports is %d-%d" % ((np,) + NODE_PORT_RANGE),
                                  "FieldValueInvalid")])
            used |= {p["nodePort"] for p in spec.get("ports") or []
                     if isinstance(p, dict) and p.get("nodePort")}
            if spec.get("healthCheckNodePort"):
                used.add(spec["healthCheckNodePort"])
            for p in spec.get("ports") or []:
                if isinstance(p, dict) and not p.get("nodePort"):
                    p["nodePort"] = store.alloc_node_port(used)
                    used.add(p["nodePort"])
            if t == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local" \
                    and not spec.get("healthCheckNodePort"):
                spec["healthCheckNodePort"] = store.alloc_node_port(used)

    def _ip_families(self, svc, store):
        spec = svc["spec"]
        if not self._needs_cluster_ip(spec):
            for k in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                spec.pop(k, None)
            return
        cips = list(spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []))
        if spec.get("clusterIP") and cips and cips[0] != spec["clusterIP"]:
            raise invalid(self, _name(svc), [("spec.clusterIPs", "Invalid value: %r: must be "
                          "empty or the first element must match clusterIP" % cips,
                          "FieldValueInvalid")])
        policy = spec.get("ipFamilyPolicy")
        fams = list(spec.get("ipFamilies") or [])
        headless = bool(cips) and cips[0] == "None"
        dual = policy in ("RequireDualStack", "PreferDualStack")
        if not fams:
            if cips and not headless:
                fams = [_family(ip) or "IPv4" for ip in cips]
            else:
                fams = ["IPv4", "IPv6"] if dual else ["IPv4"]
        if dual and len(fams) == 1:
            fams.append("IPv6" if fams[0] == "IPv4" else "IPv4")
        if policy is None:
            policy = "SingleStack" if len(fams) == 1 else "RequireDualStack"
        causes = []
        if policy not in ("SingleStack", "PreferDualStack", "RequireDualStack"):
            causes.append(("spec.ipFamilyPolicy", 'Unsupported value: "%s": supported values: '
                           '"PreferDualStack", "RequireDualStack", "SingleStack"' % policy,
                           "FieldValueNotSupported"))
        for i, f in enumerate(fams):
            if f not in ("IPv4", "IPv6"):
                causes.append(("spec.ipFamilies[%d]" % i, 'Unsupported value: "%s": supported '
                               'values: "IPv4", "IPv6"' % f, "FieldValueNotSupported"))
        if len(fams) > 2 or (len(fams) == 2 and fams[0] == fams[1]):
            causes.append(("spec.ipFamilies", "Invalid value: %r: must be one or two distinct "
                           "families" % fams, "FieldValueInvalid"))
        if policy == "SingleStack" and len(fams) > 1:
            causes.append(("spec.ipFamilyPolicy", 'Invalid value: "SingleStack": must be '
                           "'RequireDualStack' or 'PreferDualStack' when multiple 'ipFamilies' "
                           "are specified", "FieldValueInvalid"))
        if causes:
            raise invalid(self, _name(svc), causes)
        spec["ipFamilyPolicy"] = policy
        spec["ipFamilies"] = fams
        if headless:
            spec["clusterIP"] = "None"
            spec["clusterIPs"] = ["None"]
            return
        for i, ip in enumerate(cips):
            if i < len(fams) and _family(ip) != fams[i]:
                raise invalid(self, _name(svc), [("spec.clusterIPs[%d]" % i, 'Invalid value: '
                              '"%s": expected an %s address' % (ip, fams[i]),
                              "FieldValueInvalid")])
        used = store.used_cluster_ips(exclude=svc)
        for ip in cips:
            if ip in used:
                raise invalid(self, _name(svc), [("spec.clusterIPs", 'Invalid value: ["%s"]: '
                              "failed to allocate IP %s: provided IP is already allocated"
                              % (ip, ip), "FieldValueInvalid")])
        for i in range(len(cips), len(fams)):
            cips.append(store.alloc_cluster_ip(fams[i], used))
        spec["clusterIPs"] = cips[:len(fams)]
        spec["clusterIP"] = cips[0]

    def prepare_create(self, svc, store):
        self._default_spec(svc, store)
        svc["status"] = {"loadBalancer": {}}

    def prepare_update(self, new, old, store):
        spec, ospec = new.setdefault("spec", {}), old.get("spec") or {}
        # pkg/registry/core/service/storage: patchAllocatedValues, dropTypeDependentFields
        if self._needs_cluster_ip(spec) and self._needs_cluster_ip(ospec):
            if not spec.get("clusterIP") and not spec.get("clusterIPs"):
                for k in ("clusterIP", "clusterIPs"):
                    if k in ospec:
                        spec[k] = list(ospec[k]) if isinstance(ospec[k], list) else ospec[k]
            if not spec.get("ipFamilies") and ospec.get("ipFamilies"):
                spec["ipFamilies"] = list(ospec["ipFamilies"])
            if not spec.get("ipFamilyPolicy") and ospec.get("ipFamilyPolicy"):
                spec["ipFamilyPolicy"] = ospec["ipFamilyPolicy"]
        if self._needs_node_ports(spec) and self._needs_node_ports(ospec):
            old_np = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                      for p in ospec.get("ports") or [] if isinstance(p, dict)}
            for p in spec.get("ports") or []:
                if isinstance(p, dict) and not p.get("nodePort"):
                    np = old_np.get((p.get("port"), p.get("protocol", "TCP")))
                    if np:
                        p["nodePort"] = np
            if spec.get("externalTrafficPolicy") == "Local" and not spec.get("healthCheckNodePort") \
                    and ospec.get("healthCheckNodePort"):
                spec["healthCheckNodePort"] = ospec["healthCheckNodePort"]
        t = spec.get("type", "ClusterIP")
        if not self._needs_node_ports(spec):
            for p in spec.get("ports") or []:
                if isinstance(p, dict):
                    p.pop("nodePort", None)
        if t != "LoadBalancer":
            spec.pop("healthCheckNodePort", None)
            spec.pop("allocateLoadBalancerNodePorts", None)
            if ospec.get("type") == "LoadBalancer" and \
                    spec.get("loadBalancerClass") == ospec.get("loadBalancerClass"):
                spec.pop("loadBalancerClass", None)
        elif spec.get("externalTrafficPolicy") != "Local":
            spec.pop("healthCheckNodePort", None)
        if t not in ("NodePort", "LoadBalancer"):
            spec.pop("externalTrafficPolicy", None)
        causes = []
        if self._needs_cluster_ip(ospec) and self._needs_cluster_ip(spec):
            oc = ospec.get("clusterIPs") or []
            nc = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
            if oc and nc and nc[0] != oc[0]:
                causes.append(("spec.clusterIPs[0]", "Invalid value: %r: may not change once "
                               "set" % (nc[0],), "FieldValueInvalid"))
        if ospec.get("type") == "LoadBalancer" and t == "LoadBalancer" and \
                ospec.get("loadBalancerClass") != spec.get("loadBalancerClass"):
            causes.append(("spec.loadBalancerClass", "Invalid value: %r: may not change once "
                           "set" % (spec.get("loadBalancerClass"),), "FieldValueInvalid"))
        if causes:
            raise invalid(self, _name(new), causes)
        self._default_spec(new, store)
        new["status"] = old.get("status", {"loadBalancer": {}})

    def prepare_status_update(self, new, old, store):
        st = new.get("status")
        if not isinstance(st, dict):
            st = {}
        lb = st.get("loadBalancer")
        if isinstance(lb, dict):
            for ing in lb.get("ingress") or []:
                if isinstance(ing, dict) and ing.get("ip") and "ipMode" not in ing:
                    ing["ipMode"] = "VIP"
        new["status"] = st

    def validate(self, svc, old=None):
        causes = super().validate(svc, old)
        spec = svc.get("spec") or {}
        t = spec.get("type", "ClusterIP")
        if t not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
            causes.append(("spec.type", 'Unsupported value: "%s": supported values: '
                           '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"' % t,
                           "FieldValueNotSupported"))
        ports = spec.get("ports") or []
        if not isinstance(ports, list):
            causes.append(("spec.ports", "Invalid value: must be a list", "FieldValueInvalid"))
            ports = []
        headless = spec.get("clusterIP") == "None"
        if not ports and t != "ExternalName" and not headless:
            causes.append(("spec.ports", "Required value", "FieldValueRequired"))
        names = set()
        for i, p in enumerate(ports):
            f = "spec.ports[%d]" % i
            if not isinstance(p, dict):
                causes.append((f, "Invalid value: must be an object", "FieldValueInvalid"))
                continue
            name = p.get("name", "")
            if len(ports) > 1 and not name:
                causes.append((f + ".name", "Required value", "FieldValueRequired"))
            if name:
                if not DNS1123_LABEL.match(name) or len(name) > 63:
                    causes.append((f + ".name", 'Invalid value: "%s": a lowercase RFC 1123 '
                                   "label must consist of lower case alphanumeric characters or "
                                   "'-', and must start and end with an alphanumeric character"
                                   % name, "FieldValueInvalid"))
                if name in names:
                    causes.append((f + ".name", 'Duplicate value: "%s"' % name,
                                   "FieldValueDuplicate"))
                names.add(name)
            port = p.get("port")
            if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
                causes.append((f + ".port", "Invalid value: %s: must be between 1 and 65535, "
                               "inclusive" % (port,), "FieldValueInvalid"))
            proto = p.get("protocol", "TCP")
            if proto not in ("TCP", "UDP", "SCTP"):
                causes.append((f + ".protocol", 'Unsupported value: "%s": supported values: '
                               '"SCTP", "TCP", "UDP"' % proto, "FieldValueNotSupported"))
            tp = p.get("targetPort")
            if isinstance(tp, int) and not isinstance(tp, bool) and not 1 <= tp <= 65535:
                causes.append((f + ".targetPort", "Invalid value: %s: must be between 1 and "
                               "65535, inclusive" % tp, "FieldValueInvalid"))
            np = p.get("nodePort")
            if np and t in ("ClusterIP", "ExternalName"):
                causes.append((f + ".nodePort", "Forbidden: may not be used when `type` is '%s'"
                               % t, "FieldValueForbidden"))
        if spec.get("loadBalancerClass") and t != "LoadBalancer":
            causes.append(("spec.loadBalancerClass", "Invalid value: %r: may only be used when "
                           "`type` is 'LoadBalancer'" % spec["loadBalancerClass"],
                           "FieldValueInvalid"))
        for k in ("externalTrafficPolicy", "internalTrafficPolicy"):
            v = spec.get(k)
            if v is not None and v not in ("Cluster", "Local"):
                causes.append(("spec." + k, 'Unsupported value: "%s": supported values: '
                               '"Cluster", "Local"' % v, "FieldValueNotSupported"))
        sa = spec.get("sessionAffinity", "None")
        if sa not in ("None", "ClientIP"):
            causes.append(("spec.sessionAffinity", 'Unsupported value: "%s": supported values: '
                           '"ClientIP", "None"' % sa, "FieldValueNotSupported"))
        for i, r in enumerate(spec.get("loadBalancerSourceRanges") or []):
            try:
                ipaddress.ip_network(str(r).strip(), strict=False)
            except ValueError:
                causes.append(("spec.loadBalancerSourceRanges[%d]" % i, 'Invalid value: "%s": '
                               "must be a list of IP ranges. For example, 10.240.0.0/24,"
                               "10.250.0.0/24 " % r, "FieldValueInvalid"))
        for i, ing in enumerate(((svc.get("status") or {}).get("loadBalancer") or {})
                                .get("ingress") or []):
            f = "status.loadBalancer.ingress[%d]" % i
            if not isinstance(ing, dict):
                continue
            if ing.get("ip") and _family(ing["ip"]) is None:
                causes.append((f + ".ip", 'Invalid value: "%s": must be a valid IP address'
                               % ing["ip"], "FieldValueInvalid"))
            mode = ing.get("ipMode")
            if mode is not None:
                if not ing.get("ip"):
                    causes.append((f + ".ipMode", "Forbidden: may not be specified when `ip` is "
                                   "not set", "FieldValueForbidden"))
                elif mode not in ("VIP", "Proxy"):
                    causes.append((f + ".ipMode", 'Unsupported value: "%s": supported values: '
                                   '"Proxy", "VIP"' % mode, "FieldValueNotSupported"))
        return causes

    def columns(self):
        return [NAME_COL,
                _col("Type", desc="type determines how the Service is exposed."),
                _col("Cluster-IP", desc="clusterIP is the IP address of the service."),
                _col("External-IP", desc="externalIPs is a list of IP addresses for which "
                                         "nodes in the cluster will also accept traffic."),
                _col("Port(s)", desc="The list of ports that are exposed by this service."),
                AGE_COL,
                _col("Selector", priority=1, desc="Route service traffic to pods with label "
                                                  "keys and values matching this selector.")]

    @staticmethod
    def external_ip(svc, wide=False):
        spec = svc.get("spec") or {}
        t = spec.get("type", "ClusterIP")
        ext = spec.get("externalIPs") or []
        if t in ("ClusterIP", "NodePort"):
            return ",".join(ext) if ext else "<none>"
        if t == "LoadBalancer":
            ings = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            vals = []
            for ing in ings:
                if ing.get("ip"):
                    vals.append(ing["ip"])
                elif ing.get("hostname"):
                    vals.append(ing["hostname"])
            lb = ",".join(vals)
            if not wide and len(lb) > 16:
                lb = lb[:13] + "..."
            if ext:
                return ",".join(([lb] if lb else []) + ext)
            return lb or "<pending>"
        if t == "ExternalName":
            return spec.get("externalName", "")
        return "<unknown>"

    def cells(self, svc):
        spec = svc.get("spec") or {}
        cips = spec.get("clusterIPs") or []
        cip = cips[0] if cips else (spec.get("clusterIP") or "<none>")
        ports = []
        for p in spec.get("ports") or []:
            proto = p.get("protocol", "TCP")
            if p.get("nodePort"):
                ports.append("%s:%s/%s" % (p.get("port"), p["nodePort"], proto))
            else:
                ports.append("%s/%s" % (p.get("port"), proto))
        sel = spec.get("selector") or {}
        return [_name(svc), spec.get("type", "ClusterIP"), cip, self.external_ip(svc),
                ",".join(ports) if ports else "<none>", _age(svc),
                ",".join("%s=%s" % kv for kv in sorted(sel.items())) if sel else "<none>"]


# ------------------------------------------------------------------ EndpointSlice

class EndpointSliceType(ResourceType):
    def __init__(self):
        super().__init__("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices",
                         "endpointslice", True)

    @staticmethod
    def _defaults(eps):
        for p in eps.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("name", "")
                p.setdefault("protocol", "TCP")

    def prepare_create(self, eps, store):
        self._defaults(eps)
        eps["metadata"]["generation"] = 1

    def prepare_update(self, new, old, store):
        self._defaults(new)
        strip = lambda o: {k: v for k, v in o.items() if k != "metadata"}
        gen = (old.get("metadata") or {}).get("generation", 1)
        if strip(new) != strip(old):
            gen += 1
        new["metadata"]["generation"] = gen
        if new.get("addressType") != old.get("addressType"):
            raise invalid(self, _name(new), [("addressType", "Invalid value: %r: field is "
                          "immutable" % (new.get("addressType"),), "FieldValueInvalid")])

    def validate(self, eps, old=None):
        causes = super().validate(eps, old)
        at = eps.get("addressType")
        if at is None:
            causes.append(("addressType", "Required value", "FieldValueRequired"))
        elif at not in ("IPv4", "IPv6", "FQDN"):
            causes.append(("addressType", 'Unsupported value: "%s": supported values: "FQDN", '
                           '"IPv4", "IPv6"' % at, "FieldValueNotSupported"))
        eps_list = eps.get("endpoints") or []
        if not isinstance(eps_list, list):
            eps_list = []
            causes.append(("endpoints", "Invalid value: must be a list", "FieldValueInvalid"))
        if len(eps_list) > 1000:
            causes.append(("endpoints", "Too many: %d: must have at most 1000 items"
                           % len(eps_list), "FieldValueTooMany"))
        for i, ep in enumerate(eps_list):
            f = "endpoints[%d]" % i
            addrs = (ep or {}).get("addresses") or []
            if len(addrs) < 1:
                causes.append((f + ".addresses", "Required value: must contain at least 1 address",
                               "FieldValueRequired"))
            if len(addrs) > 100:
                causes.append((f + ".addresses", "Too many: %d: must have at most 100 items"
                               % len(addrs), "FieldValueTooMany"))
            for j, a in enumerate(addrs):
                fam = _family(a) if isinstance(a, str) else None
                if at in ("IPv4", "IPv6") and fam != at:
                    causes.append(("%s.addresses[%d]" % (f, j), 'Invalid value: "%s": must be a '
                                   "valid %s address" % (a, at), "FieldValueInvalid"))
            for c in ("ready", "serving", "terminating"):
                v = ((ep or {}).get("conditions") or {}).get(c)
                if v is not None and not isinstance(v, bool):
                    causes.append(("%s.conditions.%s" % (f, c), "Invalid value: must be a boolean",
                                   "FieldValueTypeInvalid"))
        ports = eps.get("ports") or []
        if len(ports) > 100:
            causes.append(("ports", "Too many: %d: must have at most 100 items" % len(ports),
                           "FieldValueTooMany"))
        names = set()
        for i, p in enumerate(ports):
            f = "ports[%d]" % i
            n = (p or {}).get("name", "")
            if n:
                if not DNS1123_LABEL.match(n):
                    causes.append((f + ".name", 'Invalid value: "%s": a lowercase RFC 1123 label '
                                   "must consist of lower case alphanumeric characters or '-'" % n,
                                   "FieldValueInvalid"))
            if n in names:
                causes.append((f + ".name", 'Duplicate value: "%s"' % n, "FieldValueDuplicate"))
            names.add(n)
            port = (p or {}).get("port")
            if port is not None and (not isinstance(port, int) or not 0 <= port <= 65535):
                causes.append((f + ".port", "Invalid value: %s: must be between 0 and 65535, "
                               "inclusive" % (port,), "FieldValueInvalid"))
            proto = (p or {}).get("protocol", "TCP")
            if proto not in ("TCP", "UDP", "SCTP"):
                causes.append((f + ".protocol", 'Unsupported value: "%s": supported values: '
                               '"SCTP", "TCP", "UDP"' % proto, "FieldValueNotSupported"))
        return causes

    def columns(self):
        return [NAME_COL,
                _col("AddressType", desc="addressType specifies the type of address carried "
                                         "by this EndpointSlice."),
                _col("Ports", desc="ports specifies the list of network ports exposed by each "
                                   "endpoint in this slice."),
                _col("Endpoints", desc="endpoints is a list of unique endpoints in this slice."),
                AGE_COL]

    def cells(self, eps):
        ports = eps.get("ports") or []
        if not ports:
            pcell = "<unset>"
        else:
            ps = [str(p["port"]) if p.get("port") is not None else "<unset>" for p in ports[:3]]
            pcell = ",".join(ps)
            if len(ports) > 3:
                pcell += " + %d more..." % (len(ports) - 3)
        addrs = [a for ep in eps.get("endpoints") or [] for a in (ep.get("addresses") or [])]
        if not addrs:
            ecell = "<unset>"
        else:
            ecell = ",".join(addrs[:3])
            if len(addrs) > 3:
                ecell += " + %d more..." % (len(addrs) - 3)
        return [_name(eps), eps.get("addressType", ""), pcell, ecell, _age(eps)]


# ------------------------------------------------------------------ Endpoints

class EndpointsType(ResourceType):
    short_names = ("ep",)
    create_on_update = True

    def __init__(self):
        super().__init__("", "v1", "Endpoints", "endpoints", "endpoints", True)

    def columns(self):
        return [NAME_COL, _col("Endpoints", desc="Endpoints is the list of endpoints."), AGE_COL]

    def cells(self, ep):
        out = []
        for s in ep.get("subsets") or []:
            ports = s.get("ports") or [{}]
            for a in s.get("addresses") or []:
                for p in ports:
                    out.append("%s:%s" % (a.get("ip"), p.get("port")) if p.get("port")
                               else a.get("ip"))
        cell = ",".join(out[:3]) if out else "<none>"
        if len(out) > 3:
            cell += " + %d more..." % (len(out) - 3)
        return [_name(ep), cell, _age(ep)]


# ------------------------------------------------------------------ Namespace

class NamespaceType(ResourceType):
    name_rx = DNS1123_LABEL
    status_subresource = True
    short_names = ("ns",)

    def __init__(self):
        super().__init__("", "v1", "Namespace", "namespaces", "namespace", False)

    def prepare_create(self, ns, store):
        md = ns["metadata"]
        md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md["name"]
        ns.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        ns["status"] = {"phase": "Active"}

    def prepare_update(self, new, old, store):
        new["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = _name(new)
        new["spec"] = old.get("spec", {})
        new["status"] = old.get("status", {"phase": "Active"})

    def columns(self):
        return [NAME_COL, _col("Status", desc="The status of the namespace"), AGE_COL]

    def cells(self, ns):
        return [_name(ns), (ns.get("status") or {}).get("phase", ""), _age(ns)]


# ------------------------------------------------------------------ Events

def _event_cells(ev, core):
    if core:
        last = ev.get("lastTimestamp") or ev.get("eventTime") or \
            ((ev.get("series") or {}).get("lastObservedTime"))
        first = ev.get("firstTimestamp") or ev.get("eventTime")
        obj = ev.get("involvedObject") or {}
        msg = ev.get("message", "")
        src = (ev.get("source") or {}).get("component") or ev.get("reportingComponent", "")
        count = ev.get("count", 1) or 1
    else:
        last = ((ev.get("series") or {}).get("lastObservedTime")) or ev.get("eventTime") or \
            ev.get("deprecatedLastTimestamp")
        first = ev.get("eventTime") or ev.get("deprecatedFirstTimestamp")
        obj = ev.get("regarding") or {}
        msg = ev.get("note", "")
        src = ev.get("reportingController", "")
        count = (ev.get("series") or {}).get("count", 1)
    t = parse_time(last)
    if t is None:
        t = parse_time((ev.get("metadata") or {}).get("creationTimestamp"))
    last_seen = human_duration(time.time() - t) if t is not None else "<unknown>"
    tf = parse_time(first)
    first_seen = human_duration(time.time() - tf) if tf is not None else "<unknown>"
    ocell = "%s/%s" % (str(obj.get("kind", "")).lower(), obj.get("name", ""))
    return [last_seen, ev.get("type", ""), ev.get("reason", ""), ocell,
            obj.get("fieldPath", ""), src, msg.strip(), first_seen, count, _name(ev)]


_EVENT_COLS = [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"),
               _col("Subobject", priority=1), _col("Source", priority=1), _col("Message"),
               _col("First Seen", priority=1), _col("Count", typ="integer", priority=1),
               _col("Name", priority=1)]


class EventType(ResourceType):
    short_names = ("ev",)
    create_on_update = True

    def __init__(self):
        super().__init__("", "v1", "Event", "events", "event", True)

    def validate(self, ev, old=None):
        causes = super().validate(ev, old)
        ns = (ev.get("metadata") or {}).get("namespace")
        io = ev.get("involvedObject") or {}
        if io.get("namespace") and ns and io["namespace"] != ns:
            causes.append(("involvedObject.namespace", 'Invalid value: "%s": does not match '
                           "event.namespace" % io["namespace"], "FieldValueInvalid"))
        return causes

    def columns(self):
        return _EVENT_COLS

    def cells(self, ev):
        return _event_cells(ev, True)


class EventsV1Type(ResourceType):
    short_names = ("ev",)
    create_on_update = True

    def __init__(self):
        super().__init__("events.k8s.io", "v1", "Event", "events", "event", True)

    def columns(self):
        return _EVENT_COLS

    def cells(self, ev):
        return _event_cells(ev, False)


# ------------------------------------------------------------------ registry

SERVICES = ServiceType()
ENDPOINTSLICES = EndpointSliceType()
ENDPOINTS = EndpointsType()
NAMESPACES = NamespaceType()
EVENTS = EventType()
EVENTS_V1 = EventsV1Type()

ALL = [NAMESPACES, SERVICES, ENDPOINTS, EVENTS, ENDPOINTSLICES, EVENTS_V1]

from .extra import EXTRA  # noqa: E402 - Leases, RBAC, ServiceAccounts, Secrets: stored as given
ALL += EXTRA

# group -> version -> {plural: ResourceType}
GROUPS = {}
for _rt in ALL:
    GROUPS.setdefault(_rt.group, {}).setdefault(_rt.version, {})[_rt.plural] = _rt

GROUP_ORDER = ["discovery.k8s.io", "events.k8s.io", "coordination.k8s.io",
               "rbac.authorization.k8s.io"]


def lookup(group, version, plural):
    return GROUPS.get(group, {}).get(version, {}).get(plural)
