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


def main():
    pandoc, src, ref, version, out = sys.argv[1:6]
    text = open(src, encoding="utf-8").read()
    reftext = open(ref, encoding="utf-8").read()
    text = re.sub(r"^@CONFIG_SECTION (.+)@$", lambda m: config_section(reftext, m.group(1)),
                  text, flags=re.M)
    text = text.replace("@VERSION@", version)
    # Relative links of the docs mean nothing in a man page: keep their text.
    text = re.sub(r"\[([^\]]+)\]\((?!https?:)[^)]*\)", r"\1", text)
    subprocess.run([pandoc, "--standalone", "--from", "markdown", "--to", "man", "-o", out],
                   input=text.encode(), check=True)


if __name__ == "__main__":
    main()
