#!/usr/bin/env bash
# build/linux/check-deb.sh: check a Plexus .deb's contents and metadata
# (CI runs it on what build/linux/package.sh made).
#
#   bash build/linux/check-deb.sh PLEXUS_DEB
set -euo pipefail
DEB="$1"
fail() { echo "check-deb.sh: $*" >&2; exit 1; }
contents="$(dpkg-deb -c "$DEB")"
info="$(dpkg-deb -I "$DEB")"
has() { # has MODE PATH: the file is in the package with that mode
  grep -Eq "^$1 root/root +[0-9]+ [0-9-]+ [0-9:]+ \./${2#/}\$" <<<"$contents" || fail "no $2 with mode $1 in the package:
$contents"
}
has -rwxr-xr-x /usr/bin/plexus
has -rw-r--r-- /usr/share/applications/plexus.desktop
has -rw-r--r-- /usr/share/icons/hicolor/512x512/apps/plexus.png
has -rw-r--r-- /usr/share/icons/hicolor/scalable/apps/plexus.svg
field() { sed -n "s/^ $1: //p" <<<"$info"; }
[ "$(field Package)" = plexus ] || fail "Package is '$(field Package)'"
[ -n "$(field Version)" ] || fail "no Version"
[ "$(field Architecture)" = "$(dpkg --print-architecture 2>/dev/null || echo amd64)" ] || fail "Architecture is '$(field Architecture)'"
for dep in libgtk-3-0 libwebkit2gtk-4.1-0; do
  grep -Eq "(^|, )$dep(,|\$| )" <<<"$(field Depends)" || fail "Depends lacks $dep: '$(field Depends)'"
done
[ -n "$(field Maintainer)" ] && [ -n "$(field Description)" ] && [ -n "$(field Homepage)" ] || fail "Maintainer, Description or Homepage missing"
# The desktop entry opens the window.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$DEB" "$tmp"
desktop="$tmp/usr/share/applications/plexus.desktop"
grep -qx 'Exec=plexus' "$desktop" || fail "the desktop entry does not run plexus"
grep -qx 'Icon=plexus' "$desktop" || fail "the desktop entry's icon is not plexus"
grep -qx 'Type=Application' "$desktop" || fail "the desktop entry is not an application"
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$desktop" || fail "desktop-file-validate"; fi
[ "$(identify -format '%wx%h' "$tmp/usr/share/icons/hicolor/512x512/apps/plexus.png" 2>/dev/null || echo 512x512)" = 512x512 ] ||
  fail "the 512x512 icon is not 512x512"
"$tmp/usr/bin/plexus" --version | grep -q "^plexus $(field Version | sed 's/~/-/')\$" ||
  fail "the packaged binary's version ($("$tmp/usr/bin/plexus" --version)) is not the package's ($(field Version))"
echo "check-deb.sh: $(basename "$DEB"): $(field Package) $(field Version) $(field Architecture); depends $(field Depends); binary, desktop entry and icons in place"
