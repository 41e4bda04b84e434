#!/usr/bin/env bash
# build/linux/package.sh: build Plexus's Linux package (.deb) with nfpm.
#
#   bash build/linux/package.sh [--binary PATH] [--out DIR] [--arch ARCH]
#
# Without --binary it first builds the desktop binary (cgo, GTK,
# WebKitGTK 4.1: apt install build-essential pkg-config libgtk-3-dev
# libwebkit2gtk-4.1-dev). The package version is what the binary says
# (plexus --version). nfpm v2.48.0 comes from the Go module proxy (go run
# ...@v2.48.0; nothing else is downloaded). Prints the .deb's path.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NFPM_VERSION=v2.48.0
BINARY=""
OUT="$ROOT/build/bin"
ARCH=""
while [ $# -gt 0 ]; do
  case "$1" in
  --binary) BINARY="$2"; shift 2 ;;
  --out) OUT="$2"; shift 2 ;;
  --arch) ARCH="$2"; shift 2 ;;
  *) echo "usage: bash build/linux/package.sh [--binary PATH] [--out DIR] [--arch ARCH]" >&2; exit 2 ;;
  esac
done
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
if [ -z "$BINARY" ]; then
  BINARY="$OUT/plexus"
  echo "package.sh: building the desktop binary into $BINARY" >&2
  (cd "$ROOT" && CGO_ENABLED=1 go build -trimpath -tags desktop,production,webkit2_41 -ldflags "-s -w" -o "$BINARY" .)
fi
BINARY="$(cd "$(dirname "$BINARY")" && pwd)/$(basename "$BINARY")"
[ -x "$BINARY" ] || { echo "package.sh: $BINARY is not an executable" >&2; exit 1; }
VERSION="$("$BINARY" --version </dev/null | awk '{print $2}')"
[ -n "$VERSION" ] || { echo "package.sh: $BINARY --version said nothing" >&2; exit 1; }
if [ -z "$ARCH" ]; then
  ARCH="$(cd "$ROOT" && go env GOARCH)"
fi
export PLEXUS_VERSION="$VERSION" PLEXUS_ARCH="$ARCH"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
install -m 0755 "$BINARY" "$STAGE/plexus"
install -m 0644 "$ROOT/build/linux/plexus.desktop" "$STAGE/plexus.desktop"
install -m 0644 "$ROOT/build/appicon.png" "$STAGE/plexus.png"
install -m 0644 "$ROOT/build/icon.svg" "$STAGE/plexus.svg"
# In the staging folder (outside the module, so go.mod is not touched):
# go run pkg@version.
(cd "$STAGE" && go run "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION" package \
  --config "$ROOT/build/linux/nfpm.yaml" --packager deb --target "$OUT/") >&2
DEB="$(ls -t "$OUT"/plexus_*_"$ARCH".deb | head -n1)"
echo "$DEB"
