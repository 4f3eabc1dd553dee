#!/usr/bin/env bash
# Builds containerd 2.x (containerd, containerd-shim-runc-v2, ctr) for the local development node from the Go module
# pinned in this directory's go.mod (as `tool` entries), into
#   ${MUSTGATHER_CACHE:-$HOME/.cache/mustgather}/node/containerd-<version>/
# and reuses it while the stamp (go.mod, go.sum, this script) matches. Nothing is downloaded but Go modules.
# runc and the CNI plugins come from Debian's packages (hack/node/packages.sh). Prints the binary directory last.
#
# Environment: MUSTGATHER_CACHE, NODE_BUILD_JOBS (parallel compile jobs), NODE_BUILD_FORCE=1 (rebuild).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

log() { printf '[node:build] %s\n' "$*" >&2; }
die() { printf '[node:build] error: %s\n' "$*" >&2; exit 1; }

module=github.com/containerd/containerd/v2
version="$(awk -v m="$module" '$1==m{print $2; exit}' go.mod)"
[ -n "$version" ] || die "cannot find $module in $here/go.mod."
out="${MUSTGATHER_CACHE:-$HOME/.cache/mustgather}/node/containerd-$version"
binaries=(containerd containerd-shim-runc-v2 ctr)
stamp_value="$(cat go.mod go.sum build.sh ../lib/go-build.sh | sha256sum | cut -d' ' -f1)"

label="containerd $version"
source "$here/../lib/go-build.sh"
if [ "${NODE_BUILD_FORCE:-0}" != "1" ] && up_to_date; then reuse; fi

require_go "containerd $version" "put containerd 2.x binaries in $out"
lock_build "$out" "${NODE_BUILD_FORCE:-0}"

log "Go $go_version; fetching modules for containerd $version (GOPROXY=$(go env GOPROXY))"
go mod download >/dev/null 2>&1 || die "cannot download the Go modules for containerd $version through $(go env GOPROXY)."

jobs="${NODE_BUILD_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}"
# Static, no cgo: the snapshotters that need cgo or kernel features this node does not use are left out.
tags="no_btrfs,no_zfs,no_devmapper"
ldflags="-s -w -X $module/version.Version=$version -X $module/version.Revision=module-$version"
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
for b in "${binaries[@]}"; do
  build_binary "$b ($version, -p $jobs)" "$tmp/$b" "$module/cmd/$b" -p "$jobs" -tags "$tags" -ldflags "$ldflags"
  mv -f "$tmp/$b" "$out/$b"
done
printf '%s\n%s\n' "$stamp_value" "$go_version" >"$out/.stamp"
echo "$out"
