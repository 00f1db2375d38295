"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and Kubernetes
strategic merge patch, the last one driven by a small table of list merge keys for the
kinds served here (see MERGE_KEYS).

Strategic merge patch, what is honoured:
- maps merge recursively; a null value deletes the key;
- lists with a merge key (Service spec.ports by "port", metadata.ownerReferences by
  "uid", *.conditions by "type", ...) merge element by element; other lists of maps
  and primitive lists are replaced, except the primitive lists marked "merge"
  (metadata.finalizers), which are unions;
- directives: "$patch": "replace" | "delete" | "merge" in maps and list elements,
  "$retainKeys", "$setElementOrder/<list>", "$deleteFromPrimitiveList/<list>".
Not honoured: "$setElementOrder" interleaving of server-only elements (those go after
the ordered ones), patch-type lookups from OpenAPI.
"""

import copy

from .util import APIError, bad_request

# (kind, path) -> merge key; path is the tuple of map keys from the object root, list
# indices skipped. "" as merge key = primitive list with merge strategy (union).
_COMMON = {
    ("metadata", "finalizers"): "",
    ("metadata", "ownerReferences"): "uid",
    ("status", "conditions"): "type",
}
MERGE_KEYS = {
    "Service": {
        ("spec", "ports"): "port",
    },
    "Endpoints": {},
    "EndpointSlice": {},
    "Namespace": {},
    "Node": {
        ("status", "addresses"): "type",
    },
    "Event": {},
    "Pod": {
        ("spec", "containers"): "name",
        ("spec", "containers", "ports"): "containerPort",
        ("spec", "containers", "env"): "name",
        ("spec", "volumes"): "name",
    },
}


def merge_key_for(kind, path):
    table = MERGE_KEYS.get(kind, {})
    if path in table:
        return table[path]
    if path in _COMMON:
        return _COMMON[path]
    if path and path[-1] == "conditions":
        return "type"
    return None


# ---------------------------------------------------------------- JSON merge patch

def json_merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = json_merge_patch(out.get(k), v)
    return out


# ---------------------------------------------------------------- JSON patch

def _ptr_parts(ptr):
    if ptr == "":
        return []
    if not ptr.startswith("/"):
        raise bad_request("invalid JSON pointer %r" % ptr)
    return [p.replace("~1", "/").replace("~0", "~") for p in ptr[1:].split("/")]


def _walk(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise bad_request("the server rejected our request due to an error in our "
                                  "request: doc is missing path: /%s" % "/".join(parts))
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise bad_request("the server rejected our request due to an error in our "
                                  "request: doc is missing path: /%s" % "/".join(parts))
        else:
            raise bad_request("doc is missing path: /%s" % "/".join(parts))
    return cur


def _add(doc, parts, value, replace=False):
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise bad_request("replace operation does not apply: doc is missing key: /%s"
                              % "/".join(parts))
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            if replace:
                raise bad_request("replace of '-' is invalid")
            parent.append(value)
        else:
            try:
                i = int(last)
            except ValueError:
                raise bad_request("invalid list index %r" % last)
            if replace:
                if not 0 <= i < len(parent):
                    raise bad_request("replace index out of range")
                parent[i] = value
            else:
                if not 0 <= i <= len(parent):
                    raise bad_request("add index out of range")
                parent.insert(i, value)
    else:
        raise bad_request("cannot add to a scalar at /%s" % "/".join(parts))
    return doc


def _remove(doc, parts):
    if not parts:
        raise bad_request("cannot remove the document root")
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise bad_request("remove operation does not apply: doc is missing path: /%s"
                              % "/".join(parts))
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            return parent.pop(int(last))
        except (ValueError, IndexError):
            raise bad_request("remove index out of range")
    raise bad_request("cannot remove from a scalar")


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request("invalid json patch operation %r" % (op,))
        kind = op["op"]
        parts = _ptr_parts(op["path"])
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), replace=True)
        elif kind in ("move", "copy"):
            src = _ptr_parts(op.get("from", ""))
            if kind == "move":
                val = _remove(doc, src)
            else:
                val = copy.deepcopy(_walk(doc, src))
            doc = _add(doc, parts, val)
        elif kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise APIError(422, "the server rejected our request due to an error in our "
                                    "request: testing value %s failed" % op["path"], "Invalid")
        else:
            raise bad_request("unknown json patch op %r" % kind)
    return doc


# ---------------------------------------------------------------- strategic merge patch

def _strip_directives(v):
    """A value from a patch, without directives, as it lands in the result."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k in ("$patch", "$retainKeys") or k.startswith("$setElementOrder/") \
                    or k.startswith("$deleteFromPrimitiveList/"):
                continue
            if x is None:
                continue
            out[k] = _strip_directives(x)
        return out
    if isinstance(v, list):
        return [_strip_directives(x) for x in v
                if not (isinstance(x, dict) and x.get("$patch") == "delete")]
    return v


def strategic_merge_patch(original, patch, kind):
    if not isinstance(patch, dict):
        raise bad_request("strategic merge patch must be a JSON object")
    res = _merge_map(copy.deepcopy(original) if isinstance(original, dict) else {},
                     patch, kind, ())
    return res if res is not None else {}


def _merge_map(orig, patch, kind, path):
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip_directives(patch)
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise bad_request("Unknown patch type: %s" % directive)
    retain = patch.get("$retainKeys")
    if retain is not None:
        if not isinstance(retain, list):
            raise bad_request("$retainKeys must be a list")
        for k in list(orig.keys()):
            if k not in retain:
                del orig[k]
    orders = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k[len("$setElementOrder/"):]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k[len("$deleteFromPrimitiveList/"):]
            cur = orig.get(field)
            if isinstance(cur, list) and isinstance(v, list):
                orig[field] = [x for x in cur if x not in v]
            continue
        if v is None:
            orig.pop(k, None)
            continue
        sub = path + (k,)
        cur = orig.get(k)
        if isinstance(v, dict):
            if isinstance(cur, dict):
                merged = _merge_map(cur, v, kind, sub)
            else:
                merged = _merge_map({}, v, kind, sub)
            if merged is None:
                orig.pop(k, None)
            else:
                orig[k] = merged
        elif isinstance(v, list):
            orig[k] = _merge_list(cur if isinstance(cur, list) else [], v, kind, sub)
        else:
            orig[k] = v
    for field, order in orders.items():
        cur = orig.get(field)
        if isinstance(cur, list) and isinstance(order, list):
            orig[field] = _apply_order(cur, order, merge_key_for(kind, path + (field,)))
    return orig


def _merge_list(orig, patch, kind, path):
    key = merge_key_for(kind, path)
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [_strip_directives(x) for x in patch
                if not (isinstance(x, dict) and x.get("$patch") == "replace")]
    if key is None:
        return _strip_directives(patch)
    if key == "":
        out = list(orig)
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    out = [copy.deepcopy(x) for x in orig]
    for el in patch:
        if not isinstance(el, dict):
            raise bad_request("strategic merge patch: list %s needs maps with key %s"
                              % (".".join(path), key))
        kv = el.get(key)
        idx = next((i for i, o in enumerate(out)
                    if isinstance(o, dict) and o.get(key) == kv), None)
        if el.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_strip_directives(el))
        else:
            out[idx] = _merge_map(out[idx], el, kind, path)
    return out


def _apply_order(items, order, key):
    def ident(x):
        if key and isinstance(x, dict):
            return x.get(key)
        return x if not isinstance(x, (dict, list)) else repr(x)

    wanted = []
    for o in order:
        wanted.append(o.get(key) if (key and isinstance(o, dict)) else o)
    pos = {w: i for i, w in enumerate(wanted)}
    known = sorted((x for x in items if ident(x) in pos), key=lambda x: pos[ident(x)])
    rest = [x for x in items if ident(x) not in pos]
    return known + rest
