#!/usr/bin/env bash
# ssmirror's benchmark: installs the peers (Debian's awscli, rclone, nginx,
# and python3-yaml and gpgv for sstream-mirror, which it unpacks from the
# peers' snapshot), builds versitygw and MinIO, ssmirror and the bench
# program, and runs it. Prints one table: every performance target,
# ssmirror against the peers and the stores' own ceiling, on both stores,
# with peak RSS, CPU and request counts.
#
#   bench/run.sh [ssbench flags]      e.g. bench/run.sh -only small -stores minio
#
# Environment: BENCH_DIR (work directory, default /tmp/ssmirror-bench; the
# fixtures are cached there), BENCH_NO_INSTALL=1 (do not apt-get install),
# SSMIRROR_PEERS (the directory holding simplestreams.tar.gz; default
# ../shared/peers next to the repository, or next to its main worktree).
# Not part of CI. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
began=$(date +%s)

work=${BENCH_DIR:-/tmp/ssmirror-bench}
mkdir -p "$work/bin"

# The S3 servers, as .ci/run builds them: Versity S3 Gateway and MinIO (at
# the version internal/s3test pins). On a fresh machine this is the slowest
# step (minutes), so they build in the background while the peers are
# installed and the fixtures generated; nothing is measured until then.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/ssmirror/bin
mkdir -p "$cache"
builds=()
if [ ! -x "$cache/versitygw" ]; then
  echo "run.sh: building versitygw v1.8.0 into $cache in the background (a few minutes, once)" >&2
  tmp=$(mktemp -d "$cache/.bench-build-XXXXXX")
  ( GOBIN="$tmp" GOWORK=off go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 \
      && mv "$tmp/versitygw" "$cache/versitygw"; rc=$?; rm -rf "$tmp"; exit $rc ) &
  builds+=($!)
fi
minio_version=$(sed -n 's/^\tMinIOVersion *= "\(.*\)"/\1/p' internal/s3test/kinds.go)
if [ "$(cat "$cache/minio.version" 2>/dev/null)" != "$minio_version" ] || [ ! -x "$cache/minio" ]; then
  echo "run.sh: building minio $minio_version into $cache in the background (a few minutes, once)" >&2
  tmp=$(mktemp -d "$cache/.bench-build-XXXXXX")
  ( GOBIN="$tmp" GOFLAGS= GOWORK=off go install "github.com/minio/minio@$minio_version" \
      && mv "$tmp/minio" "$cache/minio" && echo "$minio_version" > "$cache/minio.version"; rc=$?; rm -rf "$tmp"; exit $rc ) &
  builds+=($!)
fi

# Peers and the upstream server, from Debian's packages; sstream-mirror
# runs from the peers' snapshot with Debian's python3 (python3-yaml) and
# verifies with gpgv.
if [ "${BENCH_NO_INSTALL:-}" != 1 ] && [ "$(id -u)" = 0 ]; then
  need=()
  [ -x /usr/bin/aws ] || need+=(awscli)
  [ -x /usr/bin/time ] || need+=(time)
  command -v rclone >/dev/null || need+=(rclone)
  command -v nginx >/dev/null || need+=(nginx-light)
  command -v gpgv >/dev/null || need+=(gpgv)
  { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import yaml' 2>/dev/null; } || need+=(python3-yaml)
  if [ ${#need[@]} -gt 0 ]; then
    echo "run.sh: installing ${need[*]}" >&2
    apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${need[@]}" >/dev/null
  fi
fi

# The peers' snapshot (Canonical's python simplestreams): ssbench unpacks
# it into $work/peers, never into the repository.
peers=${SSMIRROR_PEERS:-}
if [ -z "$peers" ]; then
  main_tree=$(dirname "$(cd "$(git rev-parse --git-common-dir)" && pwd)")
  for d in ../shared/peers "$main_tree/../shared/peers"; do
    if [ -f "$d/simplestreams.tar.gz" ]; then peers=$(cd "$d" && pwd); break; fi
  done
fi
if [ -z "$peers" ]; then
  echo "run.sh: no simplestreams.tar.gz in ../shared/peers (set SSMIRROR_PEERS): the sstream-mirror rows will say it is absent" >&2
fi

go build -o "$work/bin/ssmirror" ./cmd/ssmirror
go build -o "$work/bin/ssbench" ./bench/cmd/ssbench
"$work/bin/ssbench" -work "$work" -repo . -ssmirror "$work/bin/ssmirror" -peers "$peers" -fixtures-only "$@"

for pid in "${builds[@]}"; do
  echo "run.sh: waiting for the S3 server builds" >&2
  # A failed build is reported; that store's rows then say it did not start.
  wait "$pid" || echo "run.sh: a server build failed (see above)" >&2
done
export SSMIRROR_VERSITYGW="$cache/versitygw" SSMIRROR_MINIO="$cache/minio"

"$work/bin/ssbench" -work "$work" -repo . -ssmirror "$work/bin/ssmirror" -peers "$peers" "$@"
echo
echo "bench/run.sh finished in $(( $(date +%s) - began )) s"
