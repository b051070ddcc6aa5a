#!/usr/bin/env bash
# Builds the Debian package of ssmirror from this source tree with the
# standard tools (go, dpkg-deb):
#
#   packaging/deb/build.sh [VERSION [OUTDIR]]
#
# VERSION is the package version, stamped into the binary (ssmirror version
# shows it); by default the latest tag without its "v", or 0~git followed
# by the commit's date and hash. OUTDIR (default: dist) receives
# ssmirror_VERSION_ARCH.deb, whose path is printed. GOARCH selects another
# architecture.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
version=${1:-}
out=${2:-$repo/dist}
if [ -z "$version" ]; then
  if tag=$(git -C "$repo" describe --tags --abbrev=0 2>/dev/null); then
    version=${tag#v}
  else
    version="0~git$(git -C "$repo" log -1 --format=%cd --date=format:%Y%m%d).$(git -C "$repo" rev-parse --short=12 HEAD)"
  fi
fi
case $version in
[0-9]*) ;;
*) echo "build.sh: version $version must start with a digit" >&2; exit 2 ;;
esac
goarch=${GOARCH:-$(go env GOARCH)}
case $goarch in
amd64 | arm64 | riscv64 | s390x | ppc64le) debarch=$goarch ;;
arm) debarch=armhf ;;
386) debarch=i386 ;;
*) echo "build.sh: no Debian architecture for GOARCH $goarch" >&2; exit 2 ;;
esac

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/man/man1" "$root/lib/systemd/system" \
  "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d" "$root/usr/share/doc/ssmirror" "$root/etc"

(cd "$repo" && CGO_ENABLED=0 GOARCH=$goarch go build -trimpath -buildvcs=false \
  -ldflags "-s -w -X main.version=$version" -o "$root/usr/bin/ssmirror" ./cmd/ssmirror)
# Man pages and completions come from a binary of this machine's
# architecture (another's may not run here).
host="$root/usr/bin/ssmirror"
if [ "$goarch" != "$(go env GOHOSTARCH)" ]; then
  host="$root/ssmirror-host"
  (cd "$repo" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$host" ./cmd/ssmirror)
fi
"$host" docs man "$root/usr/share/man/man1"
gzip -9n "$root"/usr/share/man/man1/*.1
"$host" completion bash >"$root/usr/share/bash-completion/completions/ssmirror"
"$host" completion zsh >"$root/usr/share/zsh/vendor-completions/_ssmirror"
"$host" completion fish >"$root/usr/share/fish/vendor_completions.d/ssmirror.fish"
rm -f "$root/ssmirror-host"

install -m 644 "$here/ssmirror.service" "$here/ssmirror.timer" "$root/lib/systemd/system/"
install -m 644 "$here/ssmirror.yaml" "$root/etc/ssmirror.yaml"
install -m 644 "$repo/README.md" "$root/usr/share/doc/ssmirror/README.md"
echo /etc/ssmirror.yaml >"$root/DEBIAN/conffiles"
cat >"$root/DEBIAN/control" <<CONTROL
Package: ssmirror
Version: $version
Architecture: $debarch
Maintainer: ssmirror developers <ssmirror@users.noreply.github.com>
Section: net
Priority: optional
Installed-Size: $(du -sk "$root" | cut -f1)
Homepage: https://github.com/ssmirror/ssmirror
Description: publish SimpleStreams image mirrors into S3 or a directory
 ssmirror mirrors a SimpleStreams catalog (MAAS images, LXD and Incus
 images) into S3-compatible object storage or a local directory: it
 verifies the signed catalog, streams the selected items into the target,
 verified as they stream, and writes the index files last. The package
 holds a systemd service and timer that run the mirrors of
 /etc/ssmirror.yaml hourly once enabled.
CONTROL
mkdir -p "$out"
deb="$out/ssmirror_${version}_${debarch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
