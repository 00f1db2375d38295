#!/usr/bin/env python3
"""mkman.py PANDOC SOURCE.md CONFIGURATION.md VERSION OUT - one man page.

SOURCE.md is a pandoc man page source. A line "@CONFIG_SECTION name@" is replaced
by the part of docs/configuration.md whose "## " heading starts with that name,
headings raised two levels, so edgelb-dp.conf(5) and edgelb-cp.conf(5) are the
configuration reference itself and cannot drift from it. "@VERSION@" becomes
the project version. pandoc renders the result as roff.
"""
import re
import subprocess
import sys


def config_section(ref, name):
    out, inside = [], False
    for line in ref.splitlines():
        if line.startswith("## "):
            inside = line[3:].startswith(name)
            continue
        if line.startswith("# "):
            inside = False
        if inside:
            # "### `dp` - ..." -> "# `DP` ...": man sections are level 1 headings.
            m = re.match(r"^(#{3,}) (.*)$", line)
            if m:
                line = "#" * (len(m.group(1)) - 2) + " " + m.group(2)
            out.append(line)
    if not out:
        sys.exit(f"mkman: no '## {name}' section in the configuration reference")
    return "\n".join(out)


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def tables_to_lists(text):
    """A pipe table becomes a definition list: tbl cannot fit the reference's wide
    tables in 80 columns, a list reads well at any width. Row "| `x` | int | 3 |"
    under "| setting | type | default |" becomes "`x`" / ": type: int; default: 3"."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if (lines[i].lstrip().startswith("|") and i + 1 < len(lines)
                and re.match(r"^\|[-:| ]+\|$", lines[i + 1].strip())):
            indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
            head = cells(lines[i])
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                row = cells(lines[i])
                out.append(indent + row[0])
                out.append(indent + ":   " + "; ".join(
                    f"{h.lower()}: {v}" for h, v in zip(head[1:], row[1:]) if v))
                out.append("")
                i += 1
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def main():
    pandoc, src, ref, version, out = sys.argv[1:6]
    text = open(src, encoding="utf-8").read()
    reftext = open(ref, encoding="utf-8").read()
    text = re.sub(r"^@CONFIG_SECTION (.+)@$", lambda m: config_section(reftext, m.group(1)),
                  text, flags=re.M)
    text = text.replace("@VERSION@", version)
    text = tables_to_lists(text)
    # Relative links of the docs mean nothing in a man page: keep their text.
    text = re.sub(r"\[([^\]]+)\]\((?!https?:)[^)]*\)", r"\1", text)
    subprocess.run([pandoc, "--standalone", "--from", "markdown", "--to", "man", "-o", out],
                   input=text.encode(), check=True)


if __name__ == "__main__":
    main()
