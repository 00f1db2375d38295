"""Kinds the fake stores as given, with no defaulting beyond metadata: Leases (leader
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


class Plain(ResourceType):
    def __init__(self, group, kind, plural, namespaced, short=()):
        super().__init__(group, "v1", kind, plural, kind.lower(), namespaced)
        self.short_names = short


RBAC = "rbac.authorization.k8s.io"
EXTRA = [
    LeaseType(),
    Plain("", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    Plain("", "Secret", "secrets", True),
    Plain(RBAC, "ClusterRole", "clusterroles", False),
    Plain(RBAC, "ClusterRoleBinding", "clusterrolebindings", False),
    Plain(RBAC, "Role", "roles", True),
    Plain(RBAC, "RoleBinding", "rolebindings", True),
]
