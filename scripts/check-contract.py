#!/usr/bin/env python3
"""check-contract.py - the dp<->cp contract stays a small dependency-free library.

Usage: scripts/check-contract.py LIBEDGELB_CONTRACT.a LIBEDGELB_CONF.a

`nm -u` lists what each static library needs from outside itself:
- edgelb-contract (dp/lib/model.c, dp/lib/svc_json.c) may need libc and jansson,
  nothing of DPDK (rte_*), libconfig (config_*) or threads (pthread_*);
- edgelb-conf (dp/lib/conf_engine.c) may add libconfig, still no DPDK or threads.
Both daemons link these two; a dependency creeping in here would reach both.
Prints what it checked; exit status 1 on any violation.
"""
import subprocess
import sys

RULES = [("edgelb-contract", ("rte_", "config_", "pthread_")),
         ("edgelb-conf", ("rte_", "pthread_"))]


def undefined(lib):
    out = subprocess.run(["nm", "-u", lib], check=True, capture_output=True, text=True).stdout
    return sorted({line.split()[-1] for line in out.splitlines() if line.strip() and ":" not in line})


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    bad = 0
    for (name, banned), lib in zip(RULES, argv[1:]):
        syms = undefined(lib)
        wrong = [s for s in syms if s.startswith(banned)]
        print(f"contract: {name}: {len(syms)} outside symbol(s), none may start with "
              f"{', '.join(banned)}")
        for s in wrong:
            print(f"contract: {name} needs {s}")
        bad += len(wrong)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
