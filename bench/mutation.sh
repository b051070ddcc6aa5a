#!/usr/bin/env bash
# Mutation testing of the critical packages with gremlins
# (github.com/go-gremlins/gremlins). For each package it runs
#   gremlins unleash --workers 1 --timeout-coefficient 10 -E '^[^/]+/' PKG
# and prints a table of killed, lived, timed-out and not-covered mutants and
# the test efficacy (killed / (killed + lived)). The per-package gremlins
# output is kept in $OUT (default /tmp/ssmirror-mutation) for reading the
# surviving (LIVED) mutants; bench/mutation-equivalent.md lists those judged
# equivalent.
#
# Usage: bench/mutation.sh [PKG...]   (default: all critical packages)
# With REPORT_ONLY=1 it runs nothing and prints the table from the logs in
# $OUT of an earlier run.
# A TIMED OUT mutant made the package's tests run past 10 times their
# normal time; on a loaded machine that happens without any mutation, so
# they are counted apart (gremlins leaves them out of the efficacy).
# Environment: GREMLINS (the binary; default: gremlins on PATH, then
# ~/.cache/ssmirror/bin/gremlins, then $GOPATH/bin/gremlins, installed with
# go install if none), OUT, PER_PKG_TIMEOUT (default 3600 s) and
# ALL_SERVERS (see below).
#
# It is slow (every mutant re-runs the package's tests) and is not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	pkgs=(./plan/filter ./source/catalog ./plan ./source/gpg ./source ./plan/apply
		./target/lease ./target/dirstore ./target/s3store)
fi

bin=${GREMLINS:-}
if [ -z "$bin" ]; then
	for c in "$(command -v gremlins || true)" "$HOME/.cache/ssmirror/bin/gremlins" "$(go env GOPATH)/bin/gremlins"; do
		if [ -n "$c" ] && [ -x "$c" ]; then bin=$c; break; fi
	done
fi
if [ -z "$bin" ]; then
	mkdir -p "$HOME/.cache/ssmirror/bin"
	GOBIN=$HOME/.cache/ssmirror/bin go install github.com/go-gremlins/gremlins/cmd/gremlins@latest
	bin=$HOME/.cache/ssmirror/bin/gremlins
fi

# The S3 tests run against versitygw alone unless ALL_SERVERS=1: MinIO and
# SeaweedFS are skipped (s3test finds no binary in the empty cache
# directory it is pointed at; the Go build cache stays where it is). That
# more than halves the time per mutant. The mutants are in ssmirror's code,
# which the store tests check the same way on each server; CI runs the
# whole matrix.
if [ -z "${ALL_SERVERS:-}" ] && [ -z "${REPORT_ONLY:-}" ]; then
	GOCACHE=$(go env GOCACHE)
	export GOCACHE
	if [ -z "${SSMIRROR_VERSITYGW:-}" ] && [ -x "${XDG_CACHE_HOME:-$HOME/.cache}/ssmirror/bin/versitygw" ]; then
		export SSMIRROR_VERSITYGW="${XDG_CACHE_HOME:-$HOME/.cache}/ssmirror/bin/versitygw"
	fi
	XDG_CACHE_HOME=$(mktemp -d)
	export XDG_CACHE_HOME
	trap 'rm -rf "$XDG_CACHE_HOME"' EXIT
	unset SSMIRROR_MINIO SSMIRROR_WEED SSMIRROR_REQUIRE_SERVERS
fi

commit=$(git rev-parse --short HEAD) # gremlins copies the tree as it is when each package starts
[ -n "${REPORT_ONLY:-}" ] && commit="(logs in $OUT)"
out=${OUT:-/tmp/ssmirror-mutation}
mkdir -p "$out"
rows=()
for p in "${pkgs[@]}"; do
	name=${p#./}
	log="$out/${name//\//_}.txt"
	rc=0
	if [ -z "${REPORT_ONLY:-}" ]; then
		# gremlins mutates every file under the directory; the exclusion (a
		# regexp on the path relative to it) keeps it to the package itself,
		# so that each package is measured by its own tests.
		timeout "${PER_PKG_TIMEOUT:-3600}" "$bin" unleash --workers 1 --timeout-coefficient 10 -E '^[^/]+/' "$p" >"$log" 2>&1 || rc=$?
	elif [ ! -f "$log" ]; then
		rows+=("| $name | – | – | – | – | not run | – |")
		continue
	fi
	took=$(sed -n 's/^Mutation testing completed in //p' "$log")
	k=$(grep -c '^ *KILLED' "$log" || true)
	l=$(grep -c '^ *LIVED' "$log" || true)
	to=$(grep -c '^ *TIMED OUT' "$log" || true)
	nc=$(grep -c '^ *NOT COVERED' "$log" || true)
	if [ $((k + l)) -gt 0 ]; then
		eff=$(awk -v k="$k" -v l="$l" 'BEGIN { printf "%.1f %%", 100 * k / (k + l) }')
	else
		eff="–"
	fi
	note=""
	[ -z "$took" ] && note=" (incomplete)"
	[ "$rc" -eq 124 ] && note=" (stopped by the timeout: incomplete)"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && note=" (gremlins exit $rc)"
	rows+=("| $name | $k | $l | $to | $nc | $eff$note | ${took:-–} |")
	grep '^ *LIVED' "$log" | sed "s|^ *|$name: |" || true
done

echo
echo "$("$bin" --version 2>/dev/null | head -1), --workers 1 --timeout-coefficient 10, $(go version | cut -d' ' -f3), commit $commit"
echo
echo "| package | killed | lived | timed out | not covered | efficacy | time |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
