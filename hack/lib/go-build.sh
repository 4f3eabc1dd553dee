# Shared by hack/*/build.sh, sourced once the script has defined log and die and set out (the output directory),
# stamp_value (a hash of the build's inputs), binaries (their names) and label (what is built, for messages); result
# is what the script prints when it is done (default: out).
# Nothing here downloads anything but Go modules; nothing here needs Go until require_go.

# up_to_date: the stamp matches and every binary is there (a second run costs next to nothing and needs no Go).
up_to_date() {
  [ -f "$out/.stamp" ] && [ "$(head -n1 "$out/.stamp")" = "$stamp_value" ] || return 1
  local b
  for b in "${binaries[@]}"; do [ -x "$out/$b" ] || return 1; done
}

# reuse: prints the result (the scripts' last line of stdout) and exits 0.
reuse() {
  log "$label is up to date in $out"
  echo "${result:-$out}"
  exit 0
}

# require_go WHAT ALTERNATIVE: puts Go on PATH, checks it against go.mod's go directive, and keeps Go from
# downloading a toolchain or rewriting go.mod/go.sum. Sets go_version.
require_go() {
  local what="$1" alternative="$2" need_go
  if ! command -v go >/dev/null 2>&1; then
    if [ -x /usr/local/go/bin/go ]; then
      export PATH="/usr/local/go/bin:$PATH"
    else
      die "Go 1.26 or newer is required to build $what: install it from https://go.dev/dl/ (or $alternative) and run again."
    fi
  fi
  go_version="$(go env GOVERSION 2>/dev/null || true)"
  need_go="$(awk '$1=="go"{print $2; exit}' go.mod)"
  if [ "$(printf '%s\n%s\n' "$need_go" "${go_version#go}" | sort -V | head -n1)" != "$need_go" ]; then
    die "Go ${need_go} or newer is required to build $what but '$(command -v go)' is ${go_version:-unknown}: install a newer Go from https://go.dev/dl/ (or $alternative) and run again."
  fi
  export GOTOOLCHAIN=local
  export GOFLAGS="${GOFLAGS:-} -mod=readonly"
  export CGO_ENABLED=0
}

# lock_build OUT FORCE: one build at a time per output directory (a test run and a person may ask at once); a build
# that finished while this one waited is reused.
lock_build() {
  local out="$1" force="$2"
  mkdir -p "$out"
  exec 9>"$out/.lock"
  if command -v flock >/dev/null 2>&1; then
    if ! flock -n 9; then
      log "another build is running; waiting for it"
      flock 9
    fi
    if [ "$force" != "1" ] && up_to_date; then reuse; fi
  fi
}

# build_binary LABEL OUTPUT PACKAGE [go build flags...]: one go build with a progress line a minute while the
# compiler runs (a cold build takes minutes and would otherwise look hung).
build_binary() {
  local label="$1" output="$2" pkg="$3" start=$SECONDS ticker
  shift 3
  log "building $label ..."
  # The ticker must not inherit the build lock (fd 9): a killed build would otherwise hold it for a minute.
  ( while sleep 60; do log "  ... still building ${label%% *} ($((SECONDS - start))s)"; done ) 9>&- &
  ticker=$!
  if ! go build -trimpath "$@" -o "$output" "$pkg"; then
    kill "$ticker" 2>/dev/null || true
    die "go build of ${label%% *} failed (see the compiler output above)."
  fi
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  log "built ${label%% *} in $((SECONDS - start))s"
}
