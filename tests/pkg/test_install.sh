#!/usr/bin/env bash
# test_install.sh - `meson install` into a staging directory (DESTDIR), twice.
#
# First: every file lands where Debian puts it, relative to the build's prefix
# (sbin for the daemons, etc/edgelb, share/man, share/bash-completion, share/doc,
# systemd's unit directory). Then an operator edits etc/edgelb/edgelb-cp.conf and
# installs again: the file is kept, and the examples under
# share/doc/edgelb/examples are current. No root.
set -euo pipefail
BUILD=${EDGELB_BUILD:-$(dirname "$0")/../../build}
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
fail() { echo "FAIL: $*"; exit 1; }
dest=$(mktemp -d /tmp/edgelb-install.XXXXXX)
trap 'rm -rf "$dest" "$dest.log1" "$dest.log2"' EXIT
prefix=$(meson introspect --buildoptions "$BUILD" | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o["prefix"], o["sysconfdir"], o["sbindir"], o["bindir"], o["mandir"], o["datadir"])')
read -r pfx sysconf sbin bin man data <<<"$prefix"
[[ $sysconf == /* ]] || sysconf=$pfx/$sysconf
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo "$pfx/lib/systemd/system")

DESTDIR=$dest meson install -C "$BUILD" --no-rebuild --quiet >"$dest.log1" 2>&1 || { cat "$dest.log1"; fail "meson install"; }
for f in "$pfx/$sbin/edgelb-dp" "$pfx/$sbin/edgelb-cp" "$pfx/$bin/edgelbctl" \
	"$sysconf/edgelb/edgelb-dp.conf" "$sysconf/edgelb/edgelb-cp.conf" "$sysconf/default/edgelb" \
	"$unitdir/edgelb-dp.service" "$unitdir/edgelb-cp.service" "$unitdir/edgelb-hugepages.service" \
	"$unitdir/edgelb-bfd.service" "$pfx/$data/doc/edgelb/examples/edgelb-bfd.conf" \
	"$pfx/$man/man8/edgelb-dp.8" "$pfx/$man/man5/edgelb-cp.conf.5" \
	"$pfx/$data/bash-completion/completions/edgelbctl" "$pfx/$data/doc/edgelb/operations.md" \
	"$pfx/$data/doc/edgelb/examples/edgelb-dp.conf" "$pfx/$data/edgelb/grafana/edgelb.json" \
	"$pfx/$data/edgelb/prometheus/edgelb-rules.yml" "$pfx/lib/sysusers.d/edgelb.conf"; do
	[ -e "$dest$f" ] || fail "meson install did not install $f"
done
ok "meson install (prefix $pfx): binaries, $sysconf/edgelb, units in $unitdir, man pages, completion, docs"
grep -q "ExecStart=$pfx/$sbin/edgelb-dp " "$dest$unitdir/edgelb-dp.service" ||
	fail "edgelb-dp.service does not run $pfx/$sbin/edgelb-dp"
ok "the units name the installed binaries and $sysconf/edgelb"
for f in "$pfx/$sbin/edgelb-dp" "$pfx/$sbin/edgelb-cp" "$pfx/$bin/edgelbctl"; do
	[ -x "$dest$f" ] || fail "$f not executable"
done

echo "# the operator's change" >>"$dest$sysconf/edgelb/edgelb-cp.conf"
DESTDIR=$dest meson install -C "$BUILD" --no-rebuild >"$dest.log2" 2>&1 || { cat "$dest.log2"; fail "second meson install"; }
grep -q "^# the operator's change" "$dest$sysconf/edgelb/edgelb-cp.conf" || fail "meson install overwrote edgelb-cp.conf"
cmp -s "$(dirname "$0")/../../conf/edgelb-cp.conf" "$dest$pfx/$data/doc/edgelb/examples/edgelb-cp.conf" ||
	fail "examples/edgelb-cp.conf is not the current example"
ok "a second meson install keeps the operator's edgelb-cp.conf"
echo "$checks passed, 0 failed"
