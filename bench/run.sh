#!/usr/bin/env bash
# ssmirror's benchmark: installs the peers (Debian's awscli, rclone, nginx;
# sstream-mirror when the release packages it), builds versitygw, ssmirror
# and the bench program, and runs it. Prints one table: every performance
# target, ssmirror against the peers, with peak RSS and request counts.
#
#   bench/run.sh [ssbench flags]      e.g. bench/run.sh -aws-small=false
#
# Environment: BENCH_DIR (work directory, default /tmp/ssmirror-bench; the
# fixtures are cached there), BENCH_NO_INSTALL=1 (do not apt-get install).
# Not part of CI. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
began=$(date +%s)

work=${BENCH_DIR:-/tmp/ssmirror-bench}
mkdir -p "$work/bin"

# The S3 server (Versity S3 Gateway), as .ci/run builds it. On a fresh
# machine this is the slowest step (minutes), so it runs in the background
# while the peers are installed and the fixtures generated; nothing is
# measured until it is done.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/ssmirror/bin
mkdir -p "$cache"
vgw_pid=
if [ ! -x "$cache/versitygw" ]; then
  echo "run.sh: building versitygw v1.8.0 into $cache in the background (a few minutes, once)" >&2
  tmp=$(mktemp -d "$cache/.bench-build-XXXXXX")
  ( GOBIN="$tmp" GOWORK=off go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 \
      && mv "$tmp/versitygw" "$cache/versitygw"; rc=$?; rm -rf "$tmp"; exit $rc ) &
  vgw_pid=$!
fi

# Peers and the upstream server, from Debian's packages.
if [ "${BENCH_NO_INSTALL:-}" != 1 ] && [ "$(id -u)" = 0 ]; then
  need=()
  [ -x /usr/bin/aws ] || need+=(awscli)
  [ -x /usr/bin/time ] || need+=(time)
  command -v rclone >/dev/null || need+=(rclone)
  command -v nginx >/dev/null || need+=(nginx-light)
  if ! command -v sstream-mirror >/dev/null; then
    need+=(simplestreams)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    echo "run.sh: installing ${need[*]}" >&2
    apt-get update -qq >/dev/null
    # Install what exists; a package this release lacks (simplestreams is
    # Ubuntu-only) is reported and left out.
    avail=()
    for p in "${need[@]}"; do
      if [ -n "$(apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '(none)')" ]; then
        avail+=("$p")
      else
        echo "run.sh: $p is not packaged here" >&2
      fi
    done
    if [ ${#avail[@]} -gt 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${avail[@]}" >/dev/null
    fi
  fi
fi

go build -o "$work/bin/ssmirror" ./cmd/ssmirror
go build -o "$work/bin/ssbench" ./bench/cmd/ssbench
"$work/bin/ssbench" -work "$work" -repo . -ssmirror "$work/bin/ssmirror" -fixtures-only "$@"

if [ -n "$vgw_pid" ]; then
  echo "run.sh: waiting for the versitygw build" >&2
  wait "$vgw_pid"
fi
export SSMIRROR_VERSITYGW="$cache/versitygw"

"$work/bin/ssbench" -work "$work" -repo . -ssmirror "$work/bin/ssmirror" "$@"
echo
echo "bench/run.sh finished in $(( $(date +%s) - began )) s"
