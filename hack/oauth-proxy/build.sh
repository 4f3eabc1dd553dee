#!/usr/bin/env bash
# Builds github.com/openshift/oauth-proxy (the report pod's proxy sidecar, for the integration tests) from the Go
# module pinned in this directory's go.mod, into
#   ${MUSTGATHER_CACHE:-$HOME/.cache/mustgather}/oauth-proxy/<version>/oauth-proxy
# and reuses it: a stamp holding a hash of go.mod, go.sum and this script makes a second run cost next to nothing
# (and needs no Go). Nothing is downloaded except Go modules (through the configured GOPROXY). Prints the binary's
# path as the last line of stdout; progress goes to stderr.
#
# oauth-proxy's root package is a main package, so it cannot be imported by a wrapper main: this module requires
# it (a `tool` directive) and `go build github.com/openshift/oauth-proxy` builds it with this module's go.sum.
#
# Environment:
#   MUSTGATHER_CACHE         cache root (default $HOME/.cache/mustgather)
#   OAUTH_PROXY_BUILD_JOBS   parallel compile jobs (default: number of CPUs)
#   OAUTH_PROXY_FORCE=1      rebuild even when the stamp matches
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

log() { printf '[oauth-proxy:build] %s\n' "$*" >&2; }
die() { printf '[oauth-proxy:build] error: %s\n' "$*" >&2; exit 1; }

module=github.com/openshift/oauth-proxy
# --- version, cache dir, stamp (no Go needed to reuse a build) --------------------------------------
version="$(awk -v m="$module" '($1==m){print $2; exit} ($1=="require" && $2==m){print $3; exit}' go.mod)"
[ -n "$version" ] || die "cannot find $module in $here/go.mod."
cache_root="${MUSTGATHER_CACHE:-$HOME/.cache/mustgather}"
out="$cache_root/oauth-proxy/$version"
binary="$out/oauth-proxy"

stamp_value="$(cat go.mod go.sum build.sh ../lib/go-build.sh | sha256sum | cut -d' ' -f1)"

binaries=(oauth-proxy)
label="oauth-proxy $version"
result="$binary"
source "$here/../lib/go-build.sh"
if [ "${OAUTH_PROXY_FORCE:-0}" != "1" ] && up_to_date; then reuse; fi

# --- Go toolchain ---------------------------------------------------------------------------------
require_go "oauth-proxy $version" "set OAUTH_PROXY_BINARY to an oauth-proxy binary"

lock_build "$out" "${OAUTH_PROXY_FORCE:-0}"

# --- modules -------------------------------------------------------------------------------------
log "Go $go_version; fetching modules for $module $version (GOPROXY=$(go env GOPROXY))"
# oauth-proxy itself first: its failure is the one worth a precise sentence.
if ! dl_err="$(go mod download "$module" 2>&1)"; then
  printf '%s\n' "$dl_err" | tail -n 5 >&2
  if printf '%s' "$dl_err" | grep -q '403 Forbidden\|not available\|410 Gone\|404 Not Found'; then
    die "the Go module proxy ($(go env GOPROXY)) refuses to serve $module@$version (see its answer above): point GOPROXY at a proxy that serves it, or fill the module cache ($(go env GOMODCACHE)) on a machine that can, or set OAUTH_PROXY_BINARY to an oauth-proxy binary, and run again."
  fi
  die "cannot download $module@$version: make the Go module proxy ($(go env GOPROXY)) reachable, or fill the module cache ($(go env GOMODCACHE)) on a machine that can, or set OAUTH_PROXY_BINARY to an oauth-proxy binary, and run again."
fi
if ! dl_err="$(go mod download 2>&1)"; then
  printf '%s\n' "$dl_err" | tail -n 5 >&2
  die "cannot download the Go modules oauth-proxy needs: make the Go module proxy ($(go env GOPROXY)) reachable, or fill the module cache ($(go env GOMODCACHE)) on a machine that can, and run again."
fi

# --- build ---------------------------------------------------------------------------------------
cpus="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"
jobs="${OAUTH_PROXY_BUILD_JOBS:-$cpus}"
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
log "building oauth-proxy $version (-p $jobs) ..."
( while sleep 60; do log "  ... still building oauth-proxy ($((SECONDS - start))s)"; done ) &
ticker=$!
if ! go build -trimpath -p "$jobs" -ldflags "-s -w" -o "$tmp/oauth-proxy" "$module"; then
  kill "$ticker" 2>/dev/null || true
  die "go build of $module@$version failed (see the compiler output above)."
fi
kill "$ticker" 2>/dev/null || true
wait "$ticker" 2>/dev/null || true
mv -f "$tmp/oauth-proxy" "$binary"
printf '%s\n%s\n' "$stamp_value" "$go_version" >"$out/.stamp"
log "built oauth-proxy $version in $((SECONDS - start))s: $binary"
echo "$binary"
