#!/bin/sh
#
# The benchmarks: bench/run.sh [scenario...]   (none: DEFAULT_SCENARIOS)
#
# `./build.sh bench [scenario...]` builds the module first and exports
# NGINX_BIN and OAUTH2_MODULE_SO; run directly, this script uses Debian's
# nginx and the module at .build/nginx/objs/ (override both through the
# environment).
#
# Every scenario prints a Markdown report on stdout and keeps a copy in
# bench/out/<scenario>-<time>.md and bench/out/<scenario>-latest.md.
#
# Environment (all scenarios): BENCH_RUNS (5: runs of each condition,
# alternating), BENCH_DURATION (2: seconds per wrk run),
# BENCH_WRK_THREADS (1), BENCH_WRK_CONNECTIONS (8), BENCH_PIN (1 with two
# CPUs or more: the nginx worker on CPU 0, wrk on the last one),
# BENCH_NGINX_PORT (2086), BENCH_FAKE_PORT (2090).

# the scenario_* functions are called by name, through "$fn"
# shellcheck disable=SC2317

set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)

: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${OAUTH2_MODULE_SO:=$ROOT/.build/nginx/objs/ngx_http_oauth2_module.so}"
: "${E2E_SERVROOT:=$ROOT/bench/out/servroot}"
export NGINX_BIN OAUTH2_MODULE_SO E2E_SERVROOT


# ------------------------------------------------------------ scenarios
#
# One function per scenario, named scenario_<name> (dashes become
# underscores), with a one-line description in SCENARIOS.  `bench/run.sh`
# without arguments runs DEFAULT_SCENARIOS in order.

SCENARIOS="
latency            plain-location latency (p50/p99) with and without 50 logins waiting on a slow provider (discovery and token endpoint)
latency-discovery  the same, only logins waiting on discovery
latency-token      the same, only callbacks waiting on the token endpoint
hotpath            a valid session's cost: throughput vs unprotected and vs Apache mod_auth_openidc, cookie sizes, instructions per request, CPU per login, worker memory (bench/hotpath.sh, ~12 min)
hotpath-throughput only the throughput part (and the cookie sizes)
hotpath-callgrind  only the instructions per request (callgrind)
fleet              oauth2_redis: hot-path ratio with and without it, with session_store redis and the Redis round trip, revocation propagation p50/p99 across three hosts (bench/fleet.js; redis-server)
bearer             an API caller's bearer token: throughput with a repeated JWT vs plain nginx, CPU of a first-seen JWT, introspection calls per 10,000 requests with 100 opaque tokens
"

DEFAULT_SCENARIOS="latency hotpath"

scenario_latency() {
    node "$ROOT/bench/latency.js" --wait discovery,token
}

scenario_latency_discovery() {
    node "$ROOT/bench/latency.js" --wait discovery
}

scenario_latency_token() {
    node "$ROOT/bench/latency.js" --wait token
}

scenario_hotpath() {
    sh "$ROOT/bench/hotpath.sh"
}

scenario_hotpath_throughput() {
    sh "$ROOT/bench/hotpath.sh" throughput
}

scenario_hotpath_callgrind() {
    sh "$ROOT/bench/hotpath.sh" callgrind
}

scenario_fleet() {
    node "$ROOT/bench/fleet.js"
}

scenario_bearer() {
    node "$ROOT/bench/bearer.js"
}

# ------------------------------------------------------------ driver

say() {
    printf '%s\n' "bench: $*" >&2
}

usage() {
    echo "usage: bench/run.sh [scenario...]"
    echo
    echo "scenarios (default: $DEFAULT_SCENARIOS):"
    printf '%s\n' "$SCENARIOS" | sed '/^$/d; s/^/  /'
}

known() {
    printf '%s\n' "$SCENARIOS" | awk '{ print $1 }' | grep -qx -- "$1"
}

check_tools() {
    command -v node >/dev/null 2>&1 || { say "node not found"; exit 1; }
    command -v "${WRK_BIN:-wrk}" >/dev/null 2>&1 \
        || { say "wrk not found (apt-get install wrk)"; exit 1; }
    [ -x "$NGINX_BIN" ] || { say "NGINX_BIN=$NGINX_BIN is not executable"; exit 1; }
    [ -f "$OAUTH2_MODULE_SO" ] || {
        say "the module is not built: $OAUTH2_MODULE_SO (./build.sh bench builds it)"
        exit 1
    }
}

case ${1:-} in
-h|--help|help)
    usage
    exit 0
    ;;
esac

if [ $# -eq 0 ]; then
    # shellcheck disable=SC2086
    set -- $DEFAULT_SCENARIOS
fi

for s in "$@"; do
    known "$s" || { say "unknown scenario: $s"; usage >&2; exit 2; }
done

check_tools

status=0
for s in "$@"; do
    say "scenario $s (nginx $NGINX_BIN, module $OAUTH2_MODULE_SO)"
    fn=scenario_$(printf '%s' "$s" | tr '-' '_')
    "$fn" || { status=$?; say "scenario $s FAILED"; }
done

exit $status
