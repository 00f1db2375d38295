"""Kinds the fake stores as given, with no defaulting beyond metadata: Nodes (status kept
on create as a kubelet registers it, then changed only through /status; `kubectl get nodes`
columns), Leases (leader
election: updates conflict on a stale resourceVersion like every kind), and what the RBAC
manifests in conf/kubernetes/ create (ServiceAccount, Secret, ClusterRole, Role and their
bindings), so `kubectl apply -f conf/kubernetes/` works against the fake. Nothing is
enforced: the fake has no authorization."""

from .resources import AGE_COL, NAME_COL, ResourceType, _age, _col, _name


class LeaseType(ResourceType):
    def __init__(self):
        super().__init__("coordination.k8s.io", "v1", "Lease", "leases", "lease", True)

    def columns(self):
        return [NAME_COL, _col("Holder", desc="holderIdentity"), AGE_COL]

    def cells(self, ls):
        return [_name(ls), (ls.get("spec") or {}).get("holderIdentity") or "", _age(ls)]


class NodeType(ResourceType):
    status_subresource = True
    short_names = ("no",)

    def __init__(self):
        super().__init__("", "v1", "Node", "nodes", "node", False)

    def columns(self):
        return [NAME_COL, _col("Status", desc="The status of the node"),
                _col("Roles", desc="The roles of the node"), AGE_COL,
                _col("Version", desc="Kubelet Version reported by the node.")]

    def cells(self, no):
        st = no.get("status") or {}
        ready = [c.get("status") for c in st.get("conditions") or []
                 if isinstance(c, dict) and c.get("type") == "Ready"]
        txt = "Unknown" if not ready or ready[0] == "Unknown" else \
            "Ready" if ready[0] == "True" else "NotReady"
        if (no.get("spec") or {}).get("unschedulable"):
            txt += ",SchedulingDisabled"
        labels = (no.get("metadata") or {}).get("labels") or {}
        roles = sorted(k.split("/", 1)[1] for k in labels
                       if k.startswith("node-role.kubernetes.io/") and "/" in k)
        return [_name(no), txt, ",".join(r for r in roles if r) or "<none>", _age(no),
                (st.get("nodeInfo") or {}).get("kubeletVersion", "")]


class Plain(ResourceType):
    def __init__(self, group, kind, plural, namespaced, short=()):
        super().__init__(group, "v1", kind, plural, kind.lower(), namespaced)
        self.short_names = short


RBAC = "rbac.authorization.k8s.io"
EXTRA = [
    NodeType(),
    LeaseType(),
    Plain("", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    Plain("", "Secret", "secrets", True),
    Plain(RBAC, "ClusterRole", "clusterroles", False),
    Plain(RBAC, "ClusterRoleBinding", "clusterrolebindings", False),
    Plain(RBAC, "Role", "roles", True),
    Plain(RBAC, "RoleBinding", "rolebindings", True),
]
