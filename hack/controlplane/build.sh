#!/usr/bin/env bash
# Builds a local Kubernetes cluster (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubectl, etcd)
# from published Go modules pinned in this directory's go.mod, into
#   ${MUSTGATHER_CACHE:-$HOME/.cache/mustgather}/controlplane/<k8s-version>/
# and reuses them: a stamp holding a hash of go.mod, go.sum, the mains and this script makes a second
# run cost next to nothing (and needs no Go). Nothing is downloaded except Go modules
# (through the configured GOPROXY). Prints the binary directory as the last line of stdout.
#
# Environment:
#   MUSTGATHER_CACHE         cache root (default $HOME/.cache/mustgather)
#   CONTROLPLANE_BUILD_JOBS  parallel compile jobs (default: number of CPUs, at most 2 on small machines)
#   CONTROLPLANE_FORCE=1     rebuild even when the stamp matches
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

log() { printf '[controlplane:build] %s\n' "$*" >&2; }
die() { printf '[controlplane:build] error: %s\n' "$*" >&2; exit 1; }

# --- versions, cache dir, stamp (no Go needed to reuse a build) -------------------------------------
k8s_version="$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' go.mod)"
[ -n "$k8s_version" ] || die "cannot find k8s.io/kubernetes in $here/go.mod."
k8s_major="$(echo "${k8s_version#v}" | cut -d. -f1)"
k8s_minor="$(echo "${k8s_version#v}" | cut -d. -f2)"
cache_root="${MUSTGATHER_CACHE:-$HOME/.cache/mustgather}"
out="$cache_root/controlplane/$k8s_version"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl etcd)

stamp_value="$( { cat go.mod go.sum build.sh ../lib/go-build.sh; for b in "${binaries[@]}"; do cat "cmd/$b/main.go"; done; } | sha256sum | cut -d' ' -f1)"

label="Kubernetes $k8s_version"
source "$here/../lib/go-build.sh"
if [ "${CONTROLPLANE_FORCE:-0}" != "1" ] && up_to_date; then reuse; fi

# --- Go toolchain ---------------------------------------------------------------------------------
require_go "Kubernetes $k8s_version" "point KUBEBUILDER_ASSETS at a directory holding kube-apiserver and etcd"

lock_build "$out" "${CONTROLPLANE_FORCE:-0}"

# --- modules -------------------------------------------------------------------------------------
log "Go $go_version; fetching modules for Kubernetes $k8s_version (GOPROXY=$(go env GOPROXY))"
if ! dl_err="$(go mod download 2>&1)"; then
  printf '%s\n' "$dl_err" | tail -n 5 >&2
  die "cannot download the Go modules: make the Go module proxy ($(go env GOPROXY)) reachable, or fill the module cache ($(go env GOMODCACHE)) on a machine that can, and run again."
fi

# --- build ---------------------------------------------------------------------------------------
cpus="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"
jobs="${CONTROLPLANE_BUILD_JOBS:-$cpus}"
build_date="$(go list -m -f '{{if .Time}}{{.Time.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes 2>/dev/null || true)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$k8s_major -X $pkg.gitMinor=$k8s_minor"
  # No commit hash: the module proxy does not tell it (an empty value beats the "$Format:%H$" placeholder).
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit="
  [ -n "$build_date" ] && ldflags+=" -X $pkg.buildDate=$build_date"
done
etcd_version="$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
ldflags+=" -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$etcd_version"

tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
total_start=$SECONDS
for b in "${binaries[@]}"; do
  build_binary "$b ($k8s_version, etcd $etcd_version, -p $jobs)" "$tmp/$b" "./cmd/$b" -p "$jobs" -ldflags "$ldflags"
  mv -f "$tmp/$b" "$out/$b"
done
printf '%s\n%s\n' "$stamp_value" "$go_version" >"$out/.stamp"
log "all binaries ready in $out ($((SECONDS - total_start))s)"
echo "$out"
