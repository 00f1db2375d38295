#!/usr/bin/env bash
# test_deb.sh - build the .deb, install it the way an operator would, check it,
# purge it, and leave the machine as it was.
#
#   scripts/package.sh (lintian must report no error) -> apt-get install ./edgelb_*.deb
#   -> files where Debian puts them, conffiles, the edgelb user, no daemon started,
#   edgelb-dp --version, edgelb-cp --check (as user edgelb), systemd-analyze verify
#   of the units, man pages, bash completion, an operator's changed conffile kept on
#   reinstall -> dpkg -P edgelb -> nothing left but what policy allows; the edgelb
#   user is removed by the test if it did not exist before.
# Installs system-wide: root only, one at a time (meson wraps it in flock).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (installs a package): run scripts/setup.sh and the tests as root"
for t in apt-get dpkg lintian pandoc systemd-analyze man; do
	command -v "$t" >/dev/null || fail "$t not installed: run scripts/setup.sh"
done
if dpkg-query -W -f='${Status}' edgelb 2>/dev/null | grep -qv 'not-installed'; then
	fail "edgelb is already installed on this machine; not touching it (dpkg -P edgelb first)"
fi
user_before=no
getent passwd edgelb >/dev/null && user_before=yes

tmp=$(mktemp -d /tmp/edgelb-debtest.XXXXXX)
# What the machine already had in /etc/edgelb (scripts/setup.sh writes hash_seed.conf
# there) is set aside, so the package meets a clean box, and put back at the end.
etc_saved=no
if [ -e /etc/edgelb ]; then
	mv /etc/edgelb "$tmp/etc-edgelb.saved"
	etc_saved=yes
fi
cleanup() {
	if dpkg-query -W -f='${Status}' edgelb 2>/dev/null | grep -q installed; then
		dpkg -P edgelb >/dev/null 2>&1 || true
	fi
	if [ "$etc_saved" = yes ]; then
		rm -rf /etc/edgelb
		mv "$tmp/etc-edgelb.saved" /etc/edgelb
	fi
	if [ "$user_before" = no ] && getent passwd edgelb >/dev/null; then
		userdel edgelb 2>/dev/null || true
	fi
	getent group edgelb >/dev/null && [ "$user_before" = no ] && groupdel edgelb 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== package"
"$SRC/scripts/package.sh" "$tmp" >"$tmp/package.log" 2>&1 || { cat "$tmp/package.log"; fail "scripts/package.sh"; }
grep '^lintian:' "$tmp/package.log"
ok "scripts/package.sh built $(basename "$(tail -1 "$tmp/package.log")"), lintian without errors"
deb=$(ls "$tmp"/edgelb_*_amd64.deb)

echo "== install"
(cd "$tmp" && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "./$(basename "$deb")") >"$tmp/apt.log" 2>&1 ||
	{ cat "$tmp/apt.log"; fail "apt-get install ./$(basename "$deb")"; }
ok "apt-get install ./$(basename "$deb")"

for f in /usr/sbin/edgelb-dp /usr/sbin/edgelb-cp /usr/bin/edgelbctl \
	/etc/edgelb/edgelb-dp.conf /etc/edgelb/edgelb-cp.conf /etc/default/edgelb \
	/lib/systemd/system/edgelb-dp.service /lib/systemd/system/edgelb-cp.service \
	/lib/systemd/system/edgelb-hugepages.service /usr/libexec/edgelb/edgelb-hugepages \
	/lib/systemd/system/edgelb-bfd.service /usr/share/doc/edgelb/examples/edgelb-bfd.conf \
	/usr/lib/sysusers.d/edgelb.conf \
	/usr/share/man/man8/edgelb-dp.8.gz /usr/share/man/man8/edgelb-cp.8.gz \
	/usr/share/man/man8/edgelbctl.8.gz /usr/share/man/man5/edgelb-dp.conf.5.gz \
	/usr/share/man/man5/edgelb-cp.conf.5.gz /usr/share/bash-completion/completions/edgelbctl \
	/usr/share/doc/edgelb/operations.md /usr/share/doc/edgelb/configuration.md \
	/usr/share/doc/edgelb/copyright /usr/share/doc/edgelb/changelog.gz \
	/usr/share/doc/edgelb/examples/edgelb-cp-kubernetes.conf \
	/usr/share/edgelb/grafana/edgelb.json /usr/share/edgelb/prometheus/edgelb-rules.yml; do
	[ -e "$f" ] || fail "$f not installed"
done
ok "files where Debian puts them ($(dpkg -L edgelb | wc -l) paths)"
conff=$(dpkg-query -W -f='${Conffiles}' edgelb)
for f in /etc/edgelb/edgelb-dp.conf /etc/edgelb/edgelb-cp.conf /etc/default/edgelb; do
	grep -q " $f " <<<"$conff" || fail "$f is not a conffile"
done
ok "/etc files are conffiles"
getent passwd edgelb | grep -q ':/var/lib/edgelb:' || fail "no system user edgelb with home /var/lib/edgelb"
[ "$(stat -c %U /var/lib/edgelb)" = edgelb ] || fail "/var/lib/edgelb not owned by edgelb"
ok "system user edgelb, /var/lib/edgelb owned by it"
[ "$(stat -c %a /etc/edgelb/hash_seed.conf 2>/dev/null)" = 600 ] &&
	grep -Eq '^hash_seed = "0x[0-9a-f]{16}";$' /etc/edgelb/hash_seed.conf ||
	fail "postinst did not generate /etc/edgelb/hash_seed.conf (mode 0600, a random seed)"
ok "postinst generated a random hash_seed in /etc/edgelb/hash_seed.conf (0600)"
for pid in $(pgrep -x edgelb-dp || true) $(pgrep -x edgelb-cp || true); do
	case $(readlink "/proc/$pid/exe" 2>/dev/null) in
	/usr/sbin/*) fail "the package started $(readlink "/proc/$pid/exe") (pid $pid)" ;;
	esac
done
ls /etc/systemd/system/*/edgelb-* >/dev/null 2>&1 && fail "the package enabled a unit: $(ls /etc/systemd/system/*/edgelb-*)"
ok "no daemon started, no unit enabled"

echo "== run"
v=$(edgelb-dp --version) || fail "edgelb-dp --version"
[[ $v == "edgelb-dp "*DPDK* ]] || fail "edgelb-dp --version said: $v"
ok "$v"
out=$(runuser -u edgelb -- edgelb-cp --check 2>&1) || fail "edgelb-cp --check as user edgelb: $out"
[[ $out == *"/etc/edgelb/edgelb-cp.conf is valid"* ]] || fail "edgelb-cp --check said: $out"
ok "runuser -u edgelb -- edgelb-cp --check: $out"
edgelbctl --help >/dev/null 2>&1 || edgelbctl help >/dev/null || fail "edgelbctl help"
ok "edgelbctl help"
out=$(systemd-analyze verify /lib/systemd/system/edgelb-dp.service /lib/systemd/system/edgelb-cp.service \
	/lib/systemd/system/edgelb-hugepages.service /lib/systemd/system/edgelb-bfd.service 2>&1 |
	grep -v -e 'bird.service' -e '^$' || true)
[ -z "$out" ] || fail "systemd-analyze verify: $out"
ok "systemd-analyze verify: the four units"
for p in edgelb-dp edgelb-cp edgelbctl edgelb-dp.conf edgelb-cp.conf; do
	w=$(MANWIDTH=80 man --warnings "$p" 2>&1 >/dev/null) || fail "man $p"
	[ -z "$w" ] || fail "man $p: $w"
	MANWIDTH=80 man "$p" 2>/dev/null | grep -q '^NAME' || fail "man $p renders no NAME"
done
ok "man edgelb-dp edgelb-cp edgelbctl edgelb-dp.conf edgelb-cp.conf render without warnings"
comp=$(bash -c 'source /usr/share/bash-completion/bash_completion
	source /usr/share/bash-completion/completions/edgelbctl
	COMP_WORDS=(edgelbctl g); COMP_CWORD=1; COMP_LINE="edgelbctl g"; COMP_POINT=${#COMP_LINE}
	_edgelbctl edgelbctl g edgelbctl; echo "${COMPREPLY[*]}"
	COMP_WORDS=(edgelbctl get ""); COMP_CWORD=2; COMP_LINE="edgelbctl get "; COMP_POINT=${#COMP_LINE}
	_edgelbctl edgelbctl "" get; echo "${COMPREPLY[*]}"')
[ "$comp" = $'get\nlb pools' ] || fail "bash completion: got '$comp'"
ok "bash completion: 'edgelbctl g' -> get, 'edgelbctl get ' -> lb pools"

before=$(cat /proc/sys/vm/nr_hugepages)
EDGELB_HUGEPAGES=1 /usr/libexec/edgelb/edgelb-hugepages || fail "edgelb-hugepages (asked for 1 page)"
[ "$(cat /proc/sys/vm/nr_hugepages)" = "$before" ] || fail "edgelb-hugepages lowered vm.nr_hugepages"
grep -q ' /dev/hugepages hugetlbfs ' /proc/mounts || fail "no hugetlbfs on /dev/hugepages after edgelb-hugepages"
ok "edgelb-hugepages (the unit's script) never lowers vm.nr_hugepages ($before) and leaves hugetlbfs mounted"

echo "== an operator's conffile survives a reinstall"
echo "# changed by the operator" >>/etc/edgelb/edgelb-cp.conf
(cd "$tmp" && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall \
	-o Dpkg::Options::=--force-confold "./$(basename "$deb")") >"$tmp/apt2.log" 2>&1 ||
	{ cat "$tmp/apt2.log"; fail "reinstall"; }
grep -q '^# changed by the operator' /etc/edgelb/edgelb-cp.conf || fail "reinstall overwrote /etc/edgelb/edgelb-cp.conf"
ok "reinstall keeps the operator's /etc/edgelb/edgelb-cp.conf"

echo "== purge"
dpkg -P edgelb >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; fail "dpkg -P edgelb"; }
for f in /usr/sbin/edgelb-dp /usr/sbin/edgelb-cp /usr/bin/edgelbctl /etc/edgelb /etc/default/edgelb \
	/var/lib/edgelb /lib/systemd/system/edgelb-dp.service /usr/share/doc/edgelb /usr/share/edgelb \
	/usr/libexec/edgelb; do
	[ ! -e "$f" ] || fail "$f left after dpkg -P"
done
dpkg-query -W -f='${Status}' edgelb 2>/dev/null | grep -q 'not-installed' ||
	! dpkg-query -W edgelb >/dev/null 2>&1 || fail "dpkg still knows edgelb after purge"
ok "dpkg -P edgelb removed every file, /etc/edgelb and /var/lib/edgelb (the user stays, per policy)"
if [ "$user_before" = no ]; then
	userdel edgelb
	getent group edgelb >/dev/null && groupdel edgelb
	ok "removed the edgelb user this test made"
fi
echo "$checks passed, 0 failed"
