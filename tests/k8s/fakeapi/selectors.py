"""Label and field selectors, as the apiserver parses them from list/watch queries."""

import re

from .util import bad_request, get_path

_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VAL_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def _split_top(s):
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


class LabelSelector:
    """Requirements: (key, op, values). ops: =, !=, in, notin, exists, !, gt, lt."""

    def __init__(self, text):
        self.text = text or ""
        self.reqs = []
        if not self.text.strip():
            return
        for raw in _split_top(self.text):
            part = raw.strip()
            if not part:
                raise bad_request("unable to parse requirement: found '', expected: identifier")
            self.reqs.append(self._parse(part))

    @staticmethod
    def _check_key(key):
        if not _KEY_RE.match(key):
            raise bad_request("unable to parse requirement: invalid label key \"%s\"" % key)

    @staticmethod
    def _check_val(val):
        if len(val) > 63 or not _VAL_RE.match(val):
            raise bad_request("unable to parse requirement: invalid label value: \"%s\"" % val)

    def _parse(self, part):
        m = re.match(r"^(\S+)\s+(in|notin)\s*\((.*)\)$", part)
        if m:
            key, op, vals = m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]
            self._check_key(key)
            for v in vals:
                self._check_val(v)
            return (key, op, set(vals))
        if part.startswith("!"):
            key = part[1:].strip()
            self._check_key(key)
            return (key, "!", None)
        for op in ("==", "!=", "=", ">", "<"):
            i = part.find(op)
            if i > 0:
                key, val = part[:i].strip(), part[i + len(op):].strip()
                self._check_key(key)
                if op in (">", "<"):
                    try:
                        n = int(val)
                    except ValueError:
                        raise bad_request("unable to parse requirement: for 'gt', 'lt' operators, "
                                          "the value must be an integer")
                    return (key, "gt" if op == ">" else "lt", n)
                self._check_val(val)
                return (key, "!=" if op == "!=" else "=", val)
        self._check_key(part)
        return (part, "exists", None)

    def matches(self, labels):
        labels = labels or {}
        for key, op, val in self.reqs:
            have = key in labels
            v = labels.get(key)
            if op == "=":
                if not have or v != val:
                    return False
            elif op == "!=":
                if have and v == val:
                    return False
            elif op == "in":
                if not have or v not in val:
                    return False
            elif op == "notin":
                if have and v in val:
                    return False
            elif op == "exists":
                if not have:
                    return False
            elif op == "!":
                if have:
                    return False
            elif op in ("gt", "lt"):
                try:
                    n = int(v)
                except (TypeError, ValueError):
                    return False
                if (op == "gt" and not n > val) or (op == "lt" and not n < val):
                    return False
        return True

    def empty(self):
        return not self.reqs


class FieldSelector:
    """key=value / key==value / key!=value, joined by commas. Keys are dotted paths into
    the object (metadata.name, metadata.namespace, spec.type, involvedObject.name, ...)."""

    def __init__(self, text):
        self.text = text or ""
        self.reqs = []
        if not self.text.strip():
            return
        for raw in self.text.split(","):
            part = raw.strip()
            if not part:
                continue
            for op in ("!=", "==", "="):
                i = part.find(op)
                if i > 0:
                    key, val = part[:i].strip(), part[i + len(op):].strip()
                    self.reqs.append((key, "!=" if op == "!=" else "=", val))
                    break
            else:
                raise bad_request("invalid selector: '%s'; can't understand '%s'" % (self.text, part))

    def matches(self, obj):
        for key, op, val in self.reqs:
            v = get_path(obj, key)
            if v is None:
                v = ""
            elif isinstance(v, bool):
                v = "true" if v else "false"
            else:
                v = str(v)
            if op == "=" and v != val:
                return False
            if op == "!=" and v == val:
                return False
        return True

    def empty(self):
        return not self.reqs


class Filter:
    """namespace + label selector + field selector, applied to objects of one type."""

    def __init__(self, namespace=None, label=None, field=None):
        self.namespace = namespace
        self.label = LabelSelector(label)
        self.field = FieldSelector(field)

    def matches(self, obj):
        if obj is None:
            return False
        md = obj.get("metadata") or {}
        if self.namespace is not None and md.get("namespace", "") != self.namespace:
            return False
        if not self.label.matches(md.get("labels")):
            return False
        return self.field.matches(obj)
