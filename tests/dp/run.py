#!/usr/bin/python3
"""
run.py - run one edgelb-dp packet test scenario group (tests/dp/README.md).

  tests/dp/run.py --case fnat4 --build build      (exit 0 pass, 1 fail, 77 skip)

One case per process: a case moves the process into its own network namespace,
which vanishes with it. Cases: oracle fnat4 fnat6 udp-dnat maglev malformed ring
rte-flow ctl affinity-workers hostile offload neigh sync sync-pair sync-lag (oracle checks the packet checker itself and needs no dp).
"""
import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SKIP = 77
CASES = ["oracle", "fnat4", "fnat6", "udp-dnat", "maglev", "malformed", "ring", "rte-flow", "ctl", "sync", "sync-pair", "sync-lag", "sync-takeover",
         "affinity-workers", "hostile", "offload", "neigh"]
LIVE = {"fnat4", "fnat6", "udp-dnat", "ring", "rte-flow", "ctl", "affinity-workers", "hostile", "offload", "neigh", "sync", "sync-pair", "sync-lag", "sync-takeover"}


def on_sigterm(sig, frame):
    # meson's timeout: unwind so every finally: kills our dp and removes our files
    raise SystemExit(f"terminated by signal {sig}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", required=True, choices=CASES)
    ap.add_argument("--build", required=True, help="meson build directory")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)

    build = os.path.abspath(a.build)
    if a.case == "oracle":
        import lbtest as T
        import case_oracle
        ck = T.Checks("dp-oracle")
        case_oracle.run_case(ck)
        return ck.summary()
    if not os.access(os.path.join(build, "dp", "edgelb-dp"), os.X_OK):
        print(f"no {build}/dp/edgelb-dp: build it first (ninja -C {a.build})")
        return 1
    if os.geteuid() != 0:
        print("FAIL: needs root (network namespace, veths, raw sockets, DPDK): run as root")
        return 1
    try:
        import scapy.all  # noqa: F401
    except ImportError as e:
        print(f"FAIL: scapy is missing ({e}): run scripts/setup.sh")
        return 1

    import lbtest as T
    ck = T.Checks(f"dp-{a.case}")
    print(f"== dp-{a.case}: {build}/dp/edgelb-dp")
    t0 = time.monotonic()
    rc = None
    with T.Scratch() as tmp:
        try:
            if a.case in ("fnat4", "fnat6"):
                import case_fnat
                case_fnat.run_case(ck, tmp, build, 4 if a.case == "fnat4" else 6)
            elif a.case == "udp-dnat":
                import case_udp
                case_udp.run_case(ck, tmp, build)
            elif a.case == "maglev":
                import case_maglev
                case_maglev.run_case(ck, tmp, build)
            elif a.case == "malformed":
                import case_malformed
                case_malformed.run_case(ck, tmp, build)
            elif a.case == "ring":
                import case_ring
                case_ring.run_case(ck, tmp, build)
            elif a.case == "rte-flow":
                import case_rte_flow
                rc = case_rte_flow.run_case(ck, tmp, build)
            elif a.case == "ctl":
                import case_ctl
                case_ctl.run_case(ck, tmp, build)
            elif a.case == "neigh":
                import case_neigh
                case_neigh.run_case(ck, tmp, build)
            elif a.case == "offload":
                import case_offload
                case_offload.run_case(ck, tmp, build)
            elif a.case == "hostile":
                import case_hostile
                case_hostile.run_case(ck, tmp, build)
            elif a.case == "sync-pair":
                import case_sync_pair
                case_sync_pair.run_case(ck, tmp, build)
            elif a.case == "sync-takeover":
                import case_sync_takeover
                case_sync_takeover.run_case(ck, tmp, build)
            elif a.case == "sync-lag":
                import case_sync_lag
                case_sync_lag.run_case(ck, tmp, build)
            elif a.case == "sync":
                import case_sync
                case_sync.run_case(ck, tmp, build)
            elif a.case == "affinity-workers":
                import case_affinity_workers
                case_affinity_workers.run_case(ck, tmp, build)
        except Exception as e:  # noqa: BLE001 - a harness error is a failure, with its trace
            import traceback
            traceback.print_exc()
            ck.ok(False, f"test raised {type(e).__name__}: {e}")
            # Which dp was gone, and its last words (a BrokenPipe on the control
            # socket is a dp that died, or closed the connection).
            for dp in T.Dp.spawned:
                print(dp.post_mortem())
    status = ck.summary()
    print(f"== dp-{a.case}: {time.monotonic() - t0:.1f} s")
    if status == 0 and rc == SKIP:
        return SKIP
    return status


if __name__ == "__main__":
    sys.exit(main())
