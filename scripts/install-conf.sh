#!/bin/sh
# install-conf.sh DIR FILE... - meson install script: copy each FILE into DIR
# (under $DESTDIR) unless a file of that name is already there.
#
# An operator's /etc/edgelb/edgelb-dp.conf is theirs: a later `meson install`
# leaves it alone and says so. The current examples are always installed under
# /usr/share/doc/edgelb/examples as well. (The .deb gets the same behaviour from
# dpkg's conffile handling; its staged install starts from an empty DESTDIR.)
set -eu
dir=${DESTDIR:-}$1
shift
mkdir -p "$dir"
for f in "$@"; do
	dst=$dir/$(basename "$f")
	if [ -e "$dst" ]; then
		echo "install-conf: keeping $dst (yours); examples in share/doc/edgelb/examples" >&2
	else
		install -m 0644 "$f" "$dst"
		echo "install-conf: installed $dst" >&2
	fi
done
