/**
 * The wrapper each gather init container runs around a must-gather image's gather command:
 * `["/bin/bash", "-c", GATHER_SCRIPT, "mustgather-gather", ...gatherCommand]`. The image is the user's, so the script
 * needs nothing but bash and coreutils. It does what `oc adm must-gather` does around a gather (a `timestamp` file and
 * `gather.log` beside the data, the timeout, the volume usage checker) and, unlike it, always exits 0 once it has
 * recorded the outcome: with `restartPolicy: Never` a failing init container fails the pod, and the other images' data
 * with it.
 *
 * The outcome is one JSON line, a {@link GatherResult}, written to the termination log (the reconciler reads it with
 * {@link parseGatherResult}) and to `gather-result.json` beside the data (the archive step aggregates those):
 *
 *     {"index":1,"image":"quay.io/x/must-gather","state":"Failed","exitCode":3,"startedAt":"2024-01-01T10:00:00Z",
 *      "finishedAt":"2024-01-01T10:03:00Z","message":"the gather exited with code 3; last output: ..."}
 *
 * It stays under 3.5 KiB after escaping (the kubelet keeps 4096 bytes of a termination message): `image` keeps 512
 * bytes, `message` 1000, and bytes that are not printable ASCII become "?", so it is valid JSON whatever the gather
 * printed.
 *
 * Environment, from the chart: MUST_GATHER_IMAGE, MUST_GATHER_INDEX, MUST_GATHER_TIMEOUT_SECONDS,
 * MUST_GATHER_VOLUME_PERCENTAGE, MUST_GATHER_SINCE (exported to the gather only when not empty), NODE_NAME, POD_NAME.
 * Overrides for tests: MUST_GATHER_OUTPUT (default /must-gather), MUST_GATHER_TERMINATION_LOG (default
 * /dev/termination-log), MUST_GATHER_CHECK_INTERVAL_SECONDS (volume check period, default 1),
 * MUST_GATHER_KILL_GRACE_SECONDS (SIGTERM to SIGKILL, default 10), MUST_GATHER_DF (the df command, default df).
 */
export const GATHER_SCRIPT = `# mustgather-gather: runs one must-gather image's gather command in the report pod; see constructs/gather-script.ts.
set -u
out=\${MUST_GATHER_OUTPUT:-/must-gather}
termination_log=\${MUST_GATHER_TERMINATION_LOG:-/dev/termination-log}
timeout_seconds=\${MUST_GATHER_TIMEOUT_SECONDS:-600}
volume_percentage=\${MUST_GATHER_VOLUME_PERCENTAGE:-70}
check_interval=\${MUST_GATHER_CHECK_INTERVAL_SECONDS:-1}
kill_grace=\${MUST_GATHER_KILL_GRACE_SECONDS:-10}
df_command=\${MUST_GATHER_DF:-df}
index=\${MUST_GATHER_INDEX:-0}
[[ $index =~ ^[0-9]+$ ]] || index=0
(( $# > 0 )) || set -- /usr/bin/gather
log=$out/gather.log

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
# The timestamp file oc writes beside the data: start and end, one line each, in Go's time format.
stamp() { date -u '+%Y-%m-%d %H:%M:%S.%N +0000 UTC' >> "$out/timestamp"; }
say() { printf '[mustgather-gather] %s\\n' "$*" | tee -a "$log" >&2; }
# A JSON string literal of at most $2 bytes of $1: non-printable and non-ASCII bytes become "?" so the result is
# valid JSON whatever the gather printed, and its size is bounded (the termination message holds 4096 bytes).
json_string() {
  local s
  s=$(printf '%s' "$1" | LC_ALL=C tr -c '\\t\\n\\r -~' '?' | head -c "$2")
  s=\${s//\\\\/\\\\\\\\}; s=\${s//\\"/\\\\\\"}; s=\${s//$'\\t'/\\\\t}; s=\${s//$'\\n'/\\\\n}; s=\${s//$'\\r'/\\\\r}
  printf '"%s"' "$s"
}

mkdir -p "$out"
work=$(mktemp -d 2>/dev/null || mktemp -d -p "$out" .mustgather-gather.XXXXXX)
started_at=$(now)
start_epoch=$(date +%s)
stamp
if [[ -n \${MUST_GATHER_SINCE:-} ]]; then export MUST_GATHER_SINCE; else unset MUST_GATHER_SINCE; fi
say "running $* (image \${MUST_GATHER_IMAGE:-unknown}, timeout \${timeout_seconds}s, volume limit \${volume_percentage}%)"

# The gather runs under timeout(1), which makes it the leader of its own process group: the guard and the clean-up
# below stop the gather and everything it started by signalling that group. Its output reaches the container log and
# gather.log through a FIFO read by tee, which outlives the group.
# A gather can fill the volume between two looks of the guard (a fast writer does it in a second). The reserve, a
# file written now and deleted as soon as the gather ends, keeps room for what must come after: this gather's
# result and the archive of everything. It counts towards the volume percentage: (100 - limit) / 4 percent of the
# volume, at most 256 MiB, so the limit still leaves the archive most of the rest.
reserve=$out/.mustgather-reserve
reserve_fields=($("$df_command" -P "$out" 2> /dev/null | tail -n 1))
reserve_kib=$(( \${reserve_fields[1]:-0} * (100 - volume_percentage) / 400 ))
(( reserve_kib <= 262144 )) || reserve_kib=262144
(( reserve_kib <= 0 )) || head -c "$(( reserve_kib * 1024 ))" /dev/zero > "$reserve" 2> /dev/null || true

mkfifo "$work/output"
tee -a "$log" < "$work/output" &
tee_pid=$!
timeout --kill-after="\${kill_grace}s" "\${timeout_seconds}s" "$@" > "$work/output" 2>&1 &
gather_pid=$!

# The volume guard (oc's volume usage checker): stops the gather once the volume is volume_percentage full, so the
# archive still fits and the data so far is kept.
guard() {
  local -a fields
  local used
  set -f
  while sleep "$check_interval" < /dev/null > /dev/null 2>&1; do
    fields=($("$df_command" -P "$out" 2> /dev/null | tail -n 1))
    used=\${fields[4]:-}
    used=\${used%\\%}
    [[ $used =~ ^[0-9]+$ ]] && (( used >= volume_percentage )) || continue
    printf 'the volume was %s%% full (limit %s%%)' "$used" "$volume_percentage" > "$work/volume-full"
    say "the volume is \${used}% full (limit \${volume_percentage}%): stopping the gather"
    kill -TERM -- "-$gather_pid" 2> /dev/null
    sleep "$kill_grace" < /dev/null > /dev/null 2>&1
    kill -KILL -- "-$gather_pid" 2> /dev/null
    return
  done
}
guard &
guard_pid=$!

wait "$gather_pid" 2> /dev/null
status=$?
rm -f "$reserve"
kill "$guard_pid" 2> /dev/null
wait "$guard_pid" 2> /dev/null
# Whatever the gather left running would hold the FIFO open; the container's end would kill it anyway.
kill -KILL -- "-$gather_pid" 2> /dev/null
( sleep 10 < /dev/null > /dev/null 2>&1; kill "$tee_pid" 2> /dev/null ) &
watchdog_pid=$!
wait "$tee_pid"
kill "$watchdog_pid" 2> /dev/null

finished_at=$(now)
elapsed=$(( $(date +%s) - start_epoch ))
if [[ -s $work/volume-full ]]; then
  state=VolumeFull
  message="$(< "$work/volume-full"): the gather was stopped, its data so far is kept"
elif (( status == 124 || (status == 137 && elapsed >= timeout_seconds) )); then
  state=TimedOut
  message="the gather was stopped after the \${timeout_seconds}s timeout, its data so far is kept"
elif (( status == 0 )); then
  state=Succeeded
  message="the gather completed"
else
  state=Failed
  case $status in
    126) message="the gather command $1 is not executable" ;;
    127) message="the gather command $1 was not found" ;;
    *) message="the gather exited with code $status" ;;
  esac
  message="$message; last output: $(tail -n 3 "$log" 2> /dev/null | tail -c 600)"
fi
result="{\\"index\\":$index,\\"image\\":$(json_string "\${MUST_GATHER_IMAGE:-}" 512),\\"state\\":\\"$state\\",\\"exitCode\\":$status,\\"startedAt\\":\\"$started_at\\",\\"finishedAt\\":\\"$finished_at\\",\\"message\\":$(json_string "$message" 1000)}"
say "result: $state (exit code $status) after \${elapsed}s"
printf '%s\\n' "$result" > "$out/gather-result.json"
{ printf '%s' "$result" > "$termination_log"; } 2> /dev/null
stamp
rm -rf "$work"
exit 0
`;
