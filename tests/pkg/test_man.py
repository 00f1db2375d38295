#!/usr/bin/env python3
"""test_man.py - the man pages render and cannot have drifted from the docs.

For each page built into build/docs: `man -l` renders it without a warning and
shows NAME. Every setting of docs/configuration.md (the first column of its
tables and the **`name`** bullets) appears in edgelb-dp.conf(5) or
edgelb-cp.conf(5), whichever part of the reference it is in. Every long option
of `edgelb-cp --help`, `edgelb-dp`'s usage and every edgelbctl command appears in
the (8) page of that program. No root, no DPDK.
"""
import os
import re
import subprocess
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BUILD = os.environ.get("EDGELB_BUILD", os.path.join(SRC, "build"))
checks = 0


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def ok(msg):
    global checks
    checks += 1
    print("ok: " + msg)


def render(page):
    path = os.path.join(BUILD, "docs", page)
    r = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
    if r.returncode != 0 or r.stderr.strip():
        fail("man -l %s: exit %d %s" % (page, r.returncode, r.stderr.strip()[:500]))
    text = re.sub(r".\x08", "", r.stdout)          # overstrike bold/underline
    text = re.sub(r"\u2010\n\s*", "", text)         # hyphenated line breaks
    text = re.sub(r"-\n\s*", "-", text)
    if "NAME" not in text:
        fail("man -l %s shows no NAME section" % page)
    return text


def reference_settings():
    """{'edgelb-dp': set of names, 'edgelb-cp': ...} from docs/configuration.md."""
    out, cur = {"edgelb-dp": set(), "edgelb-cp": set()}, None
    for line in open(os.path.join(SRC, "docs", "configuration.md"), encoding="utf-8"):
        if line.startswith("## "):
            cur = next((k for k in out if line[3:].startswith(k)), None)
            continue
        if cur is None:
            continue
        m = re.match(r"^\s*\| `([a-z_][a-z0-9_]*)`", line)
        if m:
            out[cur].add(m.group(1))
        for m in re.finditer(r"\*\*`([a-z_][a-z0-9_]*)`\*\*", line):
            out[cur].add(m.group(1))
    return out


def main():
    pages = {p: render(p) for p in ["edgelb-dp.8", "edgelb-cp.8", "edgelbctl.8",
                                     "edgelb-dp.conf.5", "edgelb-cp.conf.5"]}
    ok("man -l renders all five pages without warnings")

    ref = reference_settings()
    for prog, names in ref.items():
        if len(names) < 10:
            fail("only %d settings found for %s in docs/configuration.md" % (len(names), prog))
        page = pages[prog + ".conf.5"]
        missing = sorted(n for n in names if not re.search(r"\b%s\b" % re.escape(n), page))
        if missing:
            fail("%s.conf(5) lacks settings of docs/configuration.md: %s" % (prog, missing))
        ok("%s.conf(5) names all %d settings of the reference" % (prog, len(names)))

    helps = {
        "edgelb-cp.8": subprocess.run([os.path.join(BUILD, "cp", "edgelb-cp"), "--help"],
                                      capture_output=True, text=True).stderr,
        "edgelb-dp.8": open(os.path.join(SRC, "dp", "main.c")).read(),
        "edgelbctl.8": subprocess.run([os.path.join(BUILD, "cp", "edgelbctl"), "help"],
                                      capture_output=True, text=True).stdout,
    }
    for page, text in helps.items():
        opts = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", text))
        if page == "edgelb-dp.8":   # the usage() text of main.c
            opts = set(re.findall(r'"\s+(--[a-z][a-z-]+)', text)) | {"--version"}
        if page == "edgelbctl.8":
            opts |= set(re.findall(r"^  ([a-z][a-z-]+)\s", text, re.M))
        if len(opts) < 3:
            fail("%s: could not read the program's options (%s)" % (page, opts))
        missing = sorted(o for o in opts if o not in pages[page])
        if missing:
            fail("%s lacks %s" % (page, missing))
        ok("%s documents %s" % (page, " ".join(sorted(opts))))
    print("%d passed, 0 failed" % checks)


if __name__ == "__main__":
    main()
