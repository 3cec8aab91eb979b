#!/bin/sh
# Runs one case of ../shared/attacks under Palisade with the policy its README asks for
# (step 7): workspace writable, the canary secret dir hidden, the allowed canary host (by
# name, on its ports) the only network target, the harness's non-secret variables passed.
# Usage: wrap.sh INTERPRETER CASE-SCRIPT  (PALISADE names the binary)
set -eu
: "${PALISADE:?set PALISADE to the palisade binary}"
interp=$1
script=$2
shift 2
case_name=$(basename "$script")

set -- --workspace "$WORKSPACE" --deny-read "$CANARY_SECRET_DIR"
# Case 04 plants symlinks and names them in the policy; every other case runs without them,
# because Palisade refuses (exit 125) a policy path that leads out of the workspace.
case "$case_name" in
  04-*) set -- --allow-write "$POLICY_RW_LINK" --deny-read "$POLICY_DENY_UNDER_LINK" "$@" ;;
esac
for v in WORKSPACE HOME CANARY_SECRET CANARY_SECRET_DIR CANARY_OUTSIDE_DIR CANARY_HOST_TMP \
  CANARY_HOST_SHM POLICY_RW_LINK POLICY_DENY_UNDER_LINK CANARY_VICTIM_PID CANARY_VICTIM_MARKER \
  CANARY_KEY_DESC ALLOWED_URL DENIED_URL ALLOWED_TLS_PORT DNS_CANARY_DOMAIN DNS_CANARY_ADDR \
  DNS_CANARY_SERVER CANARY_ABSTRACT_SOCKET CANARY_UNIX_SOCKET FORKBOMB_MAX MEMBOMB_MAX_MB \
  DISKFILL_MAX_MB DISKFILL_DIR RESOURCE_TIMEOUT_S SBX_NET_TIMEOUT; do
  eval "isset=\${$v+x}"
  [ -n "$isset" ] && set -- --env "$v" "$@"
done
if [ -n "${ALLOWED_URL:-}" ]; then
  hostport=${ALLOWED_URL#http://}
  hostport=${hostport%%/*}
  host=${hostport%:*}
  port=${hostport##*:}
  set -- --allow-domain "$host:$port" --resolve "$host:127.0.0.1" --allow-cidr 127.0.0.0/8 "$@"
  [ -n "${ALLOWED_TLS_PORT:-}" ] && set -- --allow-domain "$host:$ALLOWED_TLS_PORT" "$@"
fi
if [ -n "${DENIED_URL:-}" ]; then
  dh=${DENIED_URL#http://}
  dh=${dh%%/*}
  set -- --resolve "${dh%:*}:127.0.0.1" "$@"
fi
case "$case_name" in
  33-*|34-*|35-*)
    set -- --pids 256 --memory 512M --tmp-size 64M "$@"
    # An unprivileged caller cannot write a cgroup v1 hierarchy: memory then falls back to a
    # per-process RLIMIT_AS, which Palisade only does when asked and says so on stderr.
    [ "$(id -u)" = 0 ] || set -- --best-effort-limits "$@"
    ;;
esac
exec "$PALISADE" run --quiet "$@" -- "$interp" "$script"
