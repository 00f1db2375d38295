#!/usr/bin/env bash
# setup.sh - make a Debian 12 machine ready for edgelb, then build it into build/.
#
# Idempotent: installs only missing Debian packages (one apt-get update first),
# reserves hugepages and mounts hugetlbfs only when needed, and re-runs the meson
# build (a no-op when nothing changed). Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

PKGS=(
	build-essential meson ninja-build pkg-config git
	dpdk dpdk-dev libdpdk-dev libconfig-dev libjansson-dev libcurl4-openssl-dev
	libcmocka-dev libmicrohttpd-dev libyaml-dev libsodium-dev
	python3 python3-scapy
	iproute2 iputils-ping ethtool iptables nftables ipvsadm ipset procps kmod curl socat tcpdump jq
	nginx-light haproxy wrk hping3 clang
	nghttp2-proxy openssl # nghttpx: TLS + HTTP/2 in front of the fake API server (tests/k8s)
	bird2
	libsystemd-dev pandoc man-db bash-completion dpkg-dev lintian
	prometheus # for promtool (tests/pkg); on a systemd machine this also starts a
	           # Prometheus server on :9090: `systemctl disable --now prometheus` if unwanted
)
HUGEPAGES=${EDGELB_HUGEPAGES:-512}   # 2 MiB pages: 1 GiB

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q
	$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# kubectl for the Kubernetes tests: the base image ships one; Debian's
# kubernetes-client provides it where none is installed.
if ! command -v kubectl >/dev/null 2>&1; then
	if apt-cache show kubernetes-client >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q kubernetes-client || true
	fi
fi

# Hugepages for DPDK (tests that cannot get them fall back to --no-huge).
cur=$(cat /proc/sys/vm/nr_hugepages)
if [ "$cur" -lt "$HUGEPAGES" ]; then
	echo "$HUGEPAGES" | $SUDO tee /proc/sys/vm/nr_hugepages >/dev/null || true
fi
if ! grep -q ' /dev/hugepages hugetlbfs ' /proc/mounts; then
	$SUDO mkdir -p /dev/hugepages
	$SUDO mount -t hugetlbfs nodev /dev/hugepages || echo "setup: cannot mount hugetlbfs; DPDK will run with --no-huge"
fi
echo "setup: hugepages $(cat /proc/sys/vm/nr_hugepages) x 2 MiB"

# A per-deployment hash_seed, generated once (issue 14, finding 11). The built-in
# seed is public: with it anyone can aim flows at one backend or worker. Every box
# of a fleet must use the same seed (ECMP moves flows between boxes): generate it on
# one box and copy /etc/edgelb/hash_seed.conf to the others. A dp config in
# /etc/edgelb includes it inside its dp group (libconfig 1.5 resolves @include
# next to the main file, absolute paths included):  dp: { @include "hash_seed.conf" ... };
SEED_FILE=${EDGELB_SEED_FILE:-/etc/edgelb/hash_seed.conf}
if [ ! -s "$SEED_FILE" ]; then
	$SUDO mkdir -p "$(dirname "$SEED_FILE")"
	seed=$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')
	echo "hash_seed = \"0x$seed\";" | (umask 077; $SUDO tee "$SEED_FILE" >/dev/null)
	echo "setup: generated a random hash_seed in $SEED_FILE (copy it to every box of the fleet)"
else
	echo "setup: keeping the hash_seed in $SEED_FILE"
fi

# Build.
if [ ! -f build/build.ninja ]; then
	meson setup build
fi
ninja -C build
echo "setup: built into build/"
