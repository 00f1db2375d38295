#!/usr/bin/env bash
# package.sh - build edgelb_VERSION_ARCH.deb from a staged `meson install`.
#
#   scripts/package.sh [OUTDIR]     (default: the source tree's top directory)
#
# Configures build-pkg/ with --prefix=/usr (so /etc, /var, /usr/sbin, /lib/systemd)
# and Debian's hardening build flags (dpkg-buildflags), installs into a staging
# directory, then adds what dpkg-deb needs from scripts/packaging/: control
# (Depends computed by dpkg-shlibdeps), conffiles (every file under /etc),
# maintainer scripts, copyright, changelog, md5sums. Runs lintian on the result and
# fails when it reports an error. Prints the path of the .deb on its last line.
# Needs: dpkg-dev, lintian, pandoc (scripts/setup.sh installs them). No root.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
pkgdir=$src/scripts/packaging
out=${1:-$src}
bdir=$src/build-pkg
stage=$(mktemp -d /tmp/edgelb-pkg.XXXXXX)
trap 'rm -rf "$stage"' EXIT
root=$stage/root

for t in dpkg-deb dpkg-shlibdeps dpkg-buildflags lintian pandoc; do
	command -v "$t" >/dev/null || { echo "package.sh: $t missing: run scripts/setup.sh" >&2; exit 1; }
done

version=$(meson introspect --projectinfo meson.build 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
arch=$(dpkg --print-architecture)

# 1. Build with Debian's flags (hardening: PIE, relro, bindnow, fortify, stack protector).
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
if [ ! -f "$bdir/build.ninja" ]; then
	CFLAGS="$(dpkg-buildflags --get CFLAGS)" CPPFLAGS="$(dpkg-buildflags --get CPPFLAGS)" \
		LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" \
		meson setup "$bdir" --prefix=/usr --buildtype=plain -Db_pie=true >/dev/null
fi
ninja -C "$bdir" >/dev/null

# 2. Stage.
DESTDIR=$root meson install -C "$bdir" --no-rebuild --strip --quiet >/dev/null
# As dh_strip does: no symbols, no .comment/.note sections.
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
	"$root/usr/sbin/edgelb-dp" "$root/usr/sbin/edgelb-cp" "$root/usr/bin/edgelbctl"
doc=$root/usr/share/doc/edgelb
gzip -9n "$root"/usr/share/man/man*/*
install -m 0644 "$pkgdir/copyright" "$doc/copyright"
gzip -9nc "$pkgdir/changelog" >"$doc/changelog.gz"
# Test binaries and benches are not installed; make sure nothing else crept in.
find "$root" -name '*.a' -delete
install -d "$root/usr/share/lintian/overrides"
if grep -q '^[^#]' "$pkgdir/lintian-overrides"; then
	install -m 0644 "$pkgdir/lintian-overrides" "$root/usr/share/lintian/overrides/edgelb"
else
	rmdir "$root/usr/share/lintian/overrides" "$root/usr/share/lintian"
fi

# 3. Control files.
install -d -m 0755 "$root/DEBIAN"
for s in postinst prerm postrm; do
	install -m 0755 "$pkgdir/$s" "$root/DEBIAN/$s"
done
(cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
# dpkg-shlibdeps wants a debian/control to exist: give it one of its own.
shl=$stage/shl
mkdir -p "$shl/debian"
printf 'Source: edgelb\n\nPackage: edgelb\nArchitecture: any\n' >"$shl/debian/control"
shlibs=$(cd "$shl" && dpkg-shlibdeps -O -e"$root/usr/sbin/edgelb-dp" -e"$root/usr/sbin/edgelb-cp" \
	-e"$root/usr/bin/edgelbctl" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "package.sh: dpkg-shlibdeps found nothing" >&2; exit 1; }
size=$(du -k -s --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$size|" \
	-e "s|@SHLIBS@|$shlibs|" "$pkgdir/control.in" >"$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
	xargs -0 md5sum) >"$root/DEBIAN/md5sums"

# 4. Build and check.
find "$root" -type d -exec chmod 0755 {} +
deb=$out/edgelb_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "== lintian $deb"
lint=$stage/lintian.txt
lintian --tag-display-limit 0 --info "$deb" >"$lint" 2>&1 || true
cat "$lint"
errors=$(grep -c '^E: ' "$lint" || true)
warnings=$(grep -c '^W: ' "$lint" || true)
echo "lintian: $errors error(s), $warnings warning(s)"
[ "$errors" -eq 0 ] || { echo "package.sh: lintian reported errors" >&2; exit 1; }
echo "$deb"
