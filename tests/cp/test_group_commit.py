#!/usr/bin/python3
"""
test_group_commit.py - concurrent changes share state-file writes; a failed write
undoes every change it carried, and nothing is acknowledged that is not on disk.

edgelb-cp alone in a private namespace, its state file on a private 8 MiB ext4
on a loop device whose image lives on the machine's disk (so fsync costs what a
disk costs, a few ms; tmpfs would make every write instant and nothing to group).
  1. 48 creates from 12 client threads at once: all 201, each with its address;
     edgelb_state_file_writes_total grew by fewer than 48 (changes waiting for
     one write go out together; before group commit each change wrote the file
     alone); kill -9 and restart: every acknowledged load balancer is back with
     its addresses.
  2. The tmpfs is filled (ENOSPC). 16 creates, 8 deletes and 8 PUT replaces at
     once: every one answers 5xx naming the state file; then every load balancer
     is as before (the deleted ones still there with their addresses, the
     replaced ones with their old spec), the new names do not exist, and the
     pool's used count is unchanged (no address leaked or lost).
  3. Space freed: the same 16 creates succeed and take exactly the addresses the
     failed ones would have had free; after kill -9 and restart all is there.
"""
import json
import os
import signal
import subprocess
import threading

import cplib

POOL = ["198.18.70.0/24"]


def parallel(fns):
    """Run the callables at once; their results in order (an exception is a result)."""
    out = [None] * len(fns)

    def one(i, f):
        try:
            out[i] = f()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            out[i] = e
    ths = [threading.Thread(target=one, args=(i, f), daemon=True) for i, f in enumerate(fns)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(timeout=60)
    return out


def spec(name, port=80):
    return {"name": name, "ports": [{"port": port, "target_port": 8080}],
            "backends": [{"address": "198.19.70.%d" % (1 + len(name) % 200)}]}


def snapshot(api):
    """name -> (ips, ports) of every load balancer."""
    return {lb["name"]: (lb.get("ips"), [p["port"] for p in lb["ports"]]) for lb in api.list()}


def main(t):
    ns = t.netns_add("gc")
    t.enter(ns)
    mnt = os.path.join(t.dir, "state")
    os.makedirs(mnt)
    img = "/var/tmp/edgelb-%s.img" % t.tag  # on disk: /tmp may be tmpfs
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    t.cleanups.append(lambda: os.path.exists(img) and os.unlink(img))
    subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True)
    subprocess.run(["mount", "-o", "loop", img, mnt], check=True)
    t.cleanups.append(lambda: subprocess.run(["umount", mnt], check=False))
    state = os.path.join(mnt, "state.json")
    conf = t.cp_conf(os.path.join(t.dir, "cp.conf"), os.path.join(t.dir, "no-dp.sock"), state,
                     [{"name": "gc", "addresses": POOL}])
    api = cplib.Api()
    cp = t.start_cp(conf, api, label="cp1")

    # 1. many changes, fewer writes
    w0 = t.metric(api, "edgelb_state_file_writes_total")
    names = ["lb%02d" % i for i in range(48)]
    res = parallel([lambda n=n: api.req("POST", "/v1/loadbalancers", spec(n), timeout=30)
                    for n in names])
    bad = [(n, r) for n, r in zip(names, res) if not (isinstance(r, tuple) and r[0] == 201)]
    t.check(not bad, "48 concurrent creates answered 201", str(bad[:3]))
    acked = {n: r[1]["ips"] for n, r in zip(names, res)}
    t.check(len({ip for ips in acked.values() for ip in ips}) == 48, "48 distinct addresses")
    w1 = t.metric(api, "edgelb_state_file_writes_total")
    t.log("48 creates from 12 threads at once: %d state file writes" % (w1 - w0))
    t.check(w1 - w0 < 48, "48 concurrent creates took fewer than 48 file writes (%d)" % (w1 - w0))
    t.kill(cp, signal.SIGKILL)
    cp = t.start_cp(conf, api, label="cp2")
    snap = snapshot(api)
    t.eq({n: snap.get(n, (None,))[0] for n in names}, acked,
         "after kill -9 every acknowledged create is back with its address")
    used0 = api.pools()["gc"]["ipv4"]["used"]

    # 2. a failing write undoes its whole group
    filler = os.path.join(mnt, "filler")
    subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=4k"], stderr=subprocess.DEVNULL,
                   check=False)
    new = ["new%02d" % i for i in range(16)]
    dels, reps = names[:8], names[8:16]
    calls = [lambda n=n: api.req("POST", "/v1/loadbalancers", spec(n), timeout=30) for n in new]
    calls += [lambda n=n: api.req("DELETE", "/v1/loadbalancers/default/" + n, timeout=30)
              for n in dels]
    calls += [lambda n=n: api.req("PUT", "/v1/loadbalancers/default/" + n, spec(n, port=81),
                                  timeout=30) for n in reps]
    res = parallel(calls)
    bad = [r for r in res if not (isinstance(r, tuple) and r[0] >= 500
                                  and "state file" in json.dumps(r[1]))]
    t.check(not bad, "with the disk full all 32 changes answered 5xx naming the state file",
            str(bad[:3]))
    after = snapshot(api)
    t.eq(after, snap, "every load balancer is as before (deletes and replaces undone, "
         "no new one)")
    t.eq(api.pools()["gc"]["ipv4"]["used"], used0, "the pool's used count is unchanged")

    # 3. space again: the changes go through and survive kill -9
    os.unlink(filler)
    res = parallel([lambda n=n: api.req("POST", "/v1/loadbalancers", spec(n), timeout=30)
                    for n in new])
    t.check(all(isinstance(r, tuple) and r[0] == 201 for r in res),
            "with space again the 16 creates answered 201")
    got = {n: r[1]["ips"] for n, r in zip(new, res)}
    t.check(not ({ip for ips in got.values() for ip in ips} &
                 {ip for ips in acked.values() for ip in ips}),
            "the new addresses are not held by anyone else")
    t.kill(cp, signal.SIGKILL)
    t.start_cp(conf, api, label="cp3")
    final = snapshot(api)
    t.check(all(final.get(n, (None,))[0] == ips for n, ips in got.items()) and
            all(final.get(n, (None,))[0] == ips for n, ips in acked.items()),
            "after kill -9 all 64 load balancers are back with their addresses")
    t.eq(api.pools()["gc"]["ipv4"]["used"], 64, "the pool counts 64 used addresses")


if __name__ == "__main__":
    cplib.run("group_commit", main, 150)
