#!/usr/bin/env python3
"""check-layout.py - the tree keeps the shape docs/architecture.md promises.

Usage: scripts/check-layout.py BUILD_DIR

1. No translation-unit cycle between folders. For every object of edgelb-dp and
   edgelb-cp (compile_commands.json names the source of each), `nm` lists what it
   defines and what it needs; an undefined symbol defined by another object is an
   arrow from the first object's folder to the second's. The folder graph must
   have no cycle (a folder calling into itself is fine: the fast path is one
   translation unit anyway).
2. No source file over 800 lines outside tests/.

Prints what it checked and every violation; exit status 1 on any.
"""
import json
import os
import subprocess
import sys

MAX_LINES = 800


def objects(build):
    with open(os.path.join(build, "compile_commands.json")) as f:
        cmds = json.load(f)
    out = {}
    for c in cmds:
        src = os.path.normpath(os.path.join(c["directory"], c["file"]))
        obj = os.path.normpath(os.path.join(c["directory"], c["output"]))
        rel = os.path.relpath(src, ROOT)
        # Only the daemons' own code: tests, benchmarks and the CLI link what they like.
        if rel.startswith(("dp/", "cp/", "include/")) and "/bench/" not in rel \
                and not rel.startswith("tests/") and os.path.exists(obj):
            out[obj] = rel
    return out


def symbols(obj):
    defined, undefined = set(), set()
    res = subprocess.run(["nm", "-P", obj], capture_output=True, text=True, check=True)
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind in "TDBRCVW":
            defined.add(name)
    return defined, undefined


def find_cycles(graph):
    """Every elementary cycle's first edge back, by depth-first search."""
    cycles, colour, stack = [], {}, []

    def visit(n):
        colour[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if colour.get(m) == 1:
                cycles.append(stack[stack.index(m):] + [m])
            elif colour.get(m) is None:
                visit(m)
        stack.pop()
        colour[n] = 2

    for n in sorted(graph):
        if colour.get(n) is None:
            visit(n)
    return cycles


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    bad = 0

    objs = objects(build)
    owner, needs = {}, {}
    for obj, rel in objs.items():
        d, u = symbols(obj)
        for s in d:
            owner.setdefault(s, set()).add(rel)
        needs[rel] = u
    graph, why = {}, {}
    for rel, u in needs.items():
        a = os.path.dirname(rel)
        for s in u:
            for other in owner.get(s, ()):
                b = os.path.dirname(other)
                if a != b:
                    graph.setdefault(a, set()).add(b)
                    why.setdefault((a, b), f"{rel} -> {other} ({s})")
    print(f"layout: {len(objs)} objects, folder arrows:")
    for a in sorted(graph):
        print(f"  {a} -> {', '.join(sorted(graph[a]))}")
    for cyc in find_cycles(graph):
        bad += 1
        print("layout: CYCLE " + " -> ".join(cyc))
        for a, b in zip(cyc, cyc[1:]):
            print(f"    {why[(a, b)]}")

    long_files = 0
    for top in ("dp", "cp", "include", "scripts"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for fn in files:
                if not fn.endswith((".c", ".h", ".py", ".sh")):
                    continue
                p = os.path.join(dirpath, fn)
                with open(p, errors="replace") as f:
                    n = sum(1 for _ in f)
                if n > MAX_LINES:
                    long_files += 1
                    print(f"layout: {os.path.relpath(p, ROOT)} has {n} lines (> {MAX_LINES})")
    bad += long_files
    print(f"layout: {bad} problem(s)")
    return 1 if bad else 0


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if __name__ == "__main__":
    sys.exit(main())
